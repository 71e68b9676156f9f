#pragma once
// Store: the durable state shared by the receiver, the dispatcher and the CLI — events,
// triggers, starts (what covers which triggers), per-connection leases and counters, syncs and
// the attempt audit trail. See docs/schema.md.
//
// Implementations are safe for concurrent use from many threads. Every method may block on
// disk or network I/O, so none is called on an HTTP thread except AppendAsync, which only
// queues. One SQL implementation (sql_store.h) serves SQLite (sqlite_store.h) and PostgreSQL
// (postgres_store.h) through a small dialect seam; one conformance suite runs against both.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace relay::store {

struct NewTrigger;

// One run counted toward a fan-in route (config::Route::after_all) since the route last fired.
struct FanInRun {
  std::string route;
  int64_t job_id = 0;
  int64_t run_id = 0;
  std::string event_id;
  TimePoint at;  // when its event was received
};

// What an event does to one fan-in route it matches (routing::FanInFor): its run counts toward
// the route, in the same transaction as the event; when that completes the set (each job of
// `after_all` has a counted run, the latest ones within `within` of one another), `fire` is added,
// every counted run is recorded on those triggers (Trigger::fan_in_runs) and the set starts over.
// Concurrent appends on one route are serialised (PostgreSQL: a transaction-scoped advisory
// lock), so two instances receiving the last two runs at once fire once.
struct FanInStep {
  std::string route;
  int64_t job_id = 0;
  int64_t run_id = 0;
  // When the run counts from: its finish time for a run the reconciler found late; unset, the
  // event's received_at.
  std::optional<TimePoint> at;
  std::vector<int64_t> after_all;
  Duration within{0};  // zero: no window
  std::vector<NewTrigger> fire;
};

// Progress keeps at most this many runs per (route, job), the newest.
inline constexpr int kFanInRunsPerJob = 10;

// What a fan-in step came to.
struct FanInResult {
  std::string route;
  bool fired = false;
  std::vector<int64_t> waiting_for;  // not fired: the jobs with no counted run (in after_all order)
  std::vector<FanInRun> runs;        // fired: the runs it consumed
  std::vector<int64_t> trigger_ids;  // fired: one per FanInStep::fire, 0 for a dedupe key seen before
};

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
  // "webhook", or "reconcile" for an event the reconciler made from dbt Cloud's runs list.
  std::string source = "webhook";
  // The event records its run's outcome (a completed or errored event with status 10, 20 or
  // 30): no other event may record the same (run id, status), whatever its eventId. The
  // later one is a duplicate (AppendResult::duplicate_run).
  bool records_outcome = false;
  // Stored with verification pending and no triggers; the verifier (reconcile/verifier.h)
  // confirms the run with dbt Cloud and adds them (RunStore::ResolveVerification).
  bool verify = false;
  // The fan-in routes the event counts toward (applied only when the event is stored).
  std::vector<FanInStep> fan_in{};
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
  bool duplicate_run = false;          // duplicate because another event records this run's outcome
  // One entry per NewTrigger passed in, in order: the new trigger's id, or 0 when an earlier
  // event already triggered that (route, connection, run, outcome).
  std::vector<int64_t> trigger_ids;
  std::vector<FanInResult> fan_in;  // one per FanInStep, in order
  // New triggers, fan-in ones included.
  int created() const {
    int n = 0;
    for (int64_t id : trigger_ids) n += id != 0;
    for (const FanInResult& f : fan_in) {
      for (int64_t id : f.trigger_ids) n += id != 0;
    }
    return n;
  }
};

// The decision of one fan-in step, given the route's stored progress (the step's own run
// included): shared by both backends. `expire_before`: rows received before it no longer count
// (set only with a window).
struct FanInDecision {
  bool fire = false;
  std::vector<int64_t> waiting_for;
  std::vector<FanInRun> counted;  // the rows of after_all's jobs that still count
  std::optional<TimePoint> expire_before;
};
// `now`, when given, counts as the newest time for the window (what the route would still
// count if a run arrived now: status and explain).
FanInDecision DecideFanIn(const FanInStep& step, const std::vector<FanInRun>& progress,
                          std::optional<TimePoint> now = std::nullopt);
