// `retl-relay lambda`: the relay as an AWS Lambda function, speaking the Runtime API
// (../shared/spec/aws-lambda-runtime.md) at $AWS_LAMBDA_RUNTIME_API.
//
// One invocation at a time, and nothing in the background: Lambda freezes the sandbox as soon
// as the runtime asks for the next invocation, so whatever an invocation must do, it does
// before asking.
//
//   HTTP event (API Gateway 1.0/2.0, function URL) → answered exactly as `serve` answers the
//       request (RelayRuntime::Handle), posted as the invocation's response; then, for a
//       webhook that was accepted, the lifecycle runs here: verification (dbt_cloud.verify_runs)
//       and dispatch steps until nothing is due or the deadline minus --deadline-margin.
//   Scheduled event (EventBridge) → one pass: verification, reconciliation ([dbt_cloud]),
//       dispatch steps (due starts, retries, polls of running syncs), alert delivery, and at
//       most once per store.retention_interval per sandbox a prune pass; then the response
//       {"instance", "dispatch_steps", "dispatch_done", "verified", "reconciled_runs"}.
//
// A RudderStack or dbt Cloud call still running max(2 s, margin / 2) before the deadline is
// abandoned (a start is then ambiguous, and resolved by whoever claims the connection next: no
// duplicate start). An exception while answering fails that invocation, never the process. The store
// must be PostgreSQL: /tmp does not outlive a sandbox, and many sandboxes run at once, sharing
// the work through the store's leases like several `serve` instances.

#include <signal.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "cli/runtime.h"
#include "common/log.h"
#include "common/mutex.h"
#include "config/config_loader.h"
#include "httpc/http_call.h"
#include "lambda/event.h"
#include "reconcile/reconciler.h"
#include "reconcile/verifier.h"

namespace relay::cli {
namespace {

namespace json = boost::json;

struct LambdaOptions {
  std::string config_path;
  std::string deadline_margin = "5s";
  LogOptions log;
};

std::atomic<bool> g_stop{false};  // SIGTERM/SIGINT: finish the invocation in hand, then exit

extern "C" void OnStopSignal(int) { g_stop.store(true); }

// The Runtime API client. Blocking; used from the main thread only.
class RuntimeApi {
 public:
  explicit RuntimeApi(std::string endpoint) : base_("http://" + std::move(endpoint) + "/2018-06-01/runtime/") {}

  struct Invocation {
    std::string id;
    std::string payload;
    std::optional<TimePoint> deadline;
    std::string trace_id;
  };

  // Blocks until an invocation arrives (no read timeout), or SIGTERM.
  StatusOr<Invocation> Next() {
    httpc::Request req;
    req.url = base_ + "invocation/next";
    req.timeout = Duration::zero();  // none: the call returns when there is work
    req.abort = &g_stop;
    req.max_response_bytes = 7 * 1024 * 1024;  // Lambda's payload limit is 6 MB
    const httpc::Exchange ex = httpc::Perform(req);
    if (Status s = httpc::StatusOf(ex, "runtime API GET invocation/next", ""); !s.ok()) return s;
    Invocation inv;
    inv.id = std::string(httpc::HeaderOf(ex, "lambda-runtime-aws-request-id"));
    if (inv.id.empty()) return UnavailableError("runtime API: an invocation without Lambda-Runtime-Aws-Request-Id");
    const std::string deadline(httpc::HeaderOf(ex, "lambda-runtime-deadline-ms"));
    if (!deadline.empty() && deadline.size() < 18 && deadline.find_first_not_of("0123456789") == std::string::npos) {
      inv.deadline = FromUnixMillis(std::stoll(deadline));
    }
    inv.trace_id = std::string(httpc::HeaderOf(ex, "lambda-runtime-trace-id"));
    inv.payload = ex.body;
    return inv;
  }
  Status Respond(const std::string& id, const std::string& body) {
    return Post("invocation/" + id + "/response", body, {});
  }
  Status Fail(const std::string& id, std::string_view type, std::string_view message) {
    return Post("invocation/" + id + "/error", lambda::ErrorBody(type, message),
                {"Lambda-Runtime-Function-Error-Type: " + std::string(type)});
  }
  Status InitError(std::string_view type, std::string_view message) {
    return Post("init/error", lambda::ErrorBody(type, message),
                {"Lambda-Runtime-Function-Error-Type: " + std::string(type)});
  }

