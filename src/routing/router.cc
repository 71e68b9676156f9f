#include "routing/router.h"

#include <algorithm>

namespace relay::routing {
namespace {

template <typename T>
std::string ListText(const std::vector<T>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

template <typename T>
bool Contains(const std::vector<T>& v, T x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The one place that decides whether an id passes a filter: an empty filter takes any id (or
// none); a non-empty one needs the id present and listed.
bool IdOk(const std::vector<int64_t>& allowed, const std::optional<dbt::Id>& id) {
  return allowed.empty() || (id && Contains(allowed, id->value));
}

// The decision alone, with no text: what every webhook pays for. A fan-in route matches an
// event of one of its after_all jobs; whether it fires is the store's to decide.
bool Matches(const config::Route& r, const dbt::RunEvent& ev) {
  return dbt::IsTerminalEventType(ev.event_type) && Contains(r.on_status_codes, ev.run_status_code) &&
         IdOk(r.account_ids, ev.account_id) && IdOk(r.project_ids, ev.project_id) &&
         IdOk(r.environment_ids, ev.environment_id) && IdOk(r.fan_in() ? r.after_all : r.job_ids, ev.job_id);
}

std::string DedupeKey(const std::string& route, const std::string& connection, const dbt::RunEvent& ev) {
  return route + "|" + connection + "|" + (ev.account_id ? ev.account_id->text : "") + "|" + ev.run_id.text + "|" +
         std::to_string(ev.run_status_code);
}

store::NewTrigger TriggerOf(const config::Route& r, const std::string& connection, const dbt::RunEvent& ev) {
  return {r.name, connection, std::string(config::SyncTypeName(r.sync_type)),
          std::string(config::IfRunningName(r.if_running)), DedupeKey(r.name, connection, ev)};
}

// Checks one id filter with IdOk, appending the reason.
bool CheckId(const char* name, const std::vector<int64_t>& allowed, const std::optional<dbt::Id>& id,
             std::vector<std::string>* reasons) {
  const bool ok = IdOk(allowed, id);
  if (allowed.empty()) {
    reasons->push_back(std::string(name) + ": any");
  } else if (!id) {
    reasons->push_back(std::string(name) + ": absent from the payload, route needs " + ListText(allowed));
  } else {
    reasons->push_back(std::string(name) + " " + id->text + (ok ? " in " : " not in ") + ListText(allowed));
  }
  return ok;
}

Verdict Evaluate(const config::Route& r, const dbt::RunEvent& ev) {
  Verdict v;
  v.route = r.name;
  bool ok = dbt::IsTerminalEventType(ev.event_type);
  v.reasons.push_back("event_type " + ev.event_type + (ok ? ": terminal" : ": not a terminal run event"));
  bool status_ok = Contains(r.on_status_codes, ev.run_status_code);
  v.reasons.push_back("run_status_code " + std::to_string(ev.run_status_code) + (status_ok ? " in " : " not in ") +
                      ListText(r.on_status_codes));
  ok &= status_ok;
  ok &= CheckId("account_id", r.account_ids, ev.account_id, &v.reasons);
  ok &= CheckId("project_id", r.project_ids, ev.project_id, &v.reasons);
  ok &= CheckId("environment_id", r.environment_ids, ev.environment_id, &v.reasons);
  if (r.fan_in()) {
    const bool in_set = IdOk(r.after_all, ev.job_id);
    v.reasons.push_back("job_id " + ev.job_id.text + (in_set ? " is one of after_all " : " not in after_all ") +
                        ListText(r.after_all) + (in_set ? ": counts toward the fan-in" : ""));
    ok &= in_set;
  } else {
    ok &= CheckId("job_id", r.job_ids, ev.job_id, &v.reasons);
  }
  v.matched = ok;
  v.fan_in = r.fan_in();
  return v;
}

}  // namespace

std::vector<Match> MatchRoutes(const std::vector<config::Route>& routes, const dbt::RunEvent& ev) {
  std::vector<Match> out;
  for (const config::Route& r : routes) {
    if (r.fan_in() || !Matches(r, ev)) continue;
    for (const std::string& c : r.connections) out.push_back({r.name, c, r.sync_type, r.if_running});
  }
  return out;
}

std::vector<store::FanInStep> FanInFor(const std::vector<config::Route>& routes, const dbt::RunEvent& ev) {
  std::vector<store::FanInStep> out;
  for (const config::Route& r : routes) {
    if (!r.fan_in() || !Matches(r, ev)) continue;
    store::FanInStep step;
    step.route = r.name;
    step.job_id = ev.job_id.value;
    step.run_id = ev.run_id.value;
    step.after_all = r.after_all;
    step.within = r.within;
    for (const std::string& c : r.connections) step.fire.push_back(TriggerOf(r, c, ev));
    out.push_back(std::move(step));
  }
  return out;
}

std::vector<Verdict> ExplainRoutes(const std::vector<config::Route>& routes, const dbt::RunEvent& ev) {
  std::vector<Verdict> out;
  for (const config::Route& r : routes) out.push_back(Evaluate(r, ev));
  return out;
}

}  // namespace relay::routing

namespace relay::routing {

std::vector<store::NewTrigger> TriggersFor(const std::vector<config::Route>& routes, const dbt::RunEvent& ev) {
  std::vector<store::NewTrigger> out;
  for (const config::Route& r : routes) {
    if (r.fan_in() || !Matches(r, ev)) continue;
    for (const std::string& c : r.connections) out.push_back(TriggerOf(r, c, ev));
  }
  return out;
}

}  // namespace relay::routing
