#include "alerts/messages.h"

#include <boost/json.hpp>
#include <map>
#include <set>

#include "dbt/signature.h"

namespace relay::alerts {
namespace {

namespace json = boost::json;

constexpr size_t kSummaryAlerts = 20;  // alerts a summary carries in full
constexpr size_t kSlackLines = 10;

json::value OrNull(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }

json::object AlertJson(const Alert& a) {
  const store::NewAlert& n = a.stored.alert;
  json::array events, runs;
  for (const auto& [event_id, run_id] : a.runs) {
    if (!event_id.empty()) events.push_back(json::value(event_id));
    if (run_id != 0) runs.push_back(json::value(std::to_string(run_id)));
  }
  json::object o{{"kind", n.kind},
                 {"at", FormatIso8601(n.at)},
                 {"alert_id", a.stored.id},
                 {"connection_id", OrNull(n.connection_id)},
                 {"sync_id", OrNull(n.sync_id)},
                 {"error", OrNull(n.error)},
                 {"event_ids", events},
                 {"run_ids", runs},
                 {"summary", n.summary}};
  if (a.triggers > 0) o["triggers"] = a.triggers;
  return o;
}

// "50 alerts since 10:00:01Z: 49 sync_failed (connections a, b), 1 trigger_dead (connection c)".
std::string SummaryLine(const std::vector<Alert>& alerts) {
  std::map<std::string, std::set<std::string>> connections;
  std::map<std::string, int> counts;
  for (const Alert& a : alerts) {
    ++counts[a.stored.alert.kind];
    if (!a.stored.alert.connection_id.empty()) connections[a.stored.alert.kind].insert(a.stored.alert.connection_id);
  }
  std::string out = std::to_string(alerts.size()) + " alerts since " + FormatIso8601(alerts.front().stored.alert.at) + ":";
  bool first = true;
  for (const auto& [kind, n] : counts) {
    out += std::string(first ? " " : ", ") + std::to_string(n) + " " + kind;
    first = false;
    const std::set<std::string>& cs = connections[kind];
    if (cs.empty()) continue;
    out += cs.size() == 1 ? " (connection " : " (connections ";
    size_t i = 0;
    for (const std::string& c : cs) {
      if (i == 5) {
        out += ", …";
        break;
      }
      out += (i++ ? ", " : "") + c;
    }
    out += ")";
  }
  return out;
}

std::string RunsText(const Alert& a) {
  if (a.runs.empty()) return "";
  std::string out = " (dbt runs ";
  for (size_t i = 0; i < a.runs.size(); ++i) out += (i ? ", " : "") + std::to_string(a.runs[i].second);
  if (a.triggers > static_cast<int64_t>(a.runs.size())) out += ", …";
  return out + ")";
}

}  // namespace

std::string WebhookBody(const std::vector<Alert>& alerts, TimePoint now) {
  if (alerts.size() == 1) return json::serialize(AlertJson(alerts.front()));
  json::array carried;
  json::object counts;
  for (const Alert& a : alerts) {
    if (carried.size() < kSummaryAlerts) carried.push_back(AlertJson(a));
    json::value& n = counts[a.stored.alert.kind];
    n = n.is_int64() ? n.as_int64() + 1 : 1;
  }
  return json::serialize(json::object{{"kind", "summary"},
                                      {"at", FormatIso8601(now)},
                                      {"count", alerts.size()},
                                      {"counts", counts},
                                      {"alerts", carried},
                                      {"connection_id", nullptr},
                                      {"sync_id", nullptr},
                                      {"error", nullptr},
                                      {"event_ids", json::array()},
                                      {"run_ids", json::array()},
                                      {"summary", SummaryLine(alerts) + " (rate-limited: one message per min_interval)"}});
}

std::string SlackBody(const std::vector<Alert>& alerts) {
  std::string text;
  if (alerts.size() == 1) {
    const Alert& a = alerts.front();
    text = "retl-relay " + a.stored.alert.kind + ": " + a.stored.alert.summary + RunsText(a);
  } else {
    text = "retl-relay: " + SummaryLine(alerts);
    for (size_t i = 0; i < alerts.size() && i < kSlackLines; ++i) {
      text += "\n• " + alerts[i].stored.alert.kind + ": " + alerts[i].stored.alert.summary + RunsText(alerts[i]);
    }
    if (alerts.size() > kSlackLines) text += "\n… and " + std::to_string(alerts.size() - kSlackLines) + " more";
  }
  return json::serialize(json::object{{"text", text}});
}

std::string SignatureValue(const std::string& body, const std::string& secret) {
  return "sha256=" + dbt::SignBody(body, secret);
}

std::string TestBody(const std::string& sink_kind, TimePoint now) {
  const std::string summary = "test alert from retl-relay send-test-alert: this sink is configured correctly";
  if (sink_kind == "slack") return json::serialize(json::object{{"text", "retl-relay: " + summary}});
  return json::serialize(json::object{{"kind", "test"},
                                      {"at", FormatIso8601(now)},
                                      {"connection_id", nullptr},
                                      {"sync_id", nullptr},
                                      {"error", nullptr},
                                      {"event_ids", json::array()},
                                      {"run_ids", json::array()},
                                      {"summary", summary}});
}

}  // namespace relay::alerts
