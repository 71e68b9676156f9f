#pragma once
// Parsing of dbt Cloud job webhook bodies (docs/dbt_webhook.md).
// Lenient as the spec requires: ids as JSON strings or integers (never through double),
// `webhookId` or `webhooksID`, unknown fields ignored. No I/O; safe to call from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace relay::dbt {

// dbt Cloud run status codes (Admin API v2 Run.status). Decisions use these, never runStatus.
inline constexpr int kRunStatusRunning = 3;
inline constexpr int kRunStatusSuccess = 10;
inline constexpr int kRunStatusError = 20;
inline constexpr int kRunStatusCancelled = 30;

inline constexpr std::string_view kEventRunStarted = "job.run.started";
inline constexpr std::string_view kEventRunCompleted = "job.run.completed";
inline constexpr std::string_view kEventRunErrored = "job.run.errored";

// A numeric id: int64 for matching, and its canonical decimal text (no leading zeros) for
// dedupe keys and logs, whether it came as "0555", "555" or 555. Never negative.
struct Id {
  int64_t value = 0;
  std::string text;
};

struct RunEvent {
  std::string event_id;     // dedupe key, e.g. "wev_2L6Z…"
  std::string event_type;   // "job.run.completed", or any other string (stored, not routed)
  std::optional<Id> account_id;
  std::string webhook_id;   // from webhookId or webhooksID; may be empty
  std::string timestamp;    // RFC 3339 with nanoseconds, kept verbatim
  Id job_id;
  std::string job_name;
  Id run_id;
  std::optional<Id> environment_id;
  std::optional<Id> project_id;
  int run_status_code = 0;
  std::string run_status;   // "Success", "Errored", … for logs only
};

// Returns the parsed event, or InvalidArgument whose message names the offending field
// ("data.runId: missing", "body: not a JSON object", …). Required: eventId, eventType,
// data.jobId, data.runId, data.runStatusCode. Optional ids that are present must be valid.
// eventId, eventType and webhookId are at most 256 bytes without control characters.
StatusOr<RunEvent> ParseRunWebhook(std::string_view body);

// True for the events that carry a final outcome (completed, errored).
bool IsTerminalEventType(std::string_view event_type);

// True when the event records its run's outcome: a terminal event with status 10, 20 or 30.
// At most one event per (run, status) is stored (store::NewEvent::records_outcome).
bool RecordsOutcome(const RunEvent& ev);

}  // namespace relay::dbt
