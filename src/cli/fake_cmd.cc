#include <boost/asio/io_context.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/run_loop.h"
#include "common/log.h"
#include "config/config_loader.h"
#include "fake/fake_rudderstack.h"

namespace relay::cli {

int ServeFake(const char* name, const std::string& listen, const std::string& port_file, http::Handler handler) {
  boost::asio::io_context ioc(1);
  SignalLoop signals(ioc);  // before the port file: a SIGTERM from then on exits cleanly
  http::Server server(ioc, {}, std::move(handler));
  StatusOr<uint16_t> port = server.Listen(listen);
  if (!port.ok()) {
    std::cerr << "error: " << port.status().message() << "\n";
    return kExitFailure;
  }
  if (!port_file.empty() && !WritePortFile(port_file, *port)) {
    std::cerr << "error: cannot write --port-file " << port_file << "\n";
    return kExitFailure;
  }
  server.Start();
  log::Info(std::string(name) + " serving",
            {{"url", "http://" + listen.substr(0, listen.rfind(':')) + ":" + std::to_string(*port)}});
  signals.Run({&server}, 1);
  return kExitOk;
}

namespace {

struct FakeCmdOptions {
  std::string host = "127.0.0.1";
  std::string listen;  // wins over host and port
  int port = 0;
  std::string token;
  std::string sync_duration = "500ms";
  std::string outcome = "succeeded";
  std::string port_file;
  uint64_t seed = 1;
  std::vector<std::string> connections;
  LogOptions log;
};

int RunFake(const FakeCmdOptions& opt) {
  if (!ApplyLogOptions(opt.log)) return kExitUsage;
  StatusOr<Duration> duration = config::ParseDuration(opt.sync_duration);
  if (!duration.ok()) {
    std::cerr << "error: --sync-duration: " << duration.status().message() << "\n";
    return kExitUsage;
  }
  std::string token = opt.token;
  if (!token.empty()) {
    std::cerr << "warning: --token on the command line is visible in the process list; prefer RUDDERSTACK_API_TOKEN\n";
  } else {
    if (const char* v = std::getenv("RUDDERSTACK_API_TOKEN")) token = v;
  }
  if (token.empty()) {
    std::cerr << "error: the fake needs a token: set RUDDERSTACK_API_TOKEN (or --token)\n";
    return kExitUsage;
  }
  const std::string listen_host = opt.listen.empty() ? opt.host : opt.listen.substr(0, opt.listen.rfind(':'));
  if (listen_host != "127.0.0.1" && listen_host != "::1" && listen_host != "[::1]" && listen_host != "localhost") {
    log::Warn("fake-rudderstack listening beyond loopback", {{"host", listen_host}});
  }
  SystemClock clock;
  fake::FakeRudderstack fake({token, *duration, opt.outcome, opt.seed, opt.connections}, clock);
  std::string host = opt.host == "localhost" ? "127.0.0.1" : opt.host;
  std::string listen = !opt.listen.empty() ? opt.listen
                                           : (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                                                 std::to_string(opt.port);
  return ServeFake("fake rudderstack", listen, opt.port_file,
                   [&fake](http::Request&& r) { return fake.Handle(std::move(r)); });
}

}  // namespace

Runner SetupFake(CLI::App& app) {
  auto opt = std::make_shared<FakeCmdOptions>();
  app.add_option("--listen", opt->listen, "host:port to listen on (default 127.0.0.1:0; port 0 picks a free one)");
  app.add_option("--host", opt->host, "the address alone (an alias kept for scripts)")->capture_default_str();
  app.add_option("--port", opt->port, "the port alone (an alias kept for scripts)")->capture_default_str();
  app.add_option("--token", opt->token,
                 "Bearer token to accept (default: $RUDDERSTACK_API_TOKEN; a value given here shows in ps)");
  app.add_option("--sync-duration", opt->sync_duration, "how long each sync runs")->capture_default_str();
  app.add_option("--outcome", opt->outcome, "final sync status")
      ->check(CLI::IsMember({"succeeded", "failed"}))
      ->capture_default_str();
  app.add_option("--port-file", opt->port_file, "write the bound port to this file once listening");
  app.add_option("--connections", opt->connections, "the connection ids that exist (others answer 404); default: any")
      ->delimiter(',');
  app.add_option("--seed", opt->seed, "seed for faults injected with a rate (repeatable runs)")->capture_default_str();
  AddLogOptions(app, opt->log);
  return [opt] { return RunFake(*opt); };
}

}  // namespace relay::cli