 private:
  Status Post(const std::string& path, const std::string& body, std::vector<std::string> headers) {
    httpc::Request req;
    req.method = "POST";
    req.url = base_ + path;
    req.body = body;
    req.headers = std::move(headers);
    req.connect_timeout = std::chrono::seconds(5);
    req.timeout = std::chrono::seconds(10);
    return httpc::StatusOf(httpc::Perform(req), "runtime API POST " + path, "");
  }

  std::string base_;
};

// Sets `flag` at `when` unless disarmed first: RudderStack and dbt Cloud calls still running
// then give up (within about a second), so the invocation ends before Lambda stops it.
class Watchdog {
 public:
  Watchdog(std::atomic<bool>& flag, Clock& clock, TimePoint when) : flag_(flag) {
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(when - clock.Now());
    thread_ = std::thread([this, wait] {
      MutexLock lock(mu_);
      if (!cv_.WaitFor(mu_, std::max(wait, std::chrono::milliseconds(0)), [this]() REQUIRES(mu_) { return disarmed_; })) {
        flag_.store(true);
      }
    });
  }
  ~Watchdog() {
    {
      MutexLock lock(mu_);
      disarmed_ = true;
    }
    cv_.SignalAll();
    thread_.join();
    flag_.store(false);
  }

 private:
  std::atomic<bool>& flag_;
  Mutex mu_;
  CondVar cv_;
  bool disarmed_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Lease owner: the sandbox's log stream (unique per sandbox) when Lambda names it, and this
// process's id with 64 random bits.
std::string OwnerId() {
  const char* stream = std::getenv("AWS_LAMBDA_LOG_STREAM_NAME");
  return std::string("lambda:") + (stream != nullptr ? std::string(stream) + ":" : "") + InstanceId();
}

class LambdaLoop {
 public:
  LambdaLoop(RelayRuntime& rt, boost::asio::io_context& ioc, RuntimeApi& api, Duration margin)
      : rt_(rt), ioc_(ioc), api_(api), margin_(margin), owner_(OwnerId()) {
    const config::Config& cfg = rt.config();
    if (rt.dbt_cloud() != nullptr) {
      reconciler_ = std::make_unique<reconcile::Reconciler>(cfg, *rt.dbt_cloud(), rt.store(), rt.store(), rt.clock());
      if (cfg.dbt_cloud.verify_runs) {
        verifier_ = std::make_unique<reconcile::Verifier>(cfg, *rt.dbt_cloud(), rt.store(), rt.clock());
      }
    }
  }

