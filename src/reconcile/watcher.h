#pragma once
// Watcher: the thread that talks to dbt Cloud. It runs a reconciliation pass every
// dbt_cloud.reconcile_interval (the first one at start-up), and verifies pending webhook runs
// (verify_runs) as soon as one is stored and whenever one is due again. Never on an HTTP thread.
//
// Failures back off: after a pass that failed with a retryable error (429, 5xx, timeouts), the
// next comes after 15 s, doubling up to the interval, and never before dbt Cloud's Retry-After.
// A refusal (401, 403, 404) waits a whole interval. Each distinct failure, of a pass or of a
// verification, is logged once: a refusal as an error with its fix, a passing problem as a
// warning; the recovery is logged too.

#include <functional>
#include <thread>

#include "common/clock.h"
#include "common/mutex.h"
#include "reconcile/reconciler.h"
#include "reconcile/verifier.h"

namespace relay::reconcile {

class Watcher {
 public:
  // `on_triggers` runs when reconciliation or verification created triggers.
  Watcher(const config::Config& config, dbtcloud::Client& api, store::IngestStore& ingest, store::RunStore& runs,
          Clock& clock, std::function<void()> on_triggers);
  ~Watcher();  // stops the thread
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  void Start();
  void Stop();
  // An event waiting for verification was stored.
  void WakeVerifier();

  // How long to wait after a pass with this outcome, `failures` passes in a row having failed
  // (this one included). Exposed for tests.
  static Duration NextPassIn(const Status& status, int failures, Duration interval);
  // What an operator should do about a failed pass: the fix for a refused token, a missing
  // permission, a wrong account or access URL; empty for a passing problem.
  static std::string FixFor(const Status& status, const config::DbtCloudConfig& config);

 private:
  void Loop();
  void ReportPass(const PassReport& report);
  void ReportProblem(const Status& status, const char* what);

  const config::Config& config_;
  Clock& clock_;
  Reconciler reconciler_;
  Verifier verifier_;
  Mutex mu_;
  CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool verify_now_ GUARDED_BY(mu_) = true;  // look for pending verifications at start-up too
  int failures_ = 0;                         // consecutive failed passes (the thread's own)
  std::string last_problem_;                 // the failure last logged, to log each once
  std::thread thread_;
};

}  // namespace relay::reconcile
