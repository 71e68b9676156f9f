#pragma once
// Routing: which RETL connections a dbt run event starts, by the declarative [[route]] rules.
// Pure functions; no I/O. A route fires for a terminal event (job.run.completed or
// job.run.errored) whose run status code is in its `on` list and whose account, project,
// environment and job ids are each in the route's list (an empty list matches any id).

#include <string>
#include <vector>

#include "config/config.h"
#include "dbt/webhook.h"
#include "store/store.h"

namespace relay::routing {

struct Match {
  std::string route;
  std::string connection_id;
  config::SyncType sync_type;
  config::IfRunning if_running;
};

// One Match per (route, connection) that fires, in config order. Many-to-many: several routes
// may name one connection and one route may name several. Fan-in routes (after_all) are not
// here: they fire through FanInFor and the store.
std::vector<Match> MatchRoutes(const std::vector<config::Route>& routes, const dbt::RunEvent& ev);

// The triggers an event makes, one per Match, each with its dedupe key: one trigger per (route,
// connection, account, run, outcome), so errored + completed for one failed run, a
// re-delivery under a new eventId, or the reconciled and the webhook's event of one run
// trigger once.
std::vector<store::NewTrigger> TriggersFor(const std::vector<config::Route>& routes, const dbt::RunEvent& ev);

// One step per fan-in route the event counts toward (its job is in after_all and every other
// filter passes): the store records the run and fires the route's triggers (dedupe keys as
// TriggersFor's, of the run that completes the set) when it completes the set.
std::vector<store::FanInStep> FanInFor(const std::vector<config::Route>& routes, const dbt::RunEvent& ev);

// Why each route did or did not fire, for `explain` and debug logs.
struct Verdict {
  std::string route;
  bool matched = false;
  bool fan_in = false;  // an after_all route: matched means the run counts toward it
  std::vector<std::string> reasons;  // one line per checked field, e.g. "job_id 123 in [123, 456]"
};
std::vector<Verdict> ExplainRoutes(const std::vector<config::Route>& routes, const dbt::RunEvent& ev);

}  // namespace relay::routing
