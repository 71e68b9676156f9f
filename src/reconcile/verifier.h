#pragma once
// Verifier (dbt_cloud.verify_runs): confirms each terminal webhook's run with Retrieve Run
// before routing it. The webhook handler stores such an event with verification pending and no
// triggers; the verifier then, off the HTTP threads:
//   - the API knows the run and it is complete → routes the event with the API's status (a
//     forged-but-signed "Success" for a run that errored starts nothing): "confirmed", or
//     "corrected" when the two differ (the event then records the API's status);
//   - 404, while the account itself answers (one runs-list call per batch) → no trigger:
//     "rejected" (a test delivery, a run of another account). A 404 for the account too means a
//     wrong account id or access URL, and counts as no answer;
//   - the run is not complete yet (an errored event arrives before the API has caught up) →
//     asks again every 30 s; still not complete after `verify_window` → "rejected": the API
//     answered and contradicts the payload;
//   - the API does not answer (5xx, 429, timeouts, a refused token) → asks again with backoff,
//     and after `verify_window` acts on the signed webhook as it is: "unverified".
// Every decision is in the event's verification state and note (`event`, the admin API).
// Only webhooks of the configured account are verified (the handler routes others at once).
// Blocking: run it on a worker thread. Several instances may verify at once; the store resolves
// each event once.

#include <functional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "config/config.h"
#include "dbtcloud/client.h"
#include "store/store.h"

namespace relay::reconcile {

class Verifier {
 public:
  static constexpr int kBatch = 20;  // events verified per RunDue call
  Verifier(const config::Config& config, dbtcloud::Client& api, store::RunStore& runs,
           Clock& clock, std::function<void()> on_triggers = nullptr);

  struct Report {
    int resolved = 0;
    int postponed = 0;
    Status status;       // the store's error, if any
    Status api_problem;  // dbt Cloud's last failure, for the watcher to report once
  };
  // Verifies the events that are due now (at most kBatch).
  Report RunDue();

 private:
  const config::Config& config_;
  dbtcloud::Client& api_;
  store::RunStore& runs_;
  Clock& clock_;
  std::function<void()> on_triggers_;
};

// With verify_runs off (or no [dbt_cloud]): events a previous configuration left pending are
// routed on their signed payload ("unverified"), instead of waiting for ever. Run at start-up.
Status ReleasePendingVerifications(const config::Config& config, store::RunStore& runs, Clock& clock);

}  // namespace relay::reconcile
