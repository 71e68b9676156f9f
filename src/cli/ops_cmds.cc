// Operator commands over admin::Operations: one JSON result each, shown as a table or as JSON.

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/context.h"
#include "config/config_loader.h"
#include "store/pruner.h"

namespace relay::cli {
namespace json = boost::json;
namespace {

const json::array& Arr(const json::value& v, const char* key) { return v.at(key).as_array(); }

// Runs `op` on an opened context; the common shape of every operator command.
Runner WithContext(std::shared_ptr<CommonOptions> common,
                   std::function<StatusOr<json::value>(Context&)> op,
                   std::function<void(const json::value&)> human, bool needs_store = true) {
  return [common, op, human, needs_store] {
    auto ctx = Context::Open(*common, needs_store);
    if (!ctx) return kExitFailure;
    return Emit(op(*ctx), common->json, human);
  };
}

// One fan-in route's progress (status, explain).
void PrintFanIn(const json::value& f, bool explain) {
  std::string after, waiting;
  for (const auto& j : f.at("after_all").as_array()) after += (after.empty() ? "" : ", ") + Text(j);
  for (const auto& j : f.at("waiting_for_jobs").as_array()) waiting += (waiting.empty() ? "" : ", ") + Text(j);
  std::cout << "\nfan-in route " << Text(f.at("route")) << ": after all of jobs " << after;
  if (f.at("within_s").as_int64() > 0) std::cout << " within " << Text(f.at("within_s")) << " s";
  std::cout << "\n";
  for (const auto& r : f.at("have").as_array()) {
    std::cout << "  has job " << Text(r.at("job_id")) << ": run " << Text(r.at("run_id")) << " (event "
              << Text(r.at("event_id")) << ", " << WhenText(r.at("at").as_string()) << ")\n";
  }
  std::cout << "  " << (waiting.empty() ? "waiting for nothing" : "waiting for jobs " + waiting) << "\n";
  if (explain && f.as_object().contains("counts_this_run")) {
    std::cout << "  this event: "
              << (!f.at("counts_this_run").as_bool() ? "does not count toward it"
                  : f.at("would_fire").as_bool()     ? "would complete the set and fire the route"
                                                     : "would count toward it")
              << "\n";
  }
}

void PrintStatus(const json::value& v) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : Arr(v, "connections")) {
    rows.push_back({Text(c.at("connection_id")), Text(c.at("phase")), Text(c.at("sync_id")),
                    Text(c.at("pending")), Text(c.at("dead")),
                    c.at("last_outcome").is_null() ? "-" : Text(c.at("last_outcome")) + " " + Text(c.at("last_sync_id")),
                    WhenText(c.at("next_check_at").as_string()), Text(c.at("last_error"))});
  }
  PrintTable({"CONNECTION", "PHASE", "SYNC", "PENDING", "DEAD", "LAST OUTCOME", "NEXT CHECK", "LAST ERROR"}, rows);
  if (const auto* f = v.as_object().if_contains("fan_in")) {
    for (const auto& route : f->as_array()) PrintFanIn(route, false);
  }
}

void PrintEvents(const json::value& v) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : Arr(v, "events")) {
    std::string triggers;
    for (const auto& t : e.at("triggers").as_array()) triggers += (triggers.empty() ? "" : " ") + Text(t);
    rows.push_back({Text(e.at("event_id")), Text(e.at("event_type")), Text(e.at("job_id")), Text(e.at("run_id")),
                    Text(e.at("run_status_code")), WhenText(e.at("received_at").as_string()), Text(e.at("source")),
                    triggers.empty() ? "-" : triggers});
  }
  PrintTable({"EVENT", "TYPE", "JOB", "RUN", "STATUS", "RECEIVED", "SOURCE", "TRIGGERS"}, rows);
}