// The runs as stored in triggers.fan_in_runs (JSON), and back.
std::string FanInRunsJson(const std::vector<FanInRun>& runs);
std::vector<FanInRun> ParseFanInRuns(std::string_view json, const std::string& route);

// Trigger states as reads report them (docs/schema.md):
//   pending → starting → running → succeeded | failed
//   pending → skipped (a sync already running covers it, if_running = "skip")
//   pending | starting | running → dead (permanent error, outcome unknown)
//   pending → dead (still pending after dispatch.max_age)
// A trigger row does not carry its state: the connection's `covered` watermark and the start
// whose range holds the trigger's `seq` do (Start below). Rows written before schema 5 keep
// theirs.
inline constexpr std::string_view kPending = "pending";      // not yet covered by a sync
inline constexpr std::string_view kStarting = "starting";    // assigned to a start attempt
inline constexpr std::string_view kRunning = "running";      // covered by sync_id, in progress
inline constexpr std::string_view kSucceeded = "succeeded";  // covering sync succeeded
inline constexpr std::string_view kFailed = "failed";        // covering sync failed
inline constexpr std::string_view kSkipped = "skipped";      // covered by a sync already running
inline constexpr std::string_view kDead = "dead";            // given up; last_error says why
// A start whose /start met another sync and waits for it to end (if_running "queue" or
// "restart"). Its triggers read as pending; the next start extends it.
inline constexpr std::string_view kQueued = "queued";

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
  int64_t start_id = 0;  // the start covering it; 0 while pending or for a row from before schema 5
  std::vector<FanInRun> fan_in_runs;  // a fan-in route's trigger: every run that satisfied it
};

// Connection phases (dispatch/connection_machine.h explains the transitions), parsed once, by
// the store: the machine never sees the text.
enum class Phase {
  kIdle,
  kStarting,  // start sent or about to be; outcome unknown
  kWaiting,   // another sync runs; queue behind it
  kStopping,  // stop requested; wait until not running
  kRunning,   // our sync `sync_id` runs; poll it
};
inline constexpr Phase kPhases[] = {Phase::kIdle, Phase::kStarting, Phase::kWaiting, Phase::kStopping, Phase::kRunning};
// As stored and shown: "idle", "starting", "waiting", "stopping", "running".
std::string_view ToString(Phase phase);
std::optional<Phase> ParsePhase(std::string_view text);

// The dispatch state of one RETL connection, one row per connection. Written by the connection
// machine through Commit (ingest writes the row's other columns: its trigger counters).
struct Connection {
  std::string id;
  Phase phase = Phase::kIdle;
  std::string sync_id;                          // running: ours; waiting/stopping: the other one
  std::optional<TimePoint> start_attempted_at;  // set durably before every POST …/start
  std::string sync_type;                        // of the start in progress
  int attempts = 0;                             // consecutive failures, for backoff
  TimePoint next_check_at;                      // not worked on before this
  TimePoint phase_since;                        // when the phase was entered
  std::string last_error;
  // Every trigger of the connection with seq <= covered belongs to a start; those above are
  // pending. Starts tile (0, covered] without gaps or overlaps.
  int64_t covered = 0;
};

// The pending triggers of a connection, as aggregates kept by ingest in the connection's row:
// those with seq in (Connection::covered, seq]. What a claim knows of them, whatever their number.
struct Backlog {
  int64_t seq = 0;  // the last seq given to a trigger of the connection
  // The last seq given to a trigger with sync_type "full", and with each if_running policy:
  // "is there one in (lo, seq]" is "last > lo", for any lo, with no counter to reset.
  int64_t last_full = 0, last_skip = 0, last_queue = 0, last_restart = 0;
  std::optional<TimePoint> oldest;  // created_at of the first pending trigger (none pending: nullopt)
  int64_t Count(int64_t covered) const { return seq - covered; }
};

// if_running policies present among a start's triggers, as bits.
inline constexpr int kPolicySkip = 1, kPolicyQueue = 2, kPolicyRestart = 4;

