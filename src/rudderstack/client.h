#pragma once
// Client: the RudderStack Reverse ETL Connections API the relay uses
// (docs/rudderstack_api.md). An interface so the dispatcher can be tested
// against an in-memory fake. Implementations are safe for concurrent use.
//
// Every method maps the outcome onto a Status, and nothing more: deciding what is retryable
// belongs to common/retry.h alone.
//   200/204 → OK · 400 → InvalidArgument · 401 → Unauthenticated · 403 → PermissionDenied
//   404 → NotFound · 409 → Conflict · 429 → ResourceExhausted (+Retry-After)
//   5xx → Unavailable (+Retry-After) · request timed out or connection dropped after sending →
//   DeadlineExceeded (the server may have acted) · could not connect → Unavailable ·
//   a connection or sync id that fails CheckRudderstackId (common/ids.h) → InvalidArgument,
//   and nothing is sent.

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace relay::rudderstack {

struct SyncInfo {
  std::string id;
  std::string status;  // "running", "succeeded", "failed", or anything else (non-terminal)
  std::string started_at;
  std::string finished_at;
  std::string error;  // at most 4 KB (longer answers are cut, "…" marking the cut)
  int64_t succeeded = 0, failed = 0, changed = 0, total = 0;  // metrics.*.total
};

// What one HTTP exchange looked like, for the audit trail.
struct CallMeta {
  int http_status = 0;  // 0 when no answer arrived
  int64_t latency_ms = 0;
};

class Client {
 public:
  virtual ~Client() = default;
  // POST /v2/retl-connections/{id}/start with {"syncType": sync_type}; returns the syncId.
  // A 200 without a syncId is DeadlineExceeded (ambiguous: a sync may have started).
  virtual StatusOr<std::string> StartSync(const std::string& connection_id, const std::string& sync_type,
                                          CallMeta* meta) = 0;
  // POST …/stop; OK on 204 (a stop was requested, not completed).
  virtual Status StopSync(const std::string& connection_id, CallMeta* meta) = 0;
  // GET …/syncs?status=…&per_page=…; status may be empty for all.
  virtual StatusOr<std::vector<SyncInfo>> ListSyncs(const std::string& connection_id, const std::string& status,
                                                    int per_page, CallMeta* meta) = 0;
  // GET …/syncs/{syncId}. An answer whose id is not sync_id is Unavailable (asked again later).
  virtual StatusOr<SyncInfo> GetSync(const std::string& connection_id, const std::string& sync_id,
                                     CallMeta* meta) = 0;
};

}  // namespace relay::rudderstack