void PrintTrigger(const json::value& t) {
  std::cout << "trigger " << Text(t.at("id")) << " → " << Text(t.at("connection_id")) << " (route "
            << Text(t.at("route")) << ", " << Text(t.at("sync_type")) << ", if_running " << Text(t.at("if_running"))
            << "): " << Text(t.at("state"));
  if (!t.at("sync_id").is_null()) std::cout << ", sync " << Text(t.at("sync_id"));
  if (!t.at("last_error").is_null()) std::cout << ", " << Text(t.at("last_error"));
  std::cout << "\n";
  for (const auto& r : t.at("fan_in_runs").as_array()) {
    std::cout << "  after job " << Text(r.at("job_id")) << " run " << Text(r.at("run_id")) << " (event "
              << Text(r.at("event_id")) << ")\n";
  }
}

void PrintEvent(const json::value& v) {
  std::cout << "event " << Text(v.at("event_id")) << "  " << Text(v.at("event_type")) << "  job "
            << Text(v.at("job_id")) << "  run " << Text(v.at("run_id")) << "  status " << Text(v.at("run_status_code"))
            << "\nreceived " << WhenText(v.at("received_at").as_string()) << " from " << Text(v.at("source")) << "\n";
  if (v.at("verification").is_object()) {
    std::cout << "verification: " << Text(v.at("verification").at("state")) << " — "
              << Text(v.at("verification").at("note")) << "\n";
  }
  const auto& triggers = Arr(v, "triggers");
  const std::string verification = v.at("verification").is_object() ? Text(v.at("verification").at("state")) : "";
  if (triggers.empty()) {
    std::cout << (verification == "pending"    ? "no triggers yet (waiting for dbt Cloud to confirm the run)\n"
                  : verification == "rejected" ? "no triggers (dbt Cloud does not know the run)\n"
                  : !Arr(v, "fan_in").empty()  ? "no triggers of its own (it counts toward a fan-in route)\n"
                                               : "no triggers (no route matched)\n");
  }
  for (const auto& f : Arr(v, "fan_in")) std::cout << "fan-in route " << Text(f.at("route")) << ": " << Text(f.at("state")) << "\n";
  for (const auto& t : triggers) {
    std::cout << "\n";
    PrintTrigger(t);
    for (const auto& a : t.at("attempts").as_array()) {
      std::cout << "  " << Text(a.at("at")) << "  " << Text(a.at("kind")) << "  HTTP " << Text(a.at("http_status"))
                << "  " << Text(a.at("latency_ms")) << " ms  " << Text(a.at("outcome"))
                << (a.at("sync_id").is_null() ? "" : "  sync " + Text(a.at("sync_id"))) << "\n";
    }
    if (t.at("sync").is_object()) {
      const auto& s = t.at("sync");
      std::cout << "  sync " << Text(s.at("sync_id")) << " (" << Text(s.at("origin")) << "): " << Text(s.at("status"))
                << ", started " << Text(s.at("started_at")) << ", finished " << Text(s.at("finished_at"))
                << ", records succeeded " << Text(s.at("metrics").at("succeeded")) << " failed "
                << Text(s.at("metrics").at("failed"));
      if (!s.at("error").is_null()) std::cout << ", error: " << Text(s.at("error"));
      std::cout << "\n";
    }
  }
}

void PrintTriggerList(const json::value& v) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : Arr(v, "triggers")) {
    rows.push_back({Text(t.at("id")), Text(t.at("connection_id")), Text(t.at("route")), Text(t.at("event_id")),
                    WhenText(t.at("created_at").as_string()), Text(t.at("last_error"))});
  }
  PrintTable({"TRIGGER", "CONNECTION", "ROUTE", "EVENT", "CREATED", "REASON"}, rows);
}

void PrintSyncs(const json::value& v) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : Arr(v, "syncs")) {
    rows.push_back({Text(s.at("id")), Text(s.at("status")), Text(s.at("started_at")), Text(s.at("finished_at")),
                    Text(s.at("metrics").at("succeeded")), Text(s.at("metrics").at("failed")), Text(s.at("error"))});
  }
  PrintTable({"SYNC", "STATUS", "STARTED", "FINISHED", "SUCCEEDED", "FAILED", "ERROR"}, rows);
}