// A start's state; its triggers read as it (queued: pending). Final: succeeded, failed,
// skipped, dead.
enum class StartState { kStarting, kQueued, kRunning, kSucceeded, kFailed, kSkipped, kDead };
inline constexpr StartState kStartStates[] = {StartState::kStarting,  StartState::kQueued, StartState::kRunning,
                                              StartState::kSucceeded, StartState::kFailed, StartState::kSkipped,
                                              StartState::kDead};
// As stored, and as its triggers' state reads: the k* trigger states above.
std::string_view ToString(StartState state);
std::optional<StartState> ParseStartState(std::string_view text);

// A start: one request for a sync, covering the connection's triggers with seq in
// (seq_lo, seq_hi] — every trigger it covers at once, however many. Its state is theirs.
//   starting → running → succeeded | failed     (queued while another sync runs; skipped; dead)
struct Start {
  int64_t id = 0;  // 0 until stored (Commit fills it in)
  std::string connection_id;
  int64_t seq_lo = 0, seq_hi = 0;
  int64_t triggers = 0;  // how many it covers (less those retried out of it since)
  std::string sync_type = "incremental";
  int policies = 0;  // kPolicy* bits of its triggers
  StartState state = StartState::kStarting;
  std::string sync_id;  // the covering sync (running and after), or the other one (skipped, queued)
  std::string error;
  TimePoint oldest;  // created_at of its oldest trigger
  std::optional<TimePoint> attempted_at;
};

// A connection leased to one worker, with what it decides from.
struct Claim {
  Connection connection;
  Backlog backlog;
  std::optional<Start> current;  // the connection's unfinished start (starting, queued or running)
};

// One HTTP call to RudderStack, for the audit trail.
struct Attempt {
  std::string connection_id;
  std::string kind;  // "start", "get_sync", "list_syncs", "stop"
  TimePoint at;
  int64_t latency_ms = 0;
  int http_status = 0;  // 0 when no answer arrived
  std::string outcome;  // "ok" or the error text
  std::string sync_id;
  int64_t start_id = 0;  // the start the call was made for
};

// A RudderStack sync as the relay knows it.
struct Sync {
  std::string connection_id;
  std::string sync_id;
  std::string status;      // running | succeeded | failed | other (non-terminal) | unknown
  std::string origin;      // "relay" (started by us), "adopted" (found after an ambiguous start),
                           // "external" (seen running, not ours)
  std::string started_at;  // as RudderStack reports it (ISO-8601)
  std::string finished_at;
  std::string error;
  int64_t succeeded = 0, failed = 0, changed = 0, total = 0;
  std::string sync_type;
};

// An alert raised (alerts/ delivers it to every [[alert]] sink whose `on` lists its kind).
struct NewAlert {
  std::string kind;  // config::kAlert* (config/config.h)
  TimePoint at;
  std::string connection_id;
  std::string sync_id;
  int64_t start_id = 0;  // the start it is about: delivery adds the dbt runs the start covered
  // In a Transition: the start is Transition::starts[start_index] (Commit sets start_id once
  // that start has its id). -1: start_id as given.
  int start_index = -1;
  std::string error;
  std::string summary;  // one human line
  // Unique when set: an alert with a key stored before is not stored again (several instances,
  // or a check that runs again, raise it once).
  std::string dedupe_key;
};

struct StoredAlert {
  int64_t id = 0;
  NewAlert alert;
};

// A sink's delivery state: every alert with an id up to `last_alert_id` has been handled
// (delivered, or not wanted by the sink).
struct AlertSinkState {
  std::string name;
  int64_t last_alert_id = 0;
  std::optional<TimePoint> last_sent_at;
  int attempts = 0;  // consecutive failed deliveries
  TimePoint next_at;  // not tried before this
  std::string last_error;
  int64_t delivered = 0;  // messages delivered so far
};

// One atomic step of a connection's state machine, committed only while `owner` holds the lease.
// Its cost does not depend on how many triggers the starts cover.
struct Transition {
  std::string owner;
  TimePoint now;
  Connection connection;     // the full new row (the machine's columns)
  std::vector<Start> starts;  // upserted by id; id 0 inserts, and Commit writes the new id back
  std::vector<Sync> syncs;   // upserted by (connection_id, sync_id)
  std::vector<Attempt> attempts;
  std::vector<NewAlert> alerts;  // raised by this step (sync failed, start dead)
  bool release = false;  // give up the lease afterwards
};

