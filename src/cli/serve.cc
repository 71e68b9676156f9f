#include <boost/asio/io_context.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/run_loop.h"
#include "cli/runtime.h"
#include "common/log.h"
#include "config/config_loader.h"

namespace relay::cli {
namespace {

struct ServeOptions {
  std::string config_path;
  std::string listen;
  std::string store_url;
  std::string port_file;
  std::string admin_port_file;
  LogOptions log;
};

// Loads the file, or the environment in zero-config mode, with serve's checks; prints every
// problem at once. Nothing is created before this has passed.
std::optional<config::Config> LoadOrExplain(const ServeOptions& opt) {
  const config::LoadOptions load{.for_serve = true, .listen = opt.listen, .store_url = opt.store_url};
  const std::string path = config::ConfigPath(opt.config_path, config::ProcessEnv());
  StatusOr<config::Config> c = config::LoadConfig(path, config::ProcessEnv(), load);
  if (!c.ok()) {
    std::cerr << "error: " << c.status().message() << "\n";
    if (path.empty()) std::cerr << "(pass --config FILE, or set the variables above)\n";
    return std::nullopt;
  }
  return std::move(c).value();
}

int Serve(const ServeOptions& opt) {
  if (!ApplyLogOptions(opt.log)) return kExitUsage;
  std::optional<config::Config> loaded = LoadOrExplain(opt);
  if (!loaded) return kExitFailure;
  config::Config& cfg = *loaded;
  for (const std::string& w : cfg.warnings) log::Warn(w);
  if (cfg.dbt.webhook_secrets.empty()) {
    log::Warn("dbt.allow_unsigned is set and no webhook secret is configured: ANY caller can trigger syncs");
  }
  boost::asio::io_context ioc(cfg.server.io_threads);
  SignalLoop signals(ioc);  // before the port file: a SIGTERM from then on exits cleanly
  auto rt = RelayRuntime::Create(cfg, ioc);
  if (!rt.ok()) {
    std::cerr << "error: " << rt.status().message() << "\n";
    return kExitFailure;
  }
  if (!opt.port_file.empty() && !WritePortFile(opt.port_file, (*rt)->port())) {
    std::cerr << "error: cannot write --port-file " << opt.port_file << "\n";
    return kExitFailure;
  }
  if (!opt.admin_port_file.empty() && (*rt)->admin_port() != 0 &&
      !WritePortFile(opt.admin_port_file, (*rt)->admin_port())) {
    std::cerr << "error: cannot write --admin-port-file " << opt.admin_port_file << "\n";
    return kExitFailure;
  }
  (*rt)->Start();
  log::Info("retl-relay serving", {{"listen", cfg.server.listen}, {"port", std::to_string((*rt)->port())},
                                   {"store", config::RedactedStoreUrl(cfg.store.url)}, {"api_base", config::ApiBase(cfg.rudderstack)},
                                   {"routes", std::to_string(cfg.routes.size())}, {"config", cfg.source},
                                   {"admin_api", cfg.admin.token.empty() ? "off" : "on"},
                                   {"admin_listen", cfg.admin.listen.empty() ? "(server.listen)" : cfg.admin.listen},
                                   {"admin_port", std::to_string((*rt)->admin_port())}});
  signals.Run((*rt)->servers(), cfg.server.io_threads, cfg.server.shutdown_timeout);
  (*rt)->Shutdown();
  log::Info("retl-relay stopped");
  return kExitOk;
}

}  // namespace

Runner SetupServe(CLI::App& app) {
  auto opt = std::make_shared<ServeOptions>();
  app.add_option("-c,--config", opt->config_path,
                 kConfigHelp);
  app.add_option("--listen", opt->listen, "host:port to listen on (overrides server.listen; port 0 = any)");
  app.add_option("--store", opt->store_url, "store URL (overrides store.url), e.g. sqlite:///var/lib/retl-relay/relay.db");
  app.add_option("--port-file", opt->port_file, "write the bound port to this file once listening");
  app.add_option("--admin-port-file", opt->admin_port_file, "write the admin listener's port (admin.listen) to this file");
  AddLogOptions(app, opt->log);
  return [opt] { return Serve(*opt); };
}

}  // namespace relay::cli
