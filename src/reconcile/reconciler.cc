#include "reconcile/reconciler.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <set>

#include "common/log.h"
#include "common/metrics.h"
#include "dbt/webhook.h"
#include "routing/router.h"

namespace relay::reconcile {
namespace json = boost::json;
namespace {

bool Finished(int status) {
  return status == dbt::kRunStatusSuccess || status == dbt::kRunStatusError || status == dbt::kRunStatusCancelled;
}

std::string_view StatusWord(int status) {
  switch (status) {
    case dbt::kRunStatusSuccess: return "Success";
    case dbt::kRunStatusError: return "Errored";
    default: return "Cancelled";
  }
}

}  // namespace

std::vector<Scope> ScopesFor(const config::Config& config) {
  std::vector<Scope> out;
  std::set<std::string> seen;
  int64_t account = 0;
  const std::string& acct = config.dbt_cloud.account_id;
  if (!acct.empty() && acct.size() <= 18 && acct.find_first_not_of("0123456789") == std::string::npos) {
    account = std::stoll(acct);
  }
  auto add = [&](const char* kind, int64_t id, std::optional<int64_t> environment = std::nullopt) {
    Scope s{kind, id, environment, acct + "/" + kind + "/" + std::to_string(id)};
    if (environment) s.key += "/environment/" + std::to_string(*environment);
    if (seen.insert(s.key).second) out.push_back(std::move(s));
  };
  for (const config::Route& r : config.routes) {
    if (!r.account_ids.empty() && std::find(r.account_ids.begin(), r.account_ids.end(), account) == r.account_ids.end()) {
      continue;  // never matches this account's runs
    }
    if (!r.job_ids.empty()) {
      for (int64_t id : r.job_ids) add("job", id);
    } else if (!r.project_ids.empty()) {
      for (int64_t id : r.project_ids) {
        if (r.environment_ids.empty()) add("project", id);
        for (int64_t env : r.environment_ids) add("project", id, env);
      }
    } else if (!r.environment_ids.empty()) {
      for (int64_t id : r.environment_ids) add("environment", id);
    } else {
      add("account", account);
    }
  }
  return out;
}

std::string ReconciledBody(const dbtcloud::Run& run, const std::string& account_id, TimePoint now) {
  json::object data;
  data["jobId"] = std::to_string(run.job_id);
  if (!run.job_name.empty()) data["jobName"] = run.job_name;
  data["runId"] = std::to_string(run.id);
  if (run.environment_id) data["environmentId"] = std::to_string(*run.environment_id);
  if (run.project_id) data["projectId"] = std::to_string(*run.project_id);
  data["runStatus"] = StatusWord(run.status);
  data["runStatusCode"] = run.status;
  if (!run.finished_at.empty()) data["runFinishedAt"] = run.finished_at;
  json::object body;
  body["eventId"] = "reconcile-" + std::to_string(run.id) + "-" + std::to_string(run.status);
  body["eventType"] = run.status == dbt::kRunStatusError ? dbt::kEventRunErrored : dbt::kEventRunCompleted;
  body["accountId"] = run.account_id != 0 ? std::to_string(run.account_id) : account_id;
  body["timestamp"] = FormatIso8601(now);
  body["data"] = std::move(data);
  json::object origin{{"source", "dbt Cloud runs list"}, {"status_humanized", run.status_humanized}};
  if (!run.href.empty()) origin["href"] = run.href;
  body["reconciled"] = std::move(origin);
  return json::serialize(body);
}

Reconciler::Reconciler(const config::Config& config, dbtcloud::Client& api, store::IngestStore& ingest,
                       store::RunStore& runs, Clock& clock, std::function<void()> on_triggers)
    : config_(config), api_(api), ingest_(ingest), runs_(runs), clock_(clock), on_triggers_(std::move(on_triggers)) {}

PassReport Reconciler::RunPass() {
  PassReport report;
  for (const Scope& scope : ScopesFor(config_)) {
    ++report.scopes;
    Status s = ReconcileScope(scope, report);
    if (!s.ok()) {
      // Every scope meets the same host and token: a refusal, a 429 (whose Retry-After the
      // next pass honours) or an outage is not worth repeating per scope.
      report.status = s;
      break;
    }
  }
  int triggers = 0;
  for (const Reconciled& r : report.created) {
    triggers += r.triggers;
    report.missed += r.triggers > 0;
  }
  metrics::Default()
      .GetCounter("retl_relay_reconcile_passes_total", "reconciliation passes over dbt Cloud's runs list, by result",
                  {{"result", report.status.ok() ? "ok" : "error"}})
      .Inc();
  for (const bool triggered : {true, false}) {
    const size_t n = triggered ? static_cast<size_t>(report.missed) : report.created.size() - static_cast<size_t>(report.missed);
    if (n == 0) continue;
    metrics::Default()
        .GetCounter("retl_relay_reconciled_events_total",
                    "events stored for finished runs that no webhook had recorded, by whether a route fired",
                    {{"triggered", triggered ? "true" : "false"}})
        .Inc(n);
  }
  if (triggers > 0 && on_triggers_) on_triggers_();
  return report;
}

Status Reconciler::ReconcileScope(const Scope& scope, PassReport& report) {
  // In the store's precision (ms), so that a watermark stored just now compares equal to it.
  const TimePoint now = FromUnixMillis(ToUnixMillis(clock_.Now()));
  StatusOr<TimePoint> mark = runs_.Watermark(scope.key, now);
  if (!mark.ok()) return mark.status();
  if (*mark >= now) {
    // First sight: nothing before this moment counts, so there is nothing to list yet.
    ++report.new_scopes;
    log::Info("reconcile: watermark set; runs that finished before it are never reconciled",
              {{"scope", scope.key}, {"watermark", FormatIso8601(*mark)}});
    return Status::Ok();
  }
  const TimePoint cutoff = std::max(*mark, now - config_.dbt_cloud.lookback);
  const TimePoint settled = now - config_.dbt_cloud.grace;  // finished before this: webhook overdue
  // Page by page: each page's runs are checked against the store and stored before the next
  // page is read, so no store job holds more than one page's runs (the writer is never held
  // long enough to delay a webhook's commit) and memory holds one page.
  std::set<store::RunStore::RunOutcome> done_runs;  // a run listed twice (paging shifted) once
  bool done = false;
  for (int page = 0; page < kMaxPages && !done; ++page) {
    dbtcloud::RunsQuery q;
    if (scope.kind == "job") q.job_id = scope.id;
    if (scope.kind == "project") q.project_id = scope.id;
    q.environment_id = scope.environment_id;
    if (scope.kind == "environment") q.environment_id = scope.id;
    q.limit = kPageSize;
    q.offset = page * kPageSize;
    StatusOr<std::vector<dbtcloud::Run>> runs = api_.ListRuns(q);
    if (!runs.ok()) return runs.status();
    // The cap counts runs, not pages: an answer longer than asked for is cut to the page.
    if (runs->size() > static_cast<size_t>(kPageSize)) runs->resize(static_cast<size_t>(kPageSize));
    ++report.pages;
    report.runs_listed += static_cast<int>(runs->size());
    if (runs->size() < static_cast<size_t>(kPageSize)) done = true;
    std::vector<dbtcloud::Run> window;
    for (dbtcloud::Run& run : *runs) {
      // Unfinished runs (no finished_at) may come first in a descending order: skip them, and
      // stop at the first finished run older than the cutoff.
      if (!run.finished) continue;
      if (*run.finished < cutoff) {
        done = true;
        break;
      }
      if (Finished(run.status) && *run.finished <= settled) window.push_back(std::move(run));
    }
    if (!done && page + 1 == kMaxPages) report.truncated.push_back(scope.key);
    if (Status s = ReconcileRuns(window, done_runs, report); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Reconciler::ReconcileRuns(const std::vector<dbtcloud::Run>& window,
                                 std::set<store::RunStore::RunOutcome>& done_runs, PassReport& report) {
  report.in_window += static_cast<int>(window.size());
  if (window.empty()) return Status::Ok();
  std::vector<store::RunStore::RunOutcome> keys;
  for (const dbtcloud::Run& r : window) keys.emplace_back(r.id, r.status);
  StatusOr<std::vector<store::RunStore::RunOutcome>> known = runs_.KnownRuns(keys);
  if (!known.ok()) return known.status();
  const std::set<store::RunStore::RunOutcome> seen(known->begin(), known->end());
  for (const dbtcloud::Run& r : window) {
    if (seen.count({r.id, r.status}) > 0) {
      ++report.known;
      continue;
    }
    if (!done_runs.insert({r.id, r.status}).second) continue;
    if (Status s = Store(r, report); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Reconciler::Store(const dbtcloud::Run& run, PassReport& report) {
  const TimePoint now = clock_.Now();
  const std::string body = ReconciledBody(run, config_.dbt_cloud.account_id, now);
  StatusOr<dbt::RunEvent> ev = dbt::ParseRunWebhook(body);
  if (!ev.ok()) return InternalError("reconcile: built an unparsable event: " + ev.status().message());
  store::NewEvent e;
  e.event_id = ev->event_id;
  e.event_type = ev->event_type;
  if (ev->account_id) e.account_id = ev->account_id->value;
  e.job_id = ev->job_id.value;
  e.run_id = ev->run_id.value;
  e.run_status_code = ev->run_status_code;
  e.raw_body = body;
  e.received_at = now;
  e.source = "reconcile";
  e.records_outcome = true;
  e.fan_in = routing::FanInFor(config_.routes, *ev);
  // A run found late counts from when it finished, for a fan-in route's window.
  for (store::FanInStep& step : e.fan_in) {
    if (run.finished) step.at = FromUnixMillis(ToUnixMillis(std::min(*run.finished, now)));
  }
  std::vector<store::NewTrigger> triggers = routing::TriggersFor(config_.routes, *ev);
  StatusOr<store::AppendResult> r = ingest_.Append(std::move(e), triggers);
  if (!r.ok()) return r.status();
  if (r->duplicate) {
    ++report.known;  // a webhook (or another instance) recorded it meanwhile
    return Status::Ok();
  }
  report.created.push_back({run.id, run.job_id, run.status, ev->event_id, r->created()});
  // Warn only when it matters: a route fired, so a sync would have been missed. A run no route
  // wants (an error when routes fire on success, say) is recorded quietly.
  (r->created() > 0 ? log::Warn : log::Info)(
      r->created() > 0 ? "reconcile: stored a run whose webhook never arrived; its syncs start now"
                       : "reconcile: recorded a finished run no webhook reported (no route fired)",
      {{"event_id", ev->event_id}, {"job_id", std::to_string(run.job_id)}, {"run_id", std::to_string(run.id)},
       {"run_status_code", std::to_string(run.status)}, {"finished_at", run.finished_at},
       {"triggers", std::to_string(r->created())}});
  return Status::Ok();
}

}  // namespace relay::reconcile