struct EventFilter {
  int limit = 20;
  std::optional<int64_t> job_id;
  std::optional<TimePoint> since;  // received at or after
  std::optional<int64_t> before;   // StoredEvent::seq below this: the next page of a listing
};

// A connection with what an operator wants to see at a glance.
struct ConnectionStatus {
  Connection connection;
  int64_t pending = 0;        // triggers not yet covered by a sync (queued ones included)
  int64_t dead = 0;
  std::string last_sync_id;   // the most recently updated sync of ours
  std::string last_outcome;   // its status
  std::string last_finished_at;
  int64_t last_succeeded = 0, last_failed = 0, last_total = 0;  // its record counts
  std::optional<TimePoint> oldest_pending;  // created_at of its oldest pending trigger (queued ones included)
  // The oldest trigger of a start not answered yet (starting: being sent, or retried).
  std::optional<TimePoint> oldest_starting;
};

// Point-in-time numbers for /metrics.
struct Gauges {
  int64_t pending = 0;  // triggers not yet covered by a sync
  int64_t dead = 0;
  std::optional<TimePoint> oldest_pending;  // created_at of the oldest pending trigger
  std::map<std::string, int64_t> connections_by_phase;
};

// What happened since a moment, for the status page's charts.
struct Activity {
  std::map<int64_t, int64_t> webhooks_by_hour;  // Unix hour (ms / 3,600,000) → events received
  std::vector<Sync> finished;                   // syncs that succeeded or failed since
};

// What one Prune call removed (or, dry, would remove).
struct PruneCounts {
  int64_t events = 0;
  int64_t triggers = 0;
  int64_t syncs = 0;
  int64_t attempts = 0;
  int64_t starts = 0;
  int64_t alerts = 0;
  int64_t total() const { return events + triggers + syncs + attempts + starts + alerts; }
  PruneCounts& operator+=(const PruneCounts& o) {
    events += o.events;
    triggers += o.triggers;
    syncs += o.syncs;
    attempts += o.attempts;
    starts += o.starts;
    alerts += o.alerts;
    return *this;
  }
};

struct StoredEvent {
  int64_t seq = 0;  // the store's row id: grows with every event stored (a paging cursor)
  std::string event_id;
  std::string event_type;
  int64_t job_id = 0;
  int64_t run_id = 0;
  int run_status_code = 0;
  TimePoint received_at;
  std::string raw_body;
  std::string source;        // "webhook" or "reconcile"
  std::string verify_state;  // empty (not verified), "pending", "confirmed", "corrected",
                             // "rejected" or "unverified" (acted on the webhook as it was)
  std::string verify_note;   // what the verification found, for the audit trail
};

// Verification states (StoredEvent::verify_state).
inline constexpr std::string_view kVerifyPending = "pending";
inline constexpr std::string_view kVerifyConfirmed = "confirmed";    // the API agrees with the payload
inline constexpr std::string_view kVerifyCorrected = "corrected";    // the API's status differs; it was used
inline constexpr std::string_view kVerifyRejected = "rejected";      // the API does not know the run: no trigger
inline constexpr std::string_view kVerifyUnverified = "unverified";  // no answer in time: acted on the webhook

// An event waiting for its run to be confirmed.
struct PendingVerification {
  std::string event_id;
  std::string raw_body;
  TimePoint received_at;
  int attempts = 0;
};

// The store by role. Each consumer takes the narrowest one: the webhook handler ingests, the
// connection machine runs lifecycles, the CLI and admin API read and act, the pruner prunes,
// the alerter delivers alerts and reads connections' status, the reconciler and verifier
// keep runs, health checks ping.

