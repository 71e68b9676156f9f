// `sandbox`: the relay on a temporary SQLite file plus the fake RudderStack API and a fake dbt
// Cloud Admin API (reconciliation every 10 s), all on loopback, with a sample config; prints the URLs and a ready-to-paste send-test command, then
// one line per trigger transition as it happens.

#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "cli/commands.h"
#include "cli/run_loop.h"
#include "cli/runtime.h"
#include "common/log.h"
#include "config/config_loader.h"
#include "fake/fake_dbt_cloud.h"
#include "fake/fake_rudderstack.h"

namespace relay::cli {
namespace {

struct SandboxOptions {
  std::string listen;  // wins over port
  int port = 8080;
  std::string port_file;
  std::string sync_duration = "3s";
  std::string outcome = "succeeded";
  LogOptions log{"warn", "text"};
};

std::string RandomToken(const char* prefix) {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out = prefix;
  for (int i = 0; i < 24; ++i) out += kChars[rng() % 36];
  return out;
}

// Prints a line whenever a trigger appears or changes state.
class TransitionPrinter {
 public:
  explicit TransitionPrinter(store::Store& store) : store_(store), thread_([this] { Loop(); }) {}
  ~TransitionPrinter() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Loop() {
    while (!stop_) {
      auto triggers = store_.ListTriggers("", 100000);
      if (triggers.ok()) {
        for (const store::Trigger& t : *triggers) {
          std::string& seen = states_[t.id];
          if (seen == t.state) continue;
          std::cout << FormatIso8601(clock_.Now()) << "  trigger " << t.id << " → " << t.connection_id << ": "
                    << t.state;
          if (!t.sync_id.empty()) std::cout << " (sync " << t.sync_id << ")";
          if (seen.empty() && !t.event_id.empty()) std::cout << " (event " << t.event_id << ")";
          if ((t.state == "failed" || t.state == "dead") && !t.last_error.empty()) std::cout << ": " << t.last_error;
          std::cout << std::endl;
          seen = t.state;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  store::Store& store_;
  SystemClock clock_;
  std::map<int64_t, std::string> states_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int RunSandbox(const SandboxOptions& opt) {
  if (!ApplyLogOptions(opt.log)) return kExitUsage;
  auto duration = config::ParseDuration(opt.sync_duration);
  if (!duration.ok()) {
    std::cerr << "error: --sync-duration: " << duration.status().message() << "\n";
    return kExitUsage;
  }
  std::string dir_template = (std::filesystem::temp_directory_path() / "retl-relay-sandbox-XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) {
    std::cerr << "error: cannot create a temporary directory\n";
    return kExitFailure;
  }
  const std::string dir = dir_template;

  SystemClock clock;
  const std::string token = RandomToken("sandbox-token-");
  const std::string secret = RandomToken("sandbox-secret-");
  const std::string admin_token = RandomToken("sandbox-admin-");
  boost::asio::io_context ioc(2);
  SignalLoop signals(ioc);  // before the port file: a SIGTERM from then on exits cleanly
  fake::FakeRudderstack fake({token, *duration, opt.outcome, 1, {}}, clock);
  http::Server fake_server(ioc, {}, [&fake](http::Request&& r) { return fake.Handle(std::move(r)); });
  auto fake_port = fake_server.Listen("127.0.0.1:0");
  if (!fake_port.ok()) {
    std::cerr << "error: fake RudderStack: " << fake_port.status().message() << "\n";
    return kExitFailure;
  }

  // A fake dbt Cloud, so a user can watch a run whose webhook never arrived being caught.
  const std::string dbt_token = RandomToken("sandbox-dbt-");
  fake::FakeDbtCloud fake_dbt(dbt_token, "1", clock);
  http::Server dbt_server(ioc, {}, [&fake_dbt](http::Request&& r) { return fake_dbt.Handle(std::move(r)); });
  auto dbt_port = dbt_server.Listen("127.0.0.1:0");
  if (!dbt_port.ok()) {
    std::cerr << "error: fake dbt Cloud: " << dbt_port.status().message() << "\n";
    return kExitFailure;
  }

  config::Config cfg;
  cfg.source = "sandbox";
  cfg.dbt_cloud.api_base = "http://127.0.0.1:" + std::to_string(*dbt_port);
  cfg.dbt_cloud.account_id = "1";
  cfg.dbt_cloud.token = dbt_token;
  cfg.dbt_cloud.reconcile_interval = std::chrono::seconds(10);
  cfg.server.listen = opt.listen.empty() ? "127.0.0.1:" + std::to_string(opt.port) : opt.listen;
  cfg.store.url = "sqlite://" + dir + "/relay.db";
  cfg.dbt.webhook_secrets = {secret};
  cfg.rudderstack.api_base = "http://127.0.0.1:" + std::to_string(*fake_port);
  cfg.rudderstack.token = token;
  cfg.dispatch.poll_interval = std::chrono::milliseconds(200);
  cfg.dispatch.sync_poll_interval = std::chrono::seconds(1);
  cfg.admin.token = admin_token;
  config::Route route;
  route.name = "sandbox";
  route.connections = {"sandbox_connection"};
  cfg.routes = {route};

  auto rt = RelayRuntime::Create(cfg, ioc);
  if (!rt.ok()) {
    std::cerr << "error: " << rt.status().message() << "\n";
    return kExitFailure;
  }
  const std::string host = cfg.server.listen.substr(0, cfg.server.listen.rfind(':'));
  const std::string url =
      "http://" + (host == "0.0.0.0" || host == "[::]" ? std::string("127.0.0.1") : host) + ":" + std::to_string((*rt)->port());
  if (!opt.port_file.empty() && !WritePortFile(opt.port_file, (*rt)->port())) {
    std::cerr << "error: cannot write --port-file\n";
    return kExitFailure;
  }
  char self[4096] = {0};
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  const std::string bin = n > 0 ? std::string(self, static_cast<size_t>(n)) : "retl-relay";
  std::cout << "retl-relay sandbox (nothing leaves this machine)\n"
            << "  webhook URL:      " << url << "/webhooks/dbt\n"
            << "  admin API:        " << url << "/api/v1/status   (Authorization: Bearer " << admin_token << ")\n"
            << "  status page:      " << url << "/ui/#token=" << admin_token << "\n"
            << "  fake RudderStack: " << cfg.rudderstack.api_base << "   (calls: " << cfg.rudderstack.api_base
            << "/_fake/calls)\n"
            << "  fake dbt Cloud:   " << cfg.dbt_cloud.api_base << "   (reconciled every 10 s)\n"
            << "  store:            " << dir << "/relay.db\n"
            << "  route:            every successful dbt run → sandbox_connection (incremental)\n\n"
            << "Send a signed dbt Cloud \"run succeeded\" webhook:\n\n"
            << "  DBT_WEBHOOK_SECRET=" << secret << " " << bin << " send-test --url " << url << "/webhooks/dbt\n\n"
            << "Or let a run finish in dbt Cloud with no webhook at all, and watch reconciliation catch it\n"
            << "within 10 s (an event with source \"reconcile\"):\n\n"
            << "  curl -s -X POST " << cfg.dbt_cloud.api_base << "/_fake/runs -d '{\"job_id\":123,\"status\":10}'\n\n"
            << "Transitions appear below. Ctrl-C stops the sandbox.\n"
            << std::endl;
  (*rt)->Start();
  fake_server.Start();
  dbt_server.Start();
  {
    TransitionPrinter printer((*rt)->store());
    signals.Run({&fake_server, &dbt_server, &(*rt)->server()}, 2);
  }
  (*rt)->Shutdown();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return kExitOk;
}

}  // namespace

Runner SetupSandbox(CLI::App& app) {
  auto opt = std::make_shared<SandboxOptions>();
  app.add_option("--listen", opt->listen, "host:port for the relay (default 127.0.0.1:8080; port 0 = any free port)");
  app.add_option("--port", opt->port, "the port alone, on 127.0.0.1 (an alias kept for scripts)")->capture_default_str();
  app.add_option("--port-file", opt->port_file, "write the relay's port to this file once listening");
  app.add_option("--sync-duration", opt->sync_duration, "how long each fake sync runs")->capture_default_str();
  app.add_option("--outcome", opt->outcome, "how fake syncs end")
      ->check(CLI::IsMember({"succeeded", "failed"}))
      ->capture_default_str();
  AddLogOptions(app, opt->log);
  return [opt] { return RunSandbox(*opt); };
}

}  // namespace relay::cli
