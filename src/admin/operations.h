#pragma once
// Operations: every read and action an operator has — status, events and their audit trail,
// replay, dead triggers and retries, manual triggers, and direct RudderStack calls — as one
// function each returning JSON. The CLI renders the same JSON as tables (or prints it with
// --json); the admin API returns it as is. Blocking: call off the HTTP threads.
//
// Errors: NotFound for unknown ids, InvalidArgument for bad input, the store's or the API's
// status otherwise. No secret ever appears in the output.

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "config/config.h"
#include "dbt/webhook.h"
#include "rudderstack/client.h"
#include "store/store.h"

namespace relay::admin {

class Operations {
 public:
  // `client` may be null when no RudderStack token is configured (direct API calls then fail
  // with FailedPrecondition); `store` may be null for the commands that only call RudderStack
  // (the store reads and actions then fail likewise). `config` supplies the routes for replay.
  Operations(store::OperatorStore* store, rudderstack::Client* client, const config::Config& config, Clock& clock);

  // Per connection: phase, running sync, pending and dead triggers, last outcome, next check.
  StatusOr<boost::json::value> StatusReport();
  // Newest first, each with its triggers (as "connection:state", and as `links` naming each
  // trigger's id, state and sync); `next_before` is the cursor for the next page, or null.
  StatusOr<boost::json::value> Events(const store::EventFilter& filter);
  // The last `hours` hours, hour by hour: webhooks received, syncs succeeded and failed (by the
  // hour they finished) and their mean duration. For the status page's charts; computed at most
  // once a minute per `hours` (every open page polls it, and counting a day of webhooks reads
  // them all).
  StatusOr<boost::json::value> ActivityReport(int hours);
  // The whole audit trail: event → triggers → attempts → syncs → outcome.
  StatusOr<boost::json::value> Event(const std::string& event_id);
  // Re-runs routing for a stored event; the new triggers carry no dedupe key.
  StatusOr<boost::json::value> Replay(const std::string& event_id);
  StatusOr<boost::json::value> Dead(int limit);
  // Retries the given dead triggers, or all dead ones when `ids` is empty.
  StatusOr<boost::json::value> Retry(const std::vector<int64_t>& ids);
  // A manual trigger for `connection_id`, subject to coalescing and the queue policy.
  StatusOr<boost::json::value> Trigger(const std::string& connection_id, bool full);
  StatusOr<boost::json::value> TriggerInfo(int64_t id);

  // Direct RudderStack API calls.
  StatusOr<boost::json::value> Syncs(const std::string& connection_id, const std::string& status, int limit);
  StatusOr<boost::json::value> Sync(const std::string& connection_id, const std::string& sync_id);
  StatusOr<boost::json::value> Stop(const std::string& connection_id);

  // No side effects: which routes match a dbt payload, field by field, and for each fan-in
  // route what it has, what it still waits for and whether this payload would fire it
  // (`progress`: the store's ListFanInProgress, or why it could not be read).
  static StatusOr<boost::json::value> Explain(const config::Config& config, std::string_view body,
                                              const StatusOr<std::vector<store::FanInRun>>& progress, TimePoint now);
  // Each fan-in route of `config`: after_all, within, the runs it has counted and the jobs it
  // still waits for at `now`.
  static boost::json::array FanInJson(const config::Config& config, const std::vector<store::FanInRun>& progress,
                                      TimePoint now);

  static bool IsFinalTriggerState(std::string_view state);

 private:
  static boost::json::value ExplainFanIn(const config::Config& config, const dbt::RunEvent& ev,
                                         const StatusOr<std::vector<store::FanInRun>>& progress, TimePoint now);

  store::OperatorStore* store_;
  rudderstack::Client* client_;
  const config::Config& config_;
  Clock& clock_;
  struct CachedActivity {
    int hours = 0;
    TimePoint at;
    boost::json::value report;
  };
  Mutex activity_mu_;
  std::optional<CachedActivity> activity_ GUARDED_BY(activity_mu_);
};

// JSON for the store's records; times as ISO-8601 UTC.
boost::json::object TriggerJson(const store::Trigger& t);

}  // namespace relay::admin