// Ingest: the receiver's one write.
class IngestStore {
 public:
  virtual ~IngestStore() = default;
  // Commits the event and its triggers in one transaction and makes them durable before
  // `done` runs (on a store thread; keep it short). Concurrent calls share one commit.
  // `done` receives the result, AlreadyExists never (a duplicate is result.duplicate), or
  // Unavailable when the database cannot commit. Each new trigger takes the next seq of its
  // connection and updates the connection's Backlog counters: O(1) whatever is waiting.
  using AppendCallback = std::function<void(StatusOr<AppendResult>)>;
  virtual void AppendAsync(NewEvent event, std::vector<NewTrigger> triggers, AppendCallback done) = 0;
  // Blocking form of AppendAsync.
  StatusOr<AppendResult> Append(NewEvent event, std::vector<NewTrigger> triggers);
};

// Connection lifecycle and leases: the dispatcher's side. No method reads or writes per trigger.
class LifecycleStore {
 public:
  virtual ~LifecycleStore() = default;
  // Leases one connection that needs work at `now` — pending triggers, an unfinished start, or
  // a phase other than idle — and that no other owner holds a live lease on. Returns it with
  // its backlog and unfinished start, or nullopt when nothing is due.
  virtual StatusOr<std::optional<Claim>> ClaimConnection(const std::string& owner, TimePoint now,
                                                         Duration lease) = 0;
  // Extends `owner`'s lease; FailedPrecondition if it is no longer the owner.
  virtual Status RenewLease(const std::string& connection_id, const std::string& owner, TimePoint until) = 0;
  // Applies a transition in one transaction, and sets the id of every start it inserted.
  // FailedPrecondition ("lease lost") and no change when `t.owner` no longer holds the
  // connection's lease.
  virtual Status Commit(Transition& t) = 0;
  // True when the sync is recorded for the connection (so it is not adopted twice).
  virtual StatusOr<bool> KnownSync(const std::string& connection_id, const std::string& sync_id) = 0;
  // For expiry by age: the connection's triggers with seq in (lo, hi] that were created before
  // `cutoff`, as the prefix (lo, Aged.seq] (created_at grows with seq), and the created_at of
  // the first one after it (nullopt when none is left). A binary search: O(log² n) reads.
  struct Aged {
    int64_t seq = 0;
    std::optional<TimePoint> next_oldest;
  };
  virtual StatusOr<Aged> FindAged(const std::string& connection_id, int64_t lo, int64_t hi, TimePoint cutoff) = 0;
};

// Every connection with what an operator sees at a glance: the CLI, the admin API, the page and
// the alerter's checks.
class ConnectionStatusStore {
 public:
  virtual ~ConnectionStatusStore() = default;
  virtual StatusOr<std::vector<ConnectionStatus>> ListConnections() = 0;
};

// Retention: the pruner's one call (and the CLI's `prune`).
class RetentionStore {
 public:
  virtual ~RetentionStore() = default;
  // Removes, in one short transaction, at most `batch` of each: events received before
  // `cutoff` whose triggers are all final, with those triggers; final manual triggers created
  // before it; finished syncs last updated before it; attempts made before it; final
  // starts last updated before it that no trigger refers to any more. A trigger that is not
  // final is never removed, nor its event. Call again until total() is 0. `dry_run` counts
  // what the same call would remove and removes nothing. Rows are taken in id order up to the
  // first one that is not old enough (ids grow with time): an old row stored after a newer one
  // (a wall clock set back) waits until that one ages out too.
  virtual StatusOr<PruneCounts> Prune(TimePoint cutoff, int batch, bool dry_run) = 0;
};

