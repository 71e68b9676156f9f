#include "store/store.h"

#include <algorithm>
#include <boost/json.hpp>
#include <future>
#include <map>

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace relay::store {

StatusOr<AppendResult> IngestStore::Append(NewEvent event, std::vector<NewTrigger> triggers) {
  std::promise<StatusOr<AppendResult>> p;
  auto f = p.get_future();
  AppendAsync(std::move(event), std::move(triggers), [&p](StatusOr<AppendResult> r) { p.set_value(std::move(r)); });
  return f.get();
}

FanInDecision DecideFanIn(const FanInStep& step, const std::vector<FanInRun>& progress, std::optional<TimePoint> now) {
  FanInDecision d;
  std::map<int64_t, TimePoint> latest;  // per job of after_all
  for (const FanInRun& r : progress) {
    if (std::find(step.after_all.begin(), step.after_all.end(), r.job_id) == step.after_all.end()) continue;
    auto [it, fresh] = latest.emplace(r.job_id, r.at);
    if (!fresh && r.at > it->second) it->second = r.at;
  }
  if (step.within.count() > 0 && (!latest.empty() || now)) {
    TimePoint newest = now ? *now : latest.begin()->second;
    for (const auto& [job, at] : latest) newest = std::max(newest, at);
    d.expire_before = newest - step.within;
    std::erase_if(latest, [&](const auto& kv) { return kv.second < *d.expire_before; });
  }
  for (int64_t job : step.after_all) {
    if (!latest.count(job)) d.waiting_for.push_back(job);
  }
  for (const FanInRun& r : progress) {
    if (latest.count(r.job_id) && (!d.expire_before || r.at >= *d.expire_before)) d.counted.push_back(r);
  }
  d.fire = d.waiting_for.empty();
  return d;
}

std::string FanInRunsJson(const std::vector<FanInRun>& runs) {
  boost::json::array a;
  for (const FanInRun& r : runs) {
    a.push_back(boost::json::object{
        {"job_id", r.job_id}, {"run_id", r.run_id}, {"event_id", r.event_id}, {"at", ToUnixMillis(r.at)}});
  }
  return boost::json::serialize(a);
}

std::vector<FanInRun> ParseFanInRuns(std::string_view text, const std::string& route) {
  std::vector<FanInRun> out;
  if (text.empty()) return out;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const boost::json::value& e : v.as_array()) {
    const boost::json::object* o = e.if_object();
    if (o == nullptr) continue;
    FanInRun r;
    r.route = route;
    if (const auto* x = o->if_contains("job_id"); x && x->is_int64()) r.job_id = x->as_int64();
    if (const auto* x = o->if_contains("run_id"); x && x->is_int64()) r.run_id = x->as_int64();
    if (const auto* x = o->if_contains("event_id"); x && x->is_string()) r.event_id = std::string(x->as_string());
    if (const auto* x = o->if_contains("at"); x && x->is_int64()) r.at = FromUnixMillis(x->as_int64());
    out.push_back(std::move(r));
  }
  return out;
}

std::string_view ToString(Phase phase) {
  switch (phase) {
    case Phase::kIdle: return "idle";
    case Phase::kStarting: return "starting";
    case Phase::kWaiting: return "waiting";
    case Phase::kStopping: return "stopping";
    case Phase::kRunning: return "running";
  }
  return "idle";
}

std::optional<Phase> ParsePhase(std::string_view text) {
  for (Phase p : kPhases) {
    if (ToString(p) == text) return p;
  }
  return std::nullopt;
}

std::string_view ToString(StartState state) {
  switch (state) {
    case StartState::kStarting: return kStarting;
    case StartState::kQueued: return kQueued;
    case StartState::kRunning: return kRunning;
    case StartState::kSucceeded: return kSucceeded;
    case StartState::kFailed: return kFailed;
    case StartState::kSkipped: return kSkipped;
    case StartState::kDead: return kDead;
  }
  return kDead;
}

std::optional<StartState> ParseStartState(std::string_view text) {
  for (StartState s : kStartStates) {
    if (ToString(s) == text) return s;
  }
  return std::nullopt;
}

void AddStartRun(const std::string& event_id, int64_t run_id, std::string_view fan_in_runs, const std::string& route,
                 int limit, AlertStore::StartRuns& out) {
  std::vector<FanInRun> runs = ParseFanInRuns(fan_in_runs, route);
  if (runs.empty() && !event_id.empty()) runs.push_back(FanInRun{route, 0, run_id, event_id, {}});
  for (const FanInRun& r : runs) {
    if (out.runs.size() >= static_cast<size_t>(limit)) return;
    out.runs.emplace_back(r.event_id, r.run_id);
  }
}

Status SchemaProblem(int found, int latest) {
  if (found == latest) return Status::Ok();
  if (found < 0) {
    return Status(StatusCode::kFailedPrecondition,
                  "the database holds no retl-relay schema (start `retl-relay serve` on it once to create it)");
  }
  if (found < latest) {
    return Status(StatusCode::kFailedPrecondition,
                  "database schema version " + std::to_string(found) + " is older than this build's " +
                      std::to_string(latest) + ": start this build's `retl-relay serve` once to migrate it");
  }
  return Status(StatusCode::kFailedPrecondition, "database schema version " + std::to_string(found) +
                                                     " is newer than this build's " + std::to_string(latest));
}

StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url, OpenOptions options) {
  if (url.starts_with("sqlite://")) return OpenSqliteStore(url.substr(9), options);
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) return OpenPostgresStore(url, options);
  return InvalidArgumentError("store.url: unsupported store URL (use sqlite://PATH or postgresql://…)");
}

}  // namespace relay::store