void PrintExplain(const json::value& v) {
  std::cout << "event " << Text(v.at("event_id")) << "  " << Text(v.at("event_type")) << "  job "
            << Text(v.at("job_id")) << "  run " << Text(v.at("run_id")) << "  status " << Text(v.at("run_status_code"))
            << "\n";
  for (const auto& r : Arr(v, "routes")) {
    std::cout << "\nroute " << Text(r.at("route")) << ": " << (r.at("matched").as_bool() ? "MATCHES" : "does not match")
              << "\n";
    for (const auto& c : r.at("checks").as_array()) std::cout << "  " << Text(c) << "\n";
  }
  const auto& would = Arr(v, "would_trigger");
  std::cout << "\nwould trigger:" << (would.empty() ? " nothing" : "") << "\n";
  for (const auto& w : would) {
    std::cout << "  " << Text(w.at("connection_id")) << " (" << Text(w.at("sync_type")) << ", route "
              << Text(w.at("route")) << ")\n";
  }
  if (v.at("fan_in").is_string()) {
    std::cout << "\nfan-in: " << Text(v.at("fan_in")) << "\n";
    return;
  }
  for (const auto& f : Arr(v, "fan_in")) PrintFanIn(f, true);
}

// Follows a trigger until it is final; exit 0 for succeeded/skipped, 1 otherwise.
int WaitForTrigger(Context& ctx, int64_t id, Duration timeout, bool as_json) {
  SystemClock clock;
  const auto deadline = clock.SteadyNow() + timeout;
  std::string last;
  for (;;) {
    auto info = ctx.ops().TriggerInfo(id);
    if (!info.ok()) return Emit(info, as_json, {});
    std::string state(info->at("state").as_string());
    if (state != last && !as_json) PrintTrigger(*info);
    last = state;
    if (info->at("final").as_bool()) {
      if (as_json) std::cout << json::serialize(*info) << "\n";
      return state == "succeeded" || state == "skipped" ? kExitOk : kExitFailure;
    }
    if (clock.SteadyNow() > deadline) {
      std::cerr << "error: trigger " << id << " still " << state << " after --timeout\n";
      return kExitFailure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace

Runner SetupStatus(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  AddCommonOptions(app, *common);
  return WithContext(common, [](Context& c) { return c.ops().StatusReport(); }, PrintStatus);
}

Runner SetupEvents(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto limit = std::make_shared<int>(20);
  auto job = std::make_shared<int64_t>(-1);
  auto since = std::make_shared<std::string>();
  AddCommonOptions(app, *common);
  app.add_option("--limit", *limit, "how many, newest first")->check(CLI::Range(1, 10000))->capture_default_str();
  app.add_option("--job-id,--job", *job, "only this dbt job id (--job is an alias)");
  app.add_option("--since", *since, "only events received at or after this ISO-8601 UTC time");
  return [=] {
    store::EventFilter f;
    f.limit = *limit;
    if (*job >= 0) f.job_id = *job;
    if (!since->empty()) {
      auto t = ParseIso8601(*since);
      if (!t) {
        std::cerr << "error: --since must be ISO-8601 UTC, e.g. 2026-11-27T10:00:00Z\n";
        return kExitUsage;
      }
      f.since = *t;
    }
    return WithContext(common, [f](Context& c) { return c.ops().Events(f); }, PrintEvents)();
  };
}

Runner SetupEvent(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto id = std::make_shared<std::string>();
  AddCommonOptions(app, *common);
  app.add_option("EVENT_ID", *id, "the dbt eventId")->required();
  return WithContext(common, [id](Context& c) { return c.ops().Event(*id); }, PrintEvent);
}

Runner SetupReplay(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto id = std::make_shared<std::string>();
  AddCommonOptions(app, *common);
  app.add_option("EVENT_ID", *id, "the stored event to route again")->required();
  return WithContext(common, [id](Context& c) { return c.ops().Replay(*id); }, [](const json::value& v) {
    const auto& t = Arr(v, "triggers");
    std::cout << "event " << Text(v.at("event_id")) << ": " << t.size() << " new trigger(s)\n";
    for (const auto& x : t) std::cout << "  " << Text(x.at("id")) << " → " << Text(x.at("connection_id")) << " (route " << Text(x.at("route")) << ")\n";
  });
}

Runner SetupDead(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto limit = std::make_shared<int>(100);
  AddCommonOptions(app, *common);
  app.add_option("--limit", *limit, "how many")->check(CLI::Range(1, 10000))->capture_default_str();
  return WithContext(common, [limit](Context& c) { return c.ops().Dead(*limit); }, PrintTriggerList);
}

Runner SetupRetry(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto ids = std::make_shared<std::vector<int64_t>>();
  auto all = std::make_shared<bool>(false);
  AddCommonOptions(app, *common);
  auto* id_opt = app.add_option("TRIGGER_ID", *ids, "dead trigger id(s) to retry");
  auto* all_opt = app.add_flag("--all-dead", *all, "retry every dead trigger");
  id_opt->excludes(all_opt);
  return [=] {
    if (ids->empty() && !*all) {
      std::cerr << "error: give TRIGGER_ID or --all-dead\n";
      return kExitUsage;
    }
    return WithContext(common, [ids](Context& c) { return c.ops().Retry(*ids); }, [](const json::value& v) {
      const auto& r = Arr(v, "retried");
      std::cout << "retried " << r.size() << " trigger(s)";
      for (const auto& x : r) std::cout << " " << Text(x);
      std::cout << "\n";
    })();
  };
}

Runner SetupTrigger(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto connection = std::make_shared<std::string>();
  auto full = std::make_shared<bool>(false);
  auto wait = std::make_shared<bool>(false);
  auto timeout = std::make_shared<std::string>("30m");
  AddCommonOptions(app, *common);
  app.add_option("CONNECTION", *connection, "RETL connection id")->required();
  app.add_flag("--full", *full, "request a full sync (default incremental)");
  app.add_flag("--wait", *wait, "follow the trigger to the sync outcome (exit 1 if it fails)");
  app.add_option("--timeout", *timeout, "give up waiting after this")->capture_default_str();
  return [=] {
    auto limit = config::ParseDuration(*timeout);
    if (!limit.ok()) {
      std::cerr << "error: --timeout: " << limit.status().message() << "\n";
      return kExitUsage;
    }
    auto ctx = Context::Open(*common);
    if (!ctx) return kExitFailure;
    auto created = ctx->ops().Trigger(*connection, *full);
    if (!created.ok() || !*wait) {
      return Emit(created, common->json, [](const json::value& v) {
        PrintTrigger(v);
        std::cout << "the relay's dispatcher picks it up within its poll interval\n";
      });
    }
    return WaitForTrigger(*ctx, created->at("id").as_int64(), *limit, common->json);
  };
}

Runner SetupSyncs(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto connection = std::make_shared<std::string>();
  auto status = std::make_shared<std::string>();
  auto limit = std::make_shared<int>(20);
  AddCommonOptions(app, *common);
  app.add_option("CONNECTION", *connection, "RETL connection id")->required();
  app.add_option("--status", *status, "running | succeeded | failed")->check(CLI::IsMember({"running", "succeeded", "failed"}));
  app.add_option("--limit", *limit, "per_page")->check(CLI::Range(1, 100))->capture_default_str();
  return WithContext(
      common, [=](Context& c) { return c.ops().Syncs(*connection, *status, *limit); }, PrintSyncs, /*needs_store=*/false);
}

Runner SetupSync(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto connection = std::make_shared<std::string>();
  auto sync_id = std::make_shared<std::string>();
  AddCommonOptions(app, *common);
  app.add_option("CONNECTION", *connection, "RETL connection id")->required();
  app.add_option("SYNC_ID", *sync_id, "sync id")->required();
  return WithContext(common, [=](Context& c) { return c.ops().Sync(*connection, *sync_id); }, [](const json::value& v) {
    for (const auto& [k, val] : v.as_object()) {
      std::cout << std::string(k) << ": " << (val.is_object() ? json::serialize(val) : Text(val)) << "\n";
    }
  }, /*needs_store=*/false);
}

Runner SetupStop(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto connection = std::make_shared<std::string>();
  AddCommonOptions(app, *common);
  app.add_option("CONNECTION", *connection, "RETL connection id")->required();
  return WithContext(common, [=](Context& c) { return c.ops().Stop(*connection); }, [](const json::value& v) {
    std::cout << "stop requested for " << Text(v.at("connection_id")) << " (RudderStack stops it asynchronously)\n";
  }, /*needs_store=*/false);
}

Runner SetupPrune(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto older_than = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  AddCommonOptions(app, *common);
  app.add_option("--older-than", *older_than, "remove what is older than this, e.g. 90d, 720h")->required();
  app.add_flag("--dry-run", *dry_run, "count what would be removed; remove nothing");
  return [=] {
    StatusOr<Duration> age = config::ParseDuration(*older_than);
    if (!age.ok() || *age < config::kMinRetention) {
      std::cerr << "error: --older-than must be a duration of at least 1d, such as 90d or 720h (newer history "
                   "still deduplicates dbt's retries and resolves starts)\n";
      return kExitUsage;
    }
    auto ctx = Context::Open(*common);
    if (!ctx) return kExitFailure;
    if (const config::DbtCloudConfig& cloud = ctx->config().dbt_cloud;
        cloud.enabled() && cloud.reconcile_interval.count() > 0 && *age < cloud.lookback) {
      std::cerr << "error: --older-than is shorter than dbt_cloud.lookback: reconciliation would store the pruned "
                   "runs again and start their syncs a second time\n";
      return kExitUsage;
    }
    SystemClock clock;
    const TimePoint cutoff = clock.Now() - *age;
    // As the relay's own pruner does, in small batches with a pause between them: a running
    // relay's webhooks share the database and must not wait behind one long transaction. A
    // dry run counts in one transaction (about a second per million events).
    store::PrunerOptions options;
    options.retention = *age;
    store::Pruner pruner(*ctx->store(), clock, options);
    StatusOr<store::PruneCounts> total =
        *dry_run ? ctx->store()->Prune(cutoff, std::numeric_limits<int>::max(), /*dry_run=*/true) : pruner.RunPass();
    if (!total.ok()) {
      std::cerr << "error: " << TerminalSafe(total.status().message()) << "\n";
      return kExitFailure;
    }
    json::object out{{"dry_run", *dry_run},        {"older_than", *older_than},      {"cutoff", FormatIso8601(cutoff)},
                     {"events", total->events},   {"triggers", total->triggers},   {"syncs", total->syncs},
                     {"attempts", total->attempts}, {"starts", total->starts}, {"alerts", total->alerts}};
    if (common->json) {
      std::cout << json::serialize(out) << "\n";
    } else {
      std::cout << (*dry_run ? "would remove" : "removed") << " (older than " << FormatIso8601(cutoff) << "): "
                << total->events << " events, " << total->triggers << " triggers, " << total->syncs << " syncs, "
                << total->attempts << " attempts, " << total->starts << " starts, " << total->alerts << " alerts\n";
    }
    return kExitOk;
  };
}

Runner SetupExplain(CLI::App& app) {
  auto config_path = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  app.add_option("-c,--config", *config_path, kConfigHelp);
  app.add_option("FILE", *file, "a dbt webhook body, or - for standard input")->required();
  app.add_flag("--json", *as_json, "print JSON");
  return [=] {
    auto cfg = LoadCliConfig(*config_path);
    if (!cfg) return kExitFailure;
    std::stringstream body;
    if (*file == "-") {
      body << std::cin.rdbuf();
    } else {
      std::ifstream in(*file, std::ios::binary);
      if (!in) {
        std::cerr << "error: cannot read " << *file << "\n";
        return kExitFailure;
      }
      body << in.rdbuf();
    }
    // The store only for the fan-in routes' progress: never created or migrated here.
    StatusOr<std::vector<store::FanInRun>> progress = UnavailableError("no fan-in route");
    if (std::any_of(cfg->routes.begin(), cfg->routes.end(), [](const config::Route& r) { return r.fan_in(); })) {
      store::OpenOptions open;
      open.create_if_missing = false;
      open.migrate = false;
      auto st = store::OpenStore(cfg->store.url, open);
      progress = st.ok() ? (*st)->ListFanInProgress() : StatusOr<std::vector<store::FanInRun>>(st.status());
    }
    SystemClock clock;
    return Emit(admin::Operations::Explain(*cfg, body.str(), progress, clock.Now()), *as_json, PrintExplain);
  };
}

}  // namespace relay::cli
