#include "admin/operations.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/ids.h"
#include "dbt/webhook.h"
#include "routing/router.h"

namespace relay::admin {
namespace json = boost::json;
namespace {

std::string Iso(TimePoint t) { return ToUnixMillis(t) == 0 ? std::string() : FormatIso8601(t); }

json::value OrNull(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }

json::object SyncInfoJson(const rudderstack::SyncInfo& s) {
  return {{"id", s.id},
          {"status", s.status},
          {"started_at", OrNull(s.started_at)},
          {"finished_at", OrNull(s.finished_at)},
          {"error", OrNull(s.error)},
          {"metrics", {{"succeeded", s.succeeded}, {"failed", s.failed}, {"changed", s.changed}, {"total", s.total}}}};
}

json::object SyncJson(const store::Sync& s) {
  return {{"sync_id", s.sync_id},
          {"connection_id", s.connection_id},
          {"status", s.status},
          {"origin", s.origin},
          {"sync_type", OrNull(s.sync_type)},
          {"started_at", OrNull(s.started_at)},
          {"finished_at", OrNull(s.finished_at)},
          {"error", OrNull(s.error)},
          {"metrics", {{"succeeded", s.succeeded}, {"failed", s.failed}, {"changed", s.changed}, {"total", s.total}}}};
}

json::object AttemptJson(const store::Attempt& a) {
  return {{"kind", a.kind},         {"at", Iso(a.at)},         {"http_status", a.http_status},
          {"latency_ms", a.latency_ms}, {"outcome", a.outcome}, {"sync_id", OrNull(a.sync_id)}};
}

json::object EventJson(const store::StoredEvent& e, bool with_body) {
  json::object o{{"event_id", e.event_id},       {"event_type", e.event_type}, {"job_id", e.job_id},
                 {"run_id", e.run_id},           {"run_status_code", e.run_status_code},
                 {"received_at", Iso(e.received_at)}, {"seq", e.seq}, {"source", e.source}};
  // verify_runs: what dbt Cloud said about the run (null when the event was not verified).
  o["verification"] = e.verify_state.empty() ? json::value(nullptr)
                                             : json::value(json::object{{"state", e.verify_state}, {"note", e.verify_note}});
  if (with_body) o["raw_body"] = e.raw_body;
  return o;
}

Status NoStore() {
  return Status(StatusCode::kFailedPrecondition, "no store opened for this command");
}

Status NoClient() {
  return Status(StatusCode::kFailedPrecondition, "no RudderStack token configured (rudderstack.token)");
}

}  // namespace

json::object FanInRunJson(const store::FanInRun& r) {
  return {{"job_id", std::to_string(r.job_id)}, {"run_id", std::to_string(r.run_id)}, {"event_id", r.event_id},
          {"at", Iso(r.at)}};
}

json::object TriggerJson(const store::Trigger& t) {
  json::array runs;
  for (const store::FanInRun& r : t.fan_in_runs) runs.push_back(FanInRunJson(r));
  return {{"id", t.id},
          {"fan_in_runs", runs},
          {"event_id", OrNull(t.event_id)},
          {"route", t.route},
          {"connection_id", t.connection_id},
          {"sync_type", t.sync_type},
          {"if_running", t.if_running},
          {"state", t.state},
          {"created_at", Iso(t.created_at)},
          {"sync_id", OrNull(t.sync_id)},
          {"last_error", OrNull(t.last_error)},
          {"start_id", t.start_id == 0 ? json::value(nullptr) : json::value(t.start_id)}};
}

Operations::Operations(store::OperatorStore* store, rudderstack::Client* client, const config::Config& config, Clock& clock)
    : store_(store), client_(client), config_(config), clock_(clock) {}

bool Operations::IsFinalTriggerState(std::string_view state) {
  return state == store::kSucceeded || state == store::kFailed || state == store::kSkipped || state == store::kDead;
}

json::array Operations::FanInJson(const config::Config& config, const std::vector<store::FanInRun>& progress,
                                   TimePoint now) {
  json::array out;
  for (const config::Route& r : config.routes) {
    if (!r.fan_in()) continue;
    store::FanInStep step;
    step.route = r.name;
    step.after_all = r.after_all;
    step.within = r.within;
    std::vector<store::FanInRun> mine;
    for (const store::FanInRun& run : progress) {
      if (run.route == r.name) mine.push_back(run);
    }
    const store::FanInDecision d = store::DecideFanIn(step, mine, now);
    json::array after, have, waiting;
    for (int64_t j : r.after_all) after.push_back(json::value(std::to_string(j)));
    for (const store::FanInRun& run : d.counted) have.push_back(FanInRunJson(run));
    for (int64_t j : d.waiting_for) waiting.push_back(json::value(std::to_string(j)));
    out.push_back(json::object{{"route", r.name},
                               {"after_all", after},
                               {"within_s", std::chrono::duration_cast<std::chrono::seconds>(r.within).count()},
                               {"have", have},
                               {"waiting_for_jobs", waiting}});
  }
  return out;
}

StatusOr<json::value> Operations::StatusReport() {
  if (store_ == nullptr) return NoStore();
  json::array fan_in;
  if (std::any_of(config_.routes.begin(), config_.routes.end(), [](const config::Route& r) { return r.fan_in(); })) {
    auto progress = store_->ListFanInProgress();
    if (!progress.ok()) return progress.status();
    fan_in = FanInJson(config_, *progress, clock_.Now());
  }
  auto conns = store_->ListConnections();
  if (!conns.ok()) return conns.status();
  json::array out;
  for (const store::ConnectionStatus& c : *conns) {
    out.push_back(json::object{{"connection_id", c.connection.id},
                               {"phase", std::string(store::ToString(c.connection.phase))},
                               {"sync_id", OrNull(c.connection.sync_id)},
                               {"phase_since", Iso(c.connection.phase_since)},
                               {"pending", c.pending},
                               {"dead", c.dead},
                               {"last_sync_id", OrNull(c.last_sync_id)},
                               {"last_outcome", OrNull(c.last_outcome)},
                               {"last_finished_at", OrNull(c.last_finished_at)},
                               {"last_metrics", c.last_sync_id.empty() ? json::value(nullptr)
                                                                       : json::value(json::object{{"succeeded", c.last_succeeded},
                                                                                                  {"failed", c.last_failed},
                                                                                                  {"total", c.last_total}})},
                               {"next_check_at", Iso(c.connection.next_check_at)},
                               {"attempts", c.connection.attempts},
                               {"last_error", OrNull(c.connection.last_error)}});
  }
  return json::value(json::object{{"connections", out}, {"fan_in", fan_in}});
}

StatusOr<json::value> Operations::Events(const store::EventFilter& filter) {
  if (store_ == nullptr) return NoStore();
  auto events = store_->ListEvents(filter);
  if (!events.ok()) return events.status();
  json::array out;
  for (const auto& e : *events) {
    json::object o = EventJson(e, false);
    auto triggers = store_->EventTriggers(e.event_id);
    if (!triggers.ok()) return triggers.status();
    json::array states, links;
    for (const auto& t : *triggers) {
      states.push_back(json::value(t.connection_id + ":" + t.state));
      links.push_back(json::object{{"trigger_id", t.id},
                                   {"connection_id", t.connection_id},
                                   {"state", t.state},
                                   {"sync_id", OrNull(t.sync_id)},
                                   {"last_error", OrNull(t.last_error)}});
    }
    o["triggers"] = states;
    o["links"] = links;
    out.push_back(o);
  }
  json::object result{{"events", out}};
  // The cursor for the next (older) page, when this one was full.
  result["next_before"] = static_cast<int>(events->size()) == filter.limit && !events->empty()
                              ? json::value(events->back().seq)
                              : json::value(nullptr);
  return json::value(std::move(result));
}

StatusOr<json::value> Operations::ActivityReport(int hours) {
  if (store_ == nullptr) return NoStore();
  const TimePoint now = clock_.Now();
  {
    MutexLock lock(activity_mu_);
    if (activity_ && activity_->hours == hours && now - activity_->at < std::chrono::minutes(1) && now >= activity_->at) {
      return activity_->report;
    }
  }
  const int64_t this_hour = ToUnixMillis(now) / 3'600'000;
  const int64_t first_hour = this_hour - hours + 1;
  auto activity = store_->ReadActivity(FromUnixMillis(first_hour * 3'600'000));
  if (!activity.ok()) return activity.status();
  struct Hour {
    int64_t webhooks = 0, succeeded = 0, failed = 0;
    double seconds = 0;
    int64_t timed = 0;
  };
  std::vector<Hour> by_hour(static_cast<size_t>(hours));
  for (const auto& [hour, n] : activity->webhooks_by_hour) {
    if (hour >= first_hour && hour <= this_hour) by_hour[static_cast<size_t>(hour - first_hour)].webhooks = n;
  }
  for (const store::Sync& sync : activity->finished) {
    auto finished = ParseIso8601(sync.finished_at);
    if (!finished) continue;
    const int64_t hour = ToUnixMillis(*finished) / 3'600'000;
    if (hour < first_hour || hour > this_hour) continue;
    Hour& h = by_hour[static_cast<size_t>(hour - first_hour)];
    (sync.status == "succeeded" ? h.succeeded : h.failed) += 1;
    if (auto started = ParseIso8601(sync.started_at); started && *started <= *finished) {
      h.seconds += std::chrono::duration<double>(*finished - *started).count();
      ++h.timed;
    }
  }
  json::array out;
  for (size_t i = 0; i < by_hour.size(); ++i) {
    const Hour& h = by_hour[i];
    out.push_back(json::object{
        {"hour", Iso(FromUnixMillis((first_hour + static_cast<int64_t>(i)) * 3'600'000))},
        {"webhooks", h.webhooks},
        {"syncs_succeeded", h.succeeded},
        {"syncs_failed", h.failed},
        {"sync_seconds_avg", h.timed ? json::value(h.seconds / static_cast<double>(h.timed)) : json::value(nullptr)}});
  }
  json::value report = json::object{{"hours", out}, {"computed_at", Iso(now)}};
  MutexLock lock(activity_mu_);
  activity_ = CachedActivity{hours, now, report};
  return report;
}

StatusOr<json::value> Operations::Event(const std::string& event_id) {
  if (store_ == nullptr) return NoStore();
  if (relay::Status s = CheckIdentifier(event_id, "event_id"); !s.ok()) return s;
  auto event = store_->GetEvent(event_id);
  if (!event.ok()) return event.status();
  if (!event->has_value()) return NotFoundError("no event " + event_id);
  auto triggers = store_->EventTriggers(event_id);
  if (!triggers.ok()) return triggers.status();
  json::array trail;
  for (const store::Trigger& t : *triggers) {
    json::object o = TriggerJson(t);
    auto attempts = store_->TriggerAttempts(t);
    if (!attempts.ok()) return attempts.status();
    json::array calls;
    for (const auto& a : *attempts) calls.push_back(AttemptJson(a));
    o["attempts"] = calls;
    o["sync"] = nullptr;
    if (!t.sync_id.empty()) {
      auto sync = store_->GetSync(t.connection_id, t.sync_id);
      if (!sync.ok()) return sync.status();
      if (sync->has_value()) o["sync"] = SyncJson(**sync);
    }
    trail.push_back(o);
  }
  json::object out = EventJson(**event, true);
  out["triggers"] = trail;
  // The fan-in routes its run counted toward, and whether it still waits in their progress.
  json::array fan_in;
  const std::string& verified = (*event)->verify_state;
  if (auto parsed = dbt::ParseRunWebhook((*event)->raw_body);
      parsed.ok() && verified != store::kVerifyPending && verified != store::kVerifyRejected) {
    // A corrected event counted with the API's status, which the stored event records.
    parsed->run_status_code = (*event)->run_status_code;
    std::vector<store::FanInStep> steps = routing::FanInFor(config_.routes, *parsed);
    if (!steps.empty()) {
      auto progress = store_->ListFanInProgress();
      if (!progress.ok()) return progress.status();
      for (const store::FanInStep& st : steps) {
        bool waiting = false;
        for (const store::FanInRun& r : *progress) waiting = waiting || (r.route == st.route && r.event_id == event_id);
        fan_in.push_back(json::object{{"route", st.route}, {"state", waiting ? "counted, waiting for the other jobs"
                                                                              : "counted; the route has fired since or the run expired"}});
      }
    }
  }
  out["fan_in"] = fan_in;
  return json::value(out);
}

StatusOr<json::value> Operations::Replay(const std::string& event_id) {
  if (store_ == nullptr) return NoStore();
  if (relay::Status s = CheckIdentifier(event_id, "event_id"); !s.ok()) return s;
  auto event = store_->GetEvent(event_id);
  if (!event.ok()) return event.status();
  if (!event->has_value()) return NotFoundError("no event " + event_id);
  const std::string& verified = (*event)->verify_state;
  if (verified == store::kVerifyRejected || verified == store::kVerifyCorrected || verified == store::kVerifyPending) {
    // Replay routes the payload's status, which dbt Cloud contradicted (or has not confirmed).
    return relay::Status(StatusCode::kFailedPrecondition,
                         "event " + event_id + " is " + verified + " by run verification (" + (*event)->verify_note +
                             "); replaying would act on the payload's status. Use `trigger` to sync a connection by hand");
  }
  auto parsed = dbt::ParseRunWebhook((*event)->raw_body);
  if (!parsed.ok()) return parsed.status();
  std::vector<store::NewTrigger> triggers;
  for (const routing::Match& m : routing::MatchRoutes(config_.routes, *parsed)) {
    triggers.push_back({m.route, m.connection_id, std::string(config::SyncTypeName(m.sync_type)),
                        std::string(config::IfRunningName(m.if_running)), ""});
  }
  auto ids = store_->AddTriggers(event_id, triggers, clock_.Now());
  if (!ids.ok()) return ids.status();
  json::array created;
  for (size_t i = 0; i < ids->size(); ++i) {
    created.push_back(json::object{{"id", (*ids)[i]}, {"route", triggers[i].route},
                                   {"connection_id", triggers[i].connection_id}});
  }
  return json::value(json::object{{"event_id", event_id}, {"triggers", created}});
}

StatusOr<json::value> Operations::Dead(int limit) {
  if (store_ == nullptr) return NoStore();
  auto dead = store_->ListTriggers(std::string(store::kDead), limit);
  if (!dead.ok()) return dead.status();
  json::array out;
  for (const auto& t : *dead) out.push_back(TriggerJson(t));
  return json::value(json::object{{"triggers", out}});
}

StatusOr<json::value> Operations::Retry(const std::vector<int64_t>& ids) {
  if (store_ == nullptr) return NoStore();
  auto moved = store_->RetryDead(ids, clock_.Now());
  if (!moved.ok()) return moved.status();
  if (!ids.empty() && moved->empty()) return NotFoundError("no dead trigger among the given ids");
  json::array out;
  for (int64_t id : *moved) out.push_back(id);
  return json::value(json::object{{"retried", out}});
}

StatusOr<json::value> Operations::Trigger(const std::string& connection_id, bool full) {
  if (store_ == nullptr) return NoStore();
  if (relay::Status s = CheckRudderstackId(connection_id, "connection_id"); !s.ok()) return s;
  store::NewTrigger t{"manual", connection_id, full ? "full" : "incremental", "queue", ""};
  auto ids = store_->AddTriggers("", {t}, clock_.Now());
  if (!ids.ok()) return ids.status();
  return TriggerInfo(ids->front());
}

StatusOr<json::value> Operations::TriggerInfo(int64_t id) {
  if (store_ == nullptr) return NoStore();
  auto t = store_->GetTrigger(id);
  if (!t.ok()) return t.status();
  if (!t->has_value()) return NotFoundError("no trigger " + std::to_string(id));
  json::object o = TriggerJson(**t);
  o["final"] = IsFinalTriggerState((*t)->state);
  if (!(*t)->sync_id.empty()) {
    // By key: scanning the connection's first 1,000 syncs lost it on a busy connection.
    auto sync = store_->GetSync((*t)->connection_id, (*t)->sync_id);
    if (!sync.ok()) return sync.status();
    if (sync->has_value()) o["sync"] = SyncJson(**sync);
  }
  return json::value(o);
}

StatusOr<json::value> Operations::Syncs(const std::string& connection_id, const std::string& status, int limit) {
  if (relay::Status s = CheckRudderstackId(connection_id, "connection_id"); !s.ok()) return s;
  if (!status.empty() && status != "running" && status != "succeeded" && status != "failed") {
    return InvalidArgumentError("status: must be running, succeeded or failed");
  }
  if (client_ == nullptr) return NoClient();
  rudderstack::CallMeta meta;
  auto syncs = client_->ListSyncs(connection_id, status, limit, &meta);
  if (!syncs.ok()) return syncs.status();
  json::array out;
  for (const auto& s : *syncs) out.push_back(SyncInfoJson(s));
  return json::value(json::object{{"connection_id", connection_id}, {"syncs", out}});
}

StatusOr<json::value> Operations::Sync(const std::string& connection_id, const std::string& sync_id) {
  if (relay::Status s = CheckRudderstackId(connection_id, "connection_id"); !s.ok()) return s;
  if (relay::Status s = CheckRudderstackId(sync_id, "sync_id"); !s.ok()) return s;
  if (client_ == nullptr) return NoClient();
  rudderstack::CallMeta meta;
  auto s = client_->GetSync(connection_id, sync_id, &meta);
  if (!s.ok()) return s.status();
  json::object o = SyncInfoJson(*s);
  o["connection_id"] = connection_id;
  return json::value(o);
}

StatusOr<json::value> Operations::Stop(const std::string& connection_id) {
  if (relay::Status s = CheckRudderstackId(connection_id, "connection_id"); !s.ok()) return s;
  if (client_ == nullptr) return NoClient();
  rudderstack::CallMeta meta;
  if (relay::Status s = client_->StopSync(connection_id, &meta); !s.ok()) return s;
  return json::value(json::object{{"connection_id", connection_id}, {"stop", "requested"}});
}

// What each fan-in route has and still waits for, and whether this event would complete it.
json::value Operations::ExplainFanIn(const config::Config& config, const dbt::RunEvent& ev,
                                     const StatusOr<std::vector<store::FanInRun>>& progress, TimePoint now) {
  if (std::none_of(config.routes.begin(), config.routes.end(), [](const config::Route& r) { return r.fan_in(); })) {
    return json::array();
  }
  if (!progress.ok()) return json::value("progress unknown: " + progress.status().message());
  json::array out = FanInJson(config, *progress, now);
  const std::vector<store::FanInStep> steps = routing::FanInFor(config.routes, ev);
  for (json::value& v : out) {
    json::object& o = v.as_object();
    o["counts_this_run"] = false;
    o["would_fire"] = false;
    for (const store::FanInStep& st : steps) {
      if (st.route != o.at("route").as_string()) continue;
      std::vector<store::FanInRun> with = *progress;
      with.push_back({st.route, st.job_id, st.run_id, ev.event_id, now});
      std::erase_if(with, [&](const store::FanInRun& r) { return r.route != st.route; });
      o["counts_this_run"] = true;
      o["would_fire"] = store::DecideFanIn(st, with).fire;
    }
  }
  return out;
}

StatusOr<json::value> Operations::Explain(const config::Config& config, std::string_view body,
                                          const StatusOr<std::vector<store::FanInRun>>& progress, TimePoint now) {
  auto ev = dbt::ParseRunWebhook(body);
  if (!ev.ok()) return ev.status();
  json::array routes;
  for (const routing::Verdict& v : routing::ExplainRoutes(config.routes, *ev)) {
    json::array reasons;
    for (const auto& r : v.reasons) reasons.push_back(json::value(r));
    routes.push_back(json::object{{"route", v.route}, {"matched", v.matched}, {"checks", reasons}});
  }
  json::array would;
  for (const routing::Match& m : routing::MatchRoutes(config.routes, *ev)) {
    would.push_back(json::object{{"route", m.route},
                                 {"connection_id", m.connection_id},
                                 {"sync_type", config::SyncTypeName(m.sync_type)},
                                 {"if_running", config::IfRunningName(m.if_running)}});
  }
  return json::value(json::object{{"event_id", ev->event_id},
                                  {"event_type", ev->event_type},
                                  {"job_id", ev->job_id.text},
                                  {"run_id", ev->run_id.text},
                                  {"run_status_code", ev->run_status_code},
                                  {"routes", routes},
                                  {"would_trigger", would},
                                  {"fan_in", ExplainFanIn(config, *ev, progress, now)}});
}

}  // namespace relay::admin
