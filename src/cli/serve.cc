#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <iostream>
#include <random>

#include "cli/commands.h"
#include "cli/run_loop.h"
#include "common/log.h"
#include "config/config_loader.h"
#include "dispatch/dispatcher.h"
#include "http/webhook_handler.h"
#include "rudderstack/http_client.h"
#include "store/store.h"

namespace relay::cli {
namespace {

struct ServeOptions {
  std::string config_path;
  std::string listen;
  std::string port_file;
  LogOptions log;
};

// Loads the file, or the environment in zero-config mode; prints every problem.
std::optional<config::Config> LoadOrExplain(const std::string& path) {
  StatusOr<config::Config> c = path.empty() ? config::ConfigFromEnvironment(config::ProcessEnv())
                                            : config::LoadConfigFile(path, config::ProcessEnv());
  if (!c.ok()) {
    std::cerr << "error: " << c.status().message() << "\n";
    if (path.empty()) std::cerr << "(pass --config FILE, or set the variables above)\n";
    return std::nullopt;
  }
  return std::move(c).value();
}

std::string InstanceId() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::random_device rd;
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + std::to_string(rd() % 100000);
}

int Serve(const ServeOptions& opt) {
  if (!ApplyLogOptions(opt.log)) return kExitUsage;
  std::optional<config::Config> loaded = LoadOrExplain(opt.config_path);
  if (!loaded) return kExitFailure;
  config::Config& cfg = *loaded;
  if (!opt.listen.empty()) cfg.server.listen = opt.listen;
  std::vector<std::string> problems = config::ServeProblems(cfg);
  for (const std::string& p : problems) std::cerr << "error: " << p << "\n";
  if (!problems.empty()) return kExitFailure;
  if (cfg.dbt.webhook_secrets.empty()) {
    log::Warn("dbt.allow_unsigned is set and no webhook secret is configured: ANY caller can trigger syncs");
  }

  StatusOr<std::unique_ptr<store::Store>> store = store::OpenStore(cfg.store.url);
  if (!store.ok()) {
    std::cerr << "error: store: " << store.status().message() << "\n";
    return kExitFailure;
  }
  std::unique_ptr<rudderstack::Client> client = rudderstack::NewHttpClient(
      {config::ApiBase(cfg.rudderstack), cfg.rudderstack.token, cfg.rudderstack.connect_timeout,
       cfg.rudderstack.request_timeout});
  SystemClock clock;
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  dispatch::Dispatcher dispatcher(**store, *client, clock, cfg.dispatch, InstanceId(), [&] { return unit(rng); });

  boost::asio::io_context ioc(cfg.server.io_threads);
  http::WebhookHandler handler(cfg, **store, clock, [&dispatcher] { dispatcher.Notify(); });
  http::Server server(ioc,
                      {cfg.server.max_body_bytes, cfg.server.header_timeout, cfg.server.body_timeout,
                       cfg.server.idle_timeout, 10000},
                      [&handler](http::Request&& r) { return handler.Handle(std::move(r)); });
  StatusOr<uint16_t> port = server.Listen(cfg.server.listen);
  if (!port.ok()) {
    std::cerr << "error: server.listen: " << port.status().message() << "\n";
    return kExitFailure;
  }
  if (!opt.port_file.empty() && !WritePortFile(opt.port_file, *port)) {
    std::cerr << "error: cannot write --port-file " << opt.port_file << "\n";
    return kExitFailure;
  }
  dispatcher.Start();
  server.Start();
  log::Info("retl-relay serving", {{"listen", cfg.server.listen}, {"port", std::to_string(*port)},
                                   {"store", cfg.store.url}, {"api_base", config::ApiBase(cfg.rudderstack)},
                                   {"routes", std::to_string(cfg.routes.size())}, {"config", cfg.source}});
  RunUntilSignal(ioc, server, cfg.server.io_threads);
  dispatcher.Stop();
  // Drain the store while the io_context still exists: late commits post their answers to it.
  store->reset();
  log::Info("retl-relay stopped");
  return kExitOk;
}

}  // namespace

Runner SetupServe(CLI::App& app) {
  auto opt = std::make_shared<ServeOptions>();
  app.add_option("-c,--config", opt->config_path,
                 "TOML config file; without it, zero-config mode reads RUDDERSTACK_API_TOKEN, "
                 "RETL_CONNECTION_ID and DBT_WEBHOOK_SECRET from the environment");
  app.add_option("--listen", opt->listen, "host:port to listen on (overrides server.listen; port 0 = any)");
  app.add_option("--port-file", opt->port_file, "write the bound port to this file once listening");
  AddLogOptions(app, opt->log);
  return [opt] { return Serve(*opt); };
}

}  // namespace relay::cli
