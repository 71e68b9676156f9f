#pragma once
// Store: the durable state shared by the receiver, the dispatcher and the CLI — events,
// triggers, per-connection leases, syncs and the attempt audit trail. See docs/schema.md.
//
// Implementations are safe for concurrent use from many threads. Every method may block on
// disk or network I/O, so none is called on an HTTP thread except AppendAsync, which only
// queues. A PostgreSQL implementation (a later release) implements the same interface.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace relay::store {

// The event as received and parsed, plus its raw bytes (kept for audit and replay).
struct NewEvent {
  std::string event_id;
  std::string event_type;
  std::optional<int64_t> account_id;
  int64_t job_id = 0;
  int64_t run_id = 0;
  int run_status_code = 0;
  std::string raw_body;
  TimePoint received_at;
};

// "Connection C must be synced because of this event". `dedupe_key` makes a trigger unique
// (route, connection, account, run, outcome), so completed+errored for one run trigger once.
struct NewTrigger {
  std::string route;
  std::string connection_id;
  std::string sync_type;   // "incremental" | "full"
  std::string if_running;  // "queue" | "skip" | "restart"
  std::string dedupe_key;
};

struct AppendResult {
  bool duplicate = false;              // the eventId was stored before; nothing was written
  // One entry per NewTrigger passed in, in order: the new trigger's id, or 0 when an earlier
  // event already triggered that (route, connection, run, outcome).
  std::vector<int64_t> trigger_ids;
  int created() const {
    int n = 0;
    for (int64_t id : trigger_ids) n += id != 0;
    return n;
  }
};

// Trigger states. Issue #3 adds the waiting/running/outcome states of the full lifecycle.
inline constexpr std::string_view kPending = "pending";   // waiting for a start
inline constexpr std::string_view kStarted = "started";   // a sync was started; sync_id set
inline constexpr std::string_view kDead = "dead";         // permanent error or too old

struct Trigger {
  int64_t id = 0;
  std::string event_id;  // empty for manual triggers
  std::string route;
  std::string connection_id;
  std::string sync_type;
  std::string if_running;
  std::string state;
  int attempts = 0;
  TimePoint created_at;
  TimePoint next_attempt_at;
  std::string last_error;
  std::string sync_id;
};

// A connection leased to one worker together with its due pending triggers.
struct Claim {
  std::string connection_id;
  std::vector<Trigger> triggers;
};

// One HTTP call to RudderStack, for the audit trail.
struct Attempt {
  std::string connection_id;
  std::string kind;  // "start", "get_sync", …
  TimePoint at;
  int64_t latency_ms = 0;
  int http_status = 0;  // 0 when no answer arrived
  std::string outcome;  // "ok" or the error text
  std::string sync_id;
  std::vector<int64_t> trigger_ids;
};

struct StoredEvent {
  std::string event_id;
  std::string event_type;
  int64_t job_id = 0;
  int64_t run_id = 0;
  int run_status_code = 0;
  TimePoint received_at;
  std::string raw_body;
};

class Store {
 public:
  virtual ~Store() = default;

  // Commits the event and its triggers in one transaction and makes them durable before
  // `done` runs (on a store thread; keep it short). Concurrent calls share one commit.
  // `done` receives the result, AlreadyExists never (a duplicate is result.duplicate), or
  // Unavailable when the database cannot commit.
  using AppendCallback = std::function<void(StatusOr<AppendResult>)>;
  virtual void AppendAsync(NewEvent event, std::vector<NewTrigger> triggers, AppendCallback done) = 0;
  // Blocking form of AppendAsync.
  StatusOr<AppendResult> Append(NewEvent event, std::vector<NewTrigger> triggers);

  // Leases one connection that has pending triggers due at `now` and no live lease by another
  // owner; returns it with those triggers, or nullopt when there is no such work.
  virtual StatusOr<std::optional<Claim>> ClaimConnection(const std::string& owner, TimePoint now,
                                                         Duration lease) = 0;
  // Gives up the lease if `owner` still holds it.
  virtual Status ReleaseConnection(const std::string& connection_id, const std::string& owner) = 0;

  // Trigger transitions; each applies to all `ids` in one transaction.
  virtual Status MarkStarted(const std::vector<int64_t>& ids, const std::string& sync_id, TimePoint now) = 0;
  virtual Status MarkRetry(const std::vector<int64_t>& ids, TimePoint next_attempt_at,
                           const std::string& error, TimePoint now) = 0;
  virtual Status MarkDead(const std::vector<int64_t>& ids, const std::string& reason, TimePoint now) = 0;
  virtual Status RecordAttempt(const Attempt& attempt) = 0;

  // Reads, for the CLI, the admin API and tests.
  virtual StatusOr<std::vector<Trigger>> ListTriggers(const std::string& state_filter, int limit) = 0;
  virtual StatusOr<std::optional<StoredEvent>> GetEvent(const std::string& event_id) = 0;
  virtual StatusOr<int64_t> CountEvents() = 0;
  virtual StatusOr<std::vector<Attempt>> ListAttempts(const std::string& connection_id, int limit) = 0;
};

// Opens (creating if needed) the database named by a store URL ("sqlite://path") and applies
// pending schema migrations. InvalidArgument for an unsupported URL, Unavailable when the
// database cannot be opened or migrated.
StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url);

}  // namespace relay::store
