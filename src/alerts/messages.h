#pragma once
// What an alert sink receives (docs/operations.md, "Alerts"). Pure functions; no I/O.
//
// kind = "webhook": JSON, signed with X-Retl-Relay-Signature: sha256=<hex HMAC-SHA256 of the
// body> when the sink has a secret:
//   {"kind": "sync_failed", "at": "2026-11-30T10:00:00.000Z", "alert_id": 17,
//    "connection_id": "2abc…", "sync_id": "…", "error": "…", "event_ids": ["wev_…"],
//    "run_ids": ["123"], "summary": "RudderStack sync … failed: …"}
// Several alerts raised within the sink's min_interval go out together as
//   {"kind": "summary", "at": …, "count": 50, "counts": {"sync_failed": 49, …},
//    "alerts": [the first 20, as above], "connection_id": null, …, "summary": "50 alerts: …"}
// kind = "slack": {"text": "…"}, one line per alert (at most 10, then "and N more").

#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "store/store.h"

namespace relay::alerts {

// An alert with the dbt runs its start covered (store::AlertStore::RunsOfStart).
struct Alert {
  store::StoredAlert stored;
  std::vector<std::pair<std::string, int64_t>> runs;  // (event id, run id)
  int64_t triggers = 0;                               // how many triggers the start covered
};

// The message for one or several alerts (several: a summary), for each sink kind.
std::string WebhookBody(const std::vector<Alert>& alerts, TimePoint now);
std::string SlackBody(const std::vector<Alert>& alerts);
// The X-Retl-Relay-Signature header value for `body`: "sha256=<lowercase hex>".
std::string SignatureValue(const std::string& body, const std::string& secret);

// The test message of send-test-alert, in the sink's kind.
std::string TestBody(const std::string& sink_kind, TimePoint now);

}  // namespace relay::alerts