  // Returns when SIGTERM arrived, or the Runtime API failed five times in a row.
  int Run() {
    int failures = 0;
    while (!g_stop.load()) {
      StatusOr<RuntimeApi::Invocation> inv = api_.Next();
      if (!inv.ok()) {
        if (g_stop.load()) break;
        log::Error("lambda: cannot get the next invocation", {{"error", inv.status().ToString()}});
        if (++failures >= 5) return kExitFailure;
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      failures = 0;
      if (!inv->trace_id.empty()) ::setenv("_X_AMZN_TRACE_ID", inv->trace_id.c_str(), 1);
      // Without a deadline header (an emulator), a minute.
      const TimePoint deadline = inv->deadline.value_or(rt_.clock().Now() + std::chrono::minutes(1));
      // Calls still running then give up (curl notices within a second), leaving time to answer.
      Watchdog watchdog(rt_.abort_calls(), rt_.clock(),
                        deadline - std::max<Duration>(std::chrono::seconds(2), margin_ / 2));
      try {
        Invoke(*inv, deadline);
      } catch (const std::exception& e) {
        // Nothing a request carries may end the process: the invocation fails, the next one runs.
        log::Error("lambda: invocation failed", {{"request_id", inv->id}, {"error", e.what()}});
        Report(api_.Fail(inv->id, "Relay.InternalError", "internal error; the relay logged it"), inv->id);
      } catch (...) {
        log::Error("lambda: invocation failed", {{"request_id", inv->id}});
        Report(api_.Fail(inv->id, "Relay.InternalError", "internal error; the relay logged it"), inv->id);
      }
      last_invocation_ = rt_.clock().SteadyNow();
    }
    log::Info("lambda: stopping");
    return kExitOk;
  }

 private:
  void Invoke(const RuntimeApi::Invocation& inv, TimePoint deadline) {
    StatusOr<lambda::Event> event = lambda::ParseEvent(inv.payload);
    if (!event.ok()) {
      log::Warn("lambda: unsupported invocation", {{"request_id", inv.id}, {"error", event.status().message()}});
      Report(api_.Fail(inv.id, "Relay.UnsupportedEvent", event.status().message()), inv.id);
      return;
    }
    if (auto* http_event = std::get_if<lambda::HttpEvent>(&*event)) {
      if (http_event->refusal) {
        Report(api_.Respond(inv.id, lambda::ProxyResponse(*http_event->refusal)), inv.id);
        return;
      }
      const bool webhook = http_event->request.method() == boost::beast::http::verb::post &&
                           receive::WebhookHandler::IsWebhookTarget(std::string_view(
                               http_event->request.target().data(), http_event->request.target().size()));
      const bool head = http_event->request.method() == boost::beast::http::verb::head;
      if (webhook) RefreshStoreAfterIdle();
      http::Response res = Answer(std::move(http_event->request));
      if (head) res.body().clear();  // as serve answers HEAD: the headers a GET would have
      Report(api_.Respond(inv.id, lambda::ProxyResponse(res)), inv.id);
      // The answer is out (dbt Cloud waits 10 s at most); now start what it triggered.
      if (webhook && res.result_int() == 200) Work(deadline, false);
      return;
    }
    const json::object summary = Work(deadline, true);
    Report(api_.Respond(inv.id, json::serialize(summary)), inv.id);
  }

  // What serve would answer, with serve's body limit.
  http::Response Answer(http::Request&& req) {
    const std::string_view target(req.target().data(), req.target().size());
    if (req.body().size() > rt_.config().server.max_body_bytes) {
      if (receive::WebhookHandler::IsWebhookTarget(target)) receive::WebhookHandler::CountWebhook("too_large");
      return http::JsonError(413, "request body exceeds the limit");
    }
    std::optional<http::Response> out;
    boost::asio::co_spawn(ioc_, rt_.Handle(std::move(req)), [&out](std::exception_ptr e, http::Response r) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::Error("lambda: request failed", {{"error", ex.what()}});
        } catch (...) {
          log::Error("lambda: request failed");
        }
        out = http::JsonError(500, "internal error; the relay logged it");
      } else {
        out = std::move(r);
      }
    });
    ioc_.restart();
    ioc_.run();
    if (!out) return http::JsonError(500, "internal error; the relay logged it");
    return std::move(*out);
  }

  bool TimeLeft(TimePoint deadline) { return rt_.clock().Now() + margin_ < deadline; }

  // A sandbox frozen for a while may hold a database connection that a proxy or NAT has
  // dropped since: the first commit would fail with 503 (dbt retries, nothing is lost, but the
  // retry costs a minute). One cheap round trip first finds a dead connection and drops it,
  // and the webhook's commit then connects afresh.
  void RefreshStoreAfterIdle() {
    if (last_invocation_ && rt_.clock().SteadyNow() - *last_invocation_ < std::chrono::seconds(30)) return;
    if (Status s = rt_.store().Ping(); !s.ok()) log::Info("lambda: store connection renewed", {{"cause", s.message()}});
  }

  // The lifecycle work an invocation does; `scheduled` adds reconciliation, alerts and pruning.
  json::object Work(TimePoint deadline, bool scheduled) {
    json::object summary{{"instance", owner_}};
    if (verifier_ && TimeLeft(deadline)) {
      const reconcile::Verifier::Report r = verifier_->RunDue();
      summary["verified"] = r.resolved;
      if (!r.status.ok()) log::Warn("lambda: verification failed", {{"error", r.status.ToString()}});
    }
    if (scheduled && reconciler_ && TimeLeft(deadline)) {
      const reconcile::PassReport r = reconciler_->RunPass();
      summary["reconciled_runs"] = static_cast<int64_t>(r.created.size());
      if (!r.status.ok()) log::Warn("lambda: reconciliation pass failed", {{"error", r.status.ToString()}});
    }
    int64_t steps = 0;
    bool drained = false;
    while (TimeLeft(deadline) && !rt_.abort_calls().load()) {
      StatusOr<bool> did = false;
      try {
        did = rt_.dispatcher().RunOnce(owner_);
      } catch (const std::exception& e) {
        did = Status(StatusCode::kInternal, e.what());
      }
      if (!did.ok()) {
        log::Warn("lambda: dispatch step failed", {{"error", did.status().ToString()}});
        break;
      }
      if (!*did) {
        drained = true;
        break;
      }
      ++steps;
    }
    summary["dispatch_steps"] = steps;
    summary["dispatch_done"] = drained;  // false: the deadline came first; the next invocation goes on
    // An alert POST is bounded by alerting.request_timeout, not by the watchdog.
    if (scheduled && TimeLeft(deadline - rt_.config().alerting.request_timeout)) {
      if (Status s = rt_.alerter().RunOnce(); !s.ok()) log::Warn("lambda: alert pass failed", {{"error", s.ToString()}});
    }
    const config::StoreConfig& store = rt_.config().store;
    if (scheduled && store.retention.count() > 0 && TimeLeft(deadline + std::chrono::seconds(-10)) &&
        (!last_prune_ || rt_.clock().Now() - *last_prune_ >= store.retention_interval)) {
      last_prune_ = rt_.clock().Now();
      auto pruned = rt_.pruner().RunPass();
      if (!pruned.ok()) log::Warn("lambda: prune pass failed", {{"error", pruned.status().ToString()}});
    }
    return summary;
  }

