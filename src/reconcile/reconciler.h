#pragma once
// Reconciler: catches the dbt runs whose webhook never arrived (the relay was down longer than
// dbt's retries, a proxy ate the request, the subscription was deactivated or its job list
// edited). A pass lists the recent runs of every scope the routes name with the Admin API runs
// list (newest finished first, paged), and stores an event — source "reconcile", the same
// routing and trigger dedupe as the webhook — for each finished run (status 10, 20, 30) that
// no event records yet. Dedupe works both ways through the store's run outcome
// (NewEvent::records_outcome): a webhook arriving later for a reconciled run is a duplicate,
// and a run seen by webhook is never reconciled.
//
// Watermark: the first pass over a scope stores "now" as its watermark and triggers nothing
// that finished before it, so turning reconciliation on (or adding a route) never starts a
// burst of syncs for old runs. After that a run counts when it finished after the watermark,
// within `lookback` of now, and at least `grace` ago (an on-time webhook may arrive a while
// after finished_at). Watermarks are in the store, shared by every instance. Each pass reads
// the whole window again (the store says which runs are known): at most kMaxPages pages of
// kPageSize runs per scope — runs, not pages: a page answer longer than kPageSize is cut — so
// runs beyond the newest 2,000 in the window are not reconciled (logged). Each page is checked
// against the store and stored before the next is read: no store job sees more than one page.
//
// Scopes: each job id a route names; for a route without job ids, each project id (with each
// of its environment ids, when it names both), else each environment id, else the whole
// account. A route whose account_ids exclude the configured account is skipped. A pass stops
// at the first error: every scope meets the same host and token. Blocking (HTTP and store);
// run it on a worker thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "config/config.h"
#include "dbtcloud/client.h"
#include "store/store.h"

namespace relay::reconcile {

struct Scope {
  std::string kind;  // "job", "project", "environment" or "account"
  int64_t id = 0;    // the job, project or environment id; the account's for "account"
  std::optional<int64_t> environment_id;  // with kind "project": and this environment
  std::string key;   // the watermark's name, "{account}/{kind}/{id}[/environment/{id}]"
};
std::vector<Scope> ScopesFor(const config::Config& config);

struct Reconciled {
  int64_t run_id = 0;
  int64_t job_id = 0;
  int status = 0;
  std::string event_id;
  int triggers = 0;  // created (0 when routes did not match or the dedupe key was seen)
};

struct PassReport {
  int scopes = 0;
  int new_scopes = 0;  // scopes seen for the first time: watermark set, nothing reconciled
  int pages = 0;
  int runs_listed = 0;
  int in_window = 0;  // finished runs after the watermark and within lookback
  int known = 0;      // of those, already recorded by an event
  int missed = 0;     // of the created events, those that started syncs (a route fired)
  std::vector<Reconciled> created;
  std::vector<std::string> truncated;  // scopes with more runs in the window than a pass reads (kMaxPages)
  Status status;  // the first error (the other scopes are still done)
};

class Reconciler {
 public:
  // At most kMaxPages pages of kPageSize runs are read per scope and pass.
  static constexpr int kPageSize = 100;
  static constexpr int kMaxPages = 20;

  // `on_triggers` runs after a pass that created triggers (it wakes the dispatcher).
  Reconciler(const config::Config& config, dbtcloud::Client& api, store::IngestStore& ingest, store::RunStore& runs,
             Clock& clock, std::function<void()> on_triggers = nullptr);

  PassReport RunPass();

 private:
  Status ReconcileScope(const Scope& scope, PassReport& report);
  // The finished runs of one page: those the store does not know yet are stored.
  Status ReconcileRuns(const std::vector<dbtcloud::Run>& window, std::set<store::RunStore::RunOutcome>& done_runs,
                       PassReport& report);
  // Stores the event of one missed run; appends to report.created when it was new.
  Status Store(const dbtcloud::Run& run, PassReport& report);

  const config::Config& config_;
  dbtcloud::Client& api_;
  store::IngestStore& ingest_;
  store::RunStore& runs_;
  Clock& clock_;
  std::function<void()> on_triggers_;
};

// The webhook-shaped body of a reconciled run's event (what `event` and replay read), with a
// "reconciled" object saying where it came from. Its eventId is "reconcile-{run}-{status}".
std::string ReconciledBody(const dbtcloud::Run& run, const std::string& account_id, TimePoint now);

}  // namespace relay::reconcile
