#include "reconcile/verifier.h"

#include <algorithm>

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
  bool woke = false;
  for (const store::PendingVerification& p : *due) {
    const TimePoint now = clock_.Now();
    StatusOr<dbt::RunEvent> ev = dbt::ParseRunWebhook(p.raw_body);
    std::string state, note;
    std::vector<store::NewTrigger> triggers;
    if (!ev.ok()) {
      state = store::kVerifyRejected;  // cannot happen: the webhook handler parsed it
      note = "stored body no longer parses: " + ev.status().message();
    } else {
      StatusOr<dbtcloud::Run> run = api_.GetRun(ev->run_id.value);
      const bool window_over = now - p.received_at >= config_.dbt_cloud.verify_window;
      if (run.ok() && run->is_complete) {
        const int claimed = ev->run_status_code;
        ev->run_status_code = run->status;
        state = run->status == claimed ? store::kVerifyConfirmed : store::kVerifyCorrected;
        note = "dbt Cloud: run " + ev->run_id.text + " " + (run->status_humanized.empty() ? "" : run->status_humanized + " ") +
               "(status " + std::to_string(run->status) + ")";
        if (run->status != claimed) note += "; the webhook said " + std::to_string(claimed) + ", the API's status was used";
        triggers = routing::TriggersFor(config_.routes, *ev);
      } else if (!run.ok() && run.status().code() == StatusCode::kNotFound) {
        state = store::kVerifyRejected;
        note = "dbt Cloud does not know run " + ev->run_id.text + " (404): no trigger. A test delivery, another "
               "account, or dbt_cloud.api_base is not the account's access URL";
      } else if (!window_over) {
        const bool incomplete = run.ok();
        note = incomplete ? "dbt Cloud shows run " + ev->run_id.text + " not complete yet (status " +
                                std::to_string(run->status) + ")"
                          : "dbt Cloud did not answer: " + run.status().message();
        Duration wait = incomplete ? kNotCompleteRetry
                                   : std::min<Duration>(std::chrono::seconds(5) * (int64_t{1} << std::min(p.attempts, 5)),
                                                        std::chrono::seconds(60));
        if (!run.ok() && run.status().retry_after().count() > 0) wait = std::max<Duration>(wait, run.status().retry_after());
        if (Status s = runs_.PostponeVerification(p.event_id, now + wait, note); !s.ok()) {
          report.status = s;
          return report;
        }
        ++report.postponed;
        continue;
      } else {
        state = store::kVerifyUnverified;
        note = (run.ok() ? "dbt Cloud still showed the run not complete"
                         : "dbt Cloud did not answer (" + run.status().message() + ")") +
               std::string(" within verify_window: acted on the signed webhook as it was");
        triggers = routing::TriggersFor(config_.routes, *ev);
      }
    }
    StatusOr<store::AppendResult> r = runs_.ResolveVerification(p.event_id, state, note, triggers, now);
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

}  // namespace relay::reconcile