  static void Report(const Status& s, const std::string& id) {
    if (!s.ok()) log::Error("lambda: the runtime API refused the answer", {{"request_id", id}, {"error", s.ToString()}});
  }

  RelayRuntime& rt_;
  boost::asio::io_context& ioc_;
  RuntimeApi& api_;
  const Duration margin_;
  const std::string owner_;
  std::unique_ptr<reconcile::Reconciler> reconciler_;
  std::unique_ptr<reconcile::Verifier> verifier_;
  std::optional<TimePoint> last_prune_;
  std::optional<std::chrono::steady_clock::time_point> last_invocation_;
};

int Lambda(const LambdaOptions& opt) {
  if (!ApplyLogOptions(opt.log)) return kExitUsage;
  StatusOr<Duration> margin = config::ParseDuration(opt.deadline_margin);
  if (!margin.ok()) {
    std::cerr << "error: --deadline-margin: " << margin.status().message() << "\n";
    return kExitUsage;
  }
  const char* endpoint = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (endpoint == nullptr || *endpoint == '\0') {
    std::cerr << "error: AWS_LAMBDA_RUNTIME_API is not set: `retl-relay lambda` runs inside AWS Lambda (or the "
                 "Lambda runtime interface emulator); elsewhere use `retl-relay serve`\n";
    return kExitUsage;
  }
  RuntimeApi api(endpoint);
  // A configuration Lambda cannot run is an init error: Lambda shows it, and retries the init.
  auto init_error = [&api](const std::string& message) {
    std::cerr << "error: " << message << "\n";
    if (Status s = api.InitError("Runtime.InvalidConfig", message); !s.ok()) {
      std::cerr << "error: could not report it to the runtime API: " << s.message() << "\n";
    }
    return kExitFailure;
  };
  const auto env = config::ProcessEnv();
  const std::string path = config::ConfigPath(opt.config_path, env);
  config::LoadOptions load;
  load.for_serve = true;
  StatusOr<config::Config> cfg = config::LoadConfig(path, env, load);
  if (!cfg.ok()) return init_error(cfg.status().message());
  if (!cfg->store.url.starts_with("postgres")) {
    return init_error("lambda needs a PostgreSQL store (store.url or RETL_RELAY_STORE_URL = postgresql://…), not " +
                      config::RedactedStoreUrl(cfg->store.url) +
                      ": a Lambda sandbox's disk does not survive it, and many sandboxes run at once");
  }
  for (const std::string& w : cfg->warnings) log::Warn(w);
  struct sigaction sa{};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  boost::asio::io_context ioc(1);
  auto rt = RelayRuntime::Create(std::move(cfg).value(), ioc, {.listen = false});
  if (!rt.ok()) return init_error(rt.status().message());
  (*rt)->ReleaseStaleVerifications();
  log::Info("retl-relay lambda ready", {{"store", config::RedactedStoreUrl((*rt)->config().store.url)},
                                        {"api_base", config::ApiBase((*rt)->config().rudderstack)},
                                        {"routes", std::to_string((*rt)->config().routes.size())}});
  LambdaLoop loop(**rt, ioc, api, *margin);
  const int rc = loop.Run();
  (*rt)->Shutdown();
  return rc;
}

}  // namespace

Runner SetupLambda(CLI::App& app) {
  auto opt = std::make_shared<LambdaOptions>();
  app.add_option("-c,--config", opt->config_path, kConfigHelp);
  app.add_option("--deadline-margin", opt->deadline_margin,
                 "stop starting lifecycle steps this long before the invocation's deadline")
      ->capture_default_str();
  AddLogOptions(app, opt->log);
  return [opt] { return Lambda(*opt); };
}

}  // namespace relay::cli
