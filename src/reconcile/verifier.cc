#include "reconcile/verifier.h"

#include <algorithm>
#include <optional>

#include "common/log.h"
#include "common/metrics.h"
#include "common/retry.h"
#include "dbt/webhook.h"
#include "routing/router.h"

namespace relay::reconcile {
namespace {

constexpr Duration kNotCompleteRetry = std::chrono::seconds(30);

void Count(std::string_view result) {
  metrics::Default()
      .GetCounter("retl_relay_verified_events_total", "webhook events verified with dbt Cloud (verify_runs), by result",
                  {{"result", std::string(result)}})
      .Inc();
}

}  // namespace

Verifier::Verifier(const config::Config& config, dbtcloud::Client& api, store::RunStore& runs,
                   Clock& clock, std::function<void()> on_triggers)
    : config_(config), api_(api), runs_(runs), clock_(clock), on_triggers_(std::move(on_triggers)) {}

Verifier::Report Verifier::RunDue() {
  Report report;
  StatusOr<std::vector<store::PendingVerification>> due = runs_.DueVerifications(clock_.Now(), kBatch);
  if (!due.ok()) {
    report.status = due.status();
    return report;
  }
  // Whether the configured account answers at all, asked once per batch before a 404 is
  // trusted: with a wrong account id or access URL every run would be "unknown".
  std::optional<Status> account;
  bool woke = false;
  for (const store::PendingVerification& p : *due) {
    const TimePoint now = clock_.Now();
    StatusOr<dbt::RunEvent> ev = dbt::ParseRunWebhook(p.raw_body);
    std::string state, note;
    std::vector<store::NewTrigger> triggers;
    std::vector<store::FanInStep> fan_in;
    int status = 0;
    if (!ev.ok()) {
      state = store::kVerifyRejected;  // cannot happen: the webhook handler parsed it
      note = "stored body no longer parses: " + ev.status().message();
    } else {
      status = ev->run_status_code;
      StatusOr<dbtcloud::Run> run = api_.GetRun(ev->run_id.value);
      if (!run.ok() && run.status().code() == StatusCode::kNotFound) {
        if (!account) {
          dbtcloud::RunsQuery probe;
          probe.limit = 1;
          StatusOr<std::vector<dbtcloud::Run>> listed = api_.ListRuns(probe);
          account = listed.ok() ? Status::Ok() : listed.status();
        }
        if (!account->ok()) run = *account;  // not the run: the account, token or URL is wrong
      }
      const bool unknown_run = !run.ok() && run.status().code() == StatusCode::kNotFound && account && account->ok();
      const bool window_over = now - p.received_at >= config_.dbt_cloud.verify_window;
      if (run.ok() && run->is_complete) {
        status = run->status;
        state = run->status == ev->run_status_code ? store::kVerifyConfirmed : store::kVerifyCorrected;
        note = "dbt Cloud: run " + ev->run_id.text + " " +
               (run->status_humanized.empty() ? "" : run->status_humanized + " ") + "(status " +
               std::to_string(run->status) + ")";
        if (state == store::kVerifyCorrected) {
          note += "; the webhook said " + std::to_string(ev->run_status_code) + ", the API's status was used";
        }
        ev->run_status_code = run->status;
        triggers = routing::TriggersFor(config_.routes, *ev);
        fan_in = routing::FanInFor(config_.routes, *ev);
      } else if (unknown_run) {
        state = store::kVerifyRejected;
        note = "dbt Cloud does not know run " + ev->run_id.text + " (404) while the account answers: no trigger. "
               "A test delivery, or a run of another account";
      } else if (run.ok() && window_over) {
        // The API answers, and still shows the run going on: the payload's "finished" is
        // contradicted, whatever it says.
        state = store::kVerifyRejected;
        note = "dbt Cloud still shows run " + ev->run_id.text + " not complete (status " + std::to_string(run->status) +
               ") after verify_window: no trigger";
      } else if (!window_over) {
        const bool incomplete = run.ok();
        note = incomplete ? "dbt Cloud shows run " + ev->run_id.text + " not complete yet (status " +
                                std::to_string(run->status) + ")"
                          : "dbt Cloud did not answer: " + run.status().message();
        Duration wait = incomplete ? kNotCompleteRetry
                                   : BackoffDelay({std::chrono::seconds(5), std::chrono::seconds(60)}, p.attempts, 1.0,
                                                  run.status());
        // Never past the window's end: then the signed webhook is acted on (README, verify_runs).
        wait = std::min<Duration>(wait, std::chrono::duration_cast<Duration>(p.received_at + config_.dbt_cloud.verify_window - now));
        if (Status s = runs_.PostponeVerification(p.event_id, now + wait, note); !s.ok()) {
          report.status = s;
          return report;
        }
        ++report.postponed;
        if (!run.ok()) {
          report.api_problem = run.status();
          break;  // the rest of the batch would meet the same outage: it stays due
        }
        continue;
      } else {
        state = store::kVerifyUnverified;
        note = "dbt Cloud did not answer within verify_window (" + run.status().message() +
               "): acted on the signed webhook as it was";
        report.api_problem = run.status();
        triggers = routing::TriggersFor(config_.routes, *ev);
        fan_in = routing::FanInFor(config_.routes, *ev);
      }
    }
    StatusOr<store::AppendResult> r = runs_.ResolveVerification(p.event_id, state, note, status, triggers, fan_in, now);
    if (!r.ok()) {
      report.status = r.status();
      return report;
    }
    if (r->duplicate) continue;  // another instance resolved it
    ++report.resolved;
    Count(state);
    woke = woke || r->created() > 0;
    (state == store::kVerifyConfirmed ? log::Info : log::Warn)(
        "webhook run verified", {{"event_id", p.event_id}, {"verification", state}, {"note", note},
                                 {"triggers", std::to_string(r->created())}});
  }
  if (woke && on_triggers_) on_triggers_();
  return report;
}

Status ReleasePendingVerifications(const config::Config& config, store::RunStore& runs, Clock& clock) {
  for (;;) {
    StatusOr<std::vector<store::PendingVerification>> due =
        runs.DueVerifications(clock.Now() + std::chrono::hours(24 * 365), Verifier::kBatch);
    if (!due.ok()) return due.status();
    if (due->empty()) return Status::Ok();
    for (const store::PendingVerification& p : *due) {
      StatusOr<dbt::RunEvent> ev = dbt::ParseRunWebhook(p.raw_body);
      std::vector<store::NewTrigger> triggers;
      std::vector<store::FanInStep> fan_in;
      if (ev.ok()) {
        triggers = routing::TriggersFor(config.routes, *ev);
        fan_in = routing::FanInFor(config.routes, *ev);
      }
      StatusOr<store::AppendResult> r = runs.ResolveVerification(
          p.event_id, store::kVerifyUnverified, "verify_runs was turned off before dbt Cloud confirmed the run: acted on "
          "the signed webhook as it was", ev.ok() ? ev->run_status_code : 0, triggers, fan_in, clock.Now());
      if (!r.ok()) return r.status();
      log::Warn("webhook run not verified: verify_runs is off",
                {{"event_id", p.event_id}, {"triggers", std::to_string(r->created())}});
    }
  }
}

}  // namespace relay::reconcile
