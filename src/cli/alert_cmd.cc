// `send-test-alert`: one test message to every [[alert]] sink; `fake-alert-sink`: a loopback
// receiver for tests and the sandbox.

#include <boost/json.hpp>
#include <iostream>

#include "alerts/alerter.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "fake/fake_alert_sink.h"

namespace relay::cli {
namespace json = boost::json;
namespace {

int RunSendTestAlert(const std::string& config_path, bool as_json) {
  auto cfg = LoadCliConfig(config_path);
  if (!cfg) return kExitFailure;
  if (cfg->alerts.empty()) {
    std::cerr << "error: no [[alert]] sink in the configuration: nothing to send to\n";
    return kExitFailure;
  }
  SystemClock clock;
  const std::vector<alerts::Alerter::TestResult> results = alerts::Alerter::SendTest(*cfg, clock.Now());
  bool all_ok = true;
  json::array out;
  for (const alerts::Alerter::TestResult& r : results) {
    all_ok = all_ok && r.status.ok();
    out.push_back(json::object{{"sink", r.sink},
                               {"url", r.url},
                               {"ok", r.status.ok()},
                               {"http_status", r.http_status},
                               {"error", r.status.ok() ? json::value(nullptr) : json::value(r.status.ToString())}});
    if (!as_json) {
      std::cout << r.sink << " (" << r.url << "): "
                << (r.status.ok() ? "delivered, HTTP " + std::to_string(r.http_status) : "FAILED: " + r.status.ToString())
                << "\n";
    }
  }
  if (as_json) std::cout << json::serialize(json::object{{"ok", all_ok}, {"sinks", out}}) << "\n";
  return all_ok ? kExitOk : kExitFailure;
}

struct FakeSinkOptions {
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  LogOptions log;
};

}  // namespace

Runner SetupSendTestAlert(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  app.add_option("-c,--config", *path, kConfigHelp);
  app.add_flag("--json", *as_json, "print JSON: each sink's answer");
  return [path, as_json] { return RunSendTestAlert(*path, *as_json); };
}

Runner SetupFakeAlertSink(CLI::App& app) {
  auto opt = std::make_shared<FakeSinkOptions>();
  app.add_option("--listen", opt->listen, "host:port to listen on (port 0 picks a free one)")->capture_default_str();
  app.add_option("--port-file", opt->port_file, "write the bound port to this file once listening");
  AddLogOptions(app, opt->log);
  return [opt] {
    if (!ApplyLogOptions(opt->log)) return kExitUsage;
    fake::FakeAlertSink sink;
    return ServeFake("fake alert sink", opt->listen, opt->port_file,
                     [&sink](http::Request&& r) { return sink.Handle(std::move(r)); });
  };
}

}  // namespace relay::cli