// Operator reads and actions: the CLI, the admin API and tests.
class OperatorStore : public ConnectionStatusStore, public RetentionStore {
 public:
  virtual ~OperatorStore() = default;
  // By id; `state_filter` (empty: all) matches the state reads report (Trigger::state).
  virtual StatusOr<std::vector<Trigger>> ListTriggers(const std::string& state_filter, int limit) = 0;
  virtual StatusOr<std::optional<StoredEvent>> GetEvent(const std::string& event_id) = 0;
  virtual StatusOr<int64_t> CountEvents() = 0;
  virtual StatusOr<std::vector<Attempt>> ListAttempts(const std::string& connection_id, int limit) = 0;
  // Oldest first; all connections when `connection_id` is empty.
  virtual StatusOr<std::vector<Sync>> ListSyncs(const std::string& connection_id, int limit) = 0;
  // One sync by its key; nullopt when the store does not know it.
  virtual StatusOr<std::optional<Sync>> GetSync(const std::string& connection_id, const std::string& sync_id) = 0;
  virtual StatusOr<std::optional<Connection>> GetConnection(const std::string& connection_id) = 0;
  // The connection's starts, newest first.
  virtual StatusOr<std::vector<Start>> ListStarts(const std::string& connection_id, int limit) = 0;
  // Newest first; raw bodies included.
  virtual StatusOr<std::vector<StoredEvent>> ListEvents(const EventFilter& filter) = 0;
  virtual StatusOr<std::vector<Trigger>> EventTriggers(const std::string& event_id) = 0;
  virtual StatusOr<std::optional<Trigger>> GetTrigger(int64_t id) = 0;
  // The calls made on behalf of a trigger: its start attempts and look-ups, and the poll that
  // saw its sync end (polls that find a sync still running are counted, not stored).
  virtual StatusOr<std::vector<Attempt>> TriggerAttempts(const Trigger& trigger) = 0;
  // Events received and syncs finished since `since`. Events are found by binary search on the
  // row id and counted per hour; use for a window of hours, not for history.
  virtual StatusOr<Activity> ReadActivity(TimePoint since) = 0;
  // Adds triggers outside webhook routing: manual ones (event_id empty) and replays. They
  // carry no dedupe key. Returns their ids.
  virtual StatusOr<std::vector<int64_t>> AddTriggers(const std::string& event_id, const std::vector<NewTrigger>& triggers,
                                                     TimePoint now) = 0;
  // Moves dead triggers back to pending (all dead ones when `ids` is empty): each takes a new
  // seq of its connection, as if it had just arrived. Returns the ids that moved. Triggers in
  // other states are left alone. Costs one write per trigger moved.
  virtual StatusOr<std::vector<int64_t>> RetryDead(const std::vector<int64_t>& ids, TimePoint now) = 0;
  // Every fan-in route's progress: the runs counted since it last fired, by route then time.
  virtual StatusOr<std::vector<FanInRun>> ListFanInProgress() = 0;
};

// Alerts (alerts/): raised by the lifecycle (Transition::alerts) and by the relay's checks,
// delivered to each sink in id order. Ids are never reused and commit in id order (PostgreSQL:
// inserts take one transaction-scoped lock), so a position never passes an alert that has yet
// to commit. A sink is delivered by one owner at a time (a lease), and its position only moves
// forward once the sink has answered: an alert is delivered at least once, unless the sink
// fails for longer than store.retention (pruning removes alerts by age).
class AlertStore {
 public:
  virtual ~AlertStore() = default;
  // Stores the alerts; one whose dedupe_key was stored before is skipped. Returns how many were new.
  virtual StatusOr<int> AddAlerts(const std::vector<NewAlert>& alerts) = 0;
  // Leases sink `name` to `owner` until now + lease when it is due (next_at <= now) and no other
  // owner's lease is live. A sink seen for the first time starts after the newest alert stored
  // (it is not sent the history). nullopt when not due or held.
  virtual StatusOr<std::optional<AlertSinkState>> ClaimAlertSink(const std::string& name, const std::string& owner,
                                                                TimePoint now, Duration lease) = 0;
  // Alerts with id above `after`, oldest first, at most `limit`.
  virtual StatusOr<std::vector<StoredAlert>> AlertsAfter(int64_t after, int limit) = 0;
  // Writes the sink's state (position, attempts, next try, …) and ends `owner`'s lease.
  // FailedPrecondition when `owner` no longer holds it.
  virtual Status SaveAlertSink(const AlertSinkState& state, const std::string& owner) = 0;
  // Every sink's state, by name.
  virtual StatusOr<std::vector<AlertSinkState>> ListAlertSinks() = 0;
  // The dbt runs a start covered, for an alert: (event id, run id) of its first `limit`
  // triggers in seq order (a fan-in trigger contributes each run it recorded), and how many
  // triggers it covers in all.
  struct StartRuns {
    std::vector<std::pair<std::string, int64_t>> runs;
    int64_t triggers = 0;
  };
  virtual StatusOr<StartRuns> RunsOfStart(const std::string& connection_id, int64_t start_id, int limit) = 0;
};

// dbt Cloud reconciliation and run verification (reconcile/). Events themselves are stored
// with IngestStore::Append.
class RunStore {
 public:
  virtual ~RunStore() = default;
  // The watermark of a reconciliation scope (say "123/job/456"): `now` is stored the first time
  // the scope is asked for, and that value is returned from then on, to every instance.
  virtual StatusOr<TimePoint> Watermark(const std::string& scope, TimePoint now) = 0;
  // Which of the (run id, status code) pairs an event already records (NewEvent::records_outcome).
  using RunOutcome = std::pair<int64_t, int>;
  virtual StatusOr<std::vector<RunOutcome>> KnownRuns(const std::vector<RunOutcome>& runs) = 0;
  // Events pending verification whose next try is due at `now`, oldest first.
  virtual StatusOr<std::vector<PendingVerification>> DueVerifications(TimePoint now, int limit) = 0;
  // Ends a pending verification in one transaction: sets the event's state and note, records
  // `run_status_code` (the verified one) as its status unless another event records that outcome
  // already, and adds `triggers` (each takes its connection's next seq; a dedupe key seen before
  // makes id 0, as in Append). When the event is not pending any more (another instance resolved
  // it), nothing changes and the result is `duplicate`. `fan_in` is applied as Append applies
  // NewEvent::fan_in.
  virtual StatusOr<AppendResult> ResolveVerification(const std::string& event_id, std::string_view state,
                                                     const std::string& note, int run_status_code,
                                                     const std::vector<NewTrigger>& triggers,
                                                     const std::vector<FanInStep>& fan_in, TimePoint now) = 0;
  // Tries again at `next`; the note says why (shown while the event is pending).
  virtual Status PostponeVerification(const std::string& event_id, TimePoint next, const std::string& note) = 0;
};

// Health and gauges.
class HealthStore {
 public:
  virtual ~HealthStore() = default;
  // OK when the store can commit a write now: it takes a write transaction and commits a
  // small write (durably, like a webhook), so a full disk or a read-only database is seen
  // before any webhook meets it. Unavailable (with the cause) otherwise. A success also ends a
  // failure LastCommit reports.
  virtual Status Ping() = 0;
  // The failure of the store's last write that could not be made durable (a webhook's append
  // on a full disk, say), until a write succeeds again; OK otherwise. No I/O: for
  // retl_relay_store_up, which must not say 1 while every webhook gets 503.
  virtual Status LastCommit() = 0;
  virtual StatusOr<Gauges> ReadGauges() = 0;
};

// All of it: what a backend implements. Implementations are safe for concurrent use.
// For RunsOfStart's backends: adds one trigger's runs (its event's, or a fan-in trigger's
// recorded ones) to `out`, up to `limit` runs.
void AddStartRun(const std::string& event_id, int64_t run_id, std::string_view fan_in_runs, const std::string& route,
                 int limit, AlertStore::StartRuns& out);

class Store : public IngestStore,
              public LifecycleStore,
              public OperatorStore,
              public RunStore,
              public AlertStore,
              public HealthStore {};

// Opens the database named by a store URL ("sqlite://path", "postgresql://…"). By default it
// creates a missing SQLite file and applies pending schema migrations (what `serve` does).
// InvalidArgument for an unsupported URL, Unavailable when the database cannot be opened or
// migrated, FailedPrecondition for a schema this build cannot use as it is.
struct OpenOptions {
  // False for tools that only inspect: a missing SQLite file is then Unavailable, not created.
  bool create_if_missing = true;
  // False for the CLI: the schema is never changed (no tables created, no migration run, on
  // either backend); a database without the relay's schema, or with an older or newer one, is
  // FailedPrecondition saying what to do. A relay of the old version may still be running on
  // it, and migrating under it would break it.
  bool migrate = true;
  // Tests only: migrate up to this schema version instead of the latest (0), to write a
  // database as a previous build left it.
  int schema_version = 0;
};
StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url, OpenOptions options = {});

// For the backends' schema checks: OK when `found` == `latest`, else FailedPrecondition saying
// what to do. `found` is -1 when the database holds no relay schema at all.
Status SchemaProblem(int found, int latest);

}  // namespace relay::store
