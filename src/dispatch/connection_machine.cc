#include "dispatch/connection_machine.h"

#include <algorithm>

#include "common/log.h"
#include "common/metrics.h"
#include "dispatch/retry_policy.h"

namespace relay::dispatch {
namespace {

constexpr int kRecentSyncs = 20;  // how far back an ambiguous start looks for its sync

std::string JoinIds(const std::vector<int64_t>& ids) {
  constexpr size_t kMaxListed = 10;
  std::string out;
  for (size_t i = 0; i < ids.size() && i < kMaxListed; ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  if (ids.size() > kMaxListed) out += ",… (" + std::to_string(ids.size()) + " in all)";
  return out;
}

bool IsTerminal(const std::string& status) { return status == "succeeded" || status == "failed"; }

bool IsFinal(std::string_view state) {
  return state == store::kSucceeded || state == store::kFailed || state == store::kSkipped || state == store::kDead;
}

std::string StatusClass(const rudderstack::CallMeta& meta) {
  if (meta.http_status == 0) return "error";
  return std::to_string(meta.http_status / 100) + "xx";
}

void CountSync(std::string_view outcome) {
  metrics::Default()
      .GetCounter("retl_relay_syncs_total", "syncs followed to an end, by outcome", {{"outcome", std::string(outcome)}})
      .Inc();
}

// Seconds between two RudderStack timestamps; nullopt if either is missing or unparsable.
std::optional<double> SecondsBetween(const std::string& from, const std::string& to) {
  auto a = ParseIso8601(from), b = ParseIso8601(to);
  if (!a || !b || *b < *a) return std::nullopt;
  return std::chrono::duration<double>(*b - *a).count();
}

// Triggers of the claim being stepped (which outlives the step), by state: pointers, so that a
// burst of thousands of pending triggers is not copied at every change of phase.
using TriggerRefs = std::vector<const store::ClaimedTrigger*>;

std::vector<int64_t> IdsOf(const TriggerRefs& triggers) {
  std::vector<int64_t> ids;
  ids.reserve(triggers.size());
  for (const store::ClaimedTrigger* t : triggers) ids.push_back(t->id);
  return ids;
}

}  // namespace

// The state of one Step on one connection. Every method that ends the step commits with
// release = true; `carry_` holds trigger updates to fold into the next commit.
class ConnectionMachine::Run {
 public:
  Run(ConnectionMachine& m, const std::string& owner, const store::Claim& claim)
      : m_(m), owner_(owner), conn_(claim.connection), now_(m.clock_.Now()), leased_at_(now_) {
    using State = store::ClaimedTrigger::State;
    for (const store::ClaimedTrigger& t : claim.triggers) {
      (t.state == State::kPending ? pending_ : t.state == State::kStarting ? starting_ : running_).push_back(&t);
    }
  }

  Status Go() {
    ExpirePending();
    if (conn_.phase == store::kPhaseStarting) return Resolve();
    if (conn_.phase == store::kWaiting || conn_.phase == store::kStopping) return CheckOther();
    if (conn_.phase == store::kPhaseRunning) return Poll();
    if (pending_.empty()) return Finish("nothing to do");
    return StartNew();
  }

 private:
  // ---- commits -------------------------------------------------------------------------

  store::Transition Begin(bool release) {
    store::Transition t;
    t.owner = owner_;
    t.now = m_.clock_.Now();
    t.connection = conn_;
    t.release = release;
    t.triggers = std::move(carry_);
    carry_.clear();
    t.attempts = std::move(attempts_);
    attempts_.clear();
    return t;
  }

  Status Commit(store::Transition t) {
    Status s = m_.store_.Commit(t);
    if (!s.ok()) log::Warn("connection step not committed", {{"connection_id", conn_.id}, {"error", s.ToString()}});
    return s;
  }

  // Ends the step in the current phase, to be looked at again at `next`.
  Status Finish(std::string_view why, std::optional<TimePoint> next = std::nullopt) {
    (void)why;
    if (next) conn_.next_check_at = *next;
    return Commit(Begin(true));
  }

  void EnterPhase(std::string_view phase, std::string sync_id = "") {
    if (conn_.phase != phase) {
      log::Info("connection phase", {{"connection_id", conn_.id}, {"from", conn_.phase}, {"to", phase},
                                     {"sync_id", sync_id}});
    }
    conn_.phase = std::string(phase);
    conn_.sync_id = std::move(sync_id);
    conn_.phase_since = now_;
    conn_.attempts = 0;
    conn_.last_error.clear();
    if (phase != store::kPhaseStarting) conn_.start_attempted_at.reset();
  }

  void Move(const std::vector<int64_t>& ids, std::string_view state, std::string sync_id = "", std::string error = "") {
    if (ids.empty()) return;
    if (IsFinal(state)) {
      metrics::Default()
          .GetCounter("retl_relay_triggers_total", "triggers that reached a final state, by state",
                      {{"state", std::string(state)}})
          .Inc(ids.size());
    }
    carry_.push_back({ids, std::string(state), std::move(sync_id), std::move(error)});
    log::Info("triggers " + std::string(state), {{"connection_id", conn_.id}, {"trigger_ids", JoinIds(ids)},
                                                  {"sync_id", carry_.back().sync_id}, {"reason", carry_.back().error}});
  }

  void Record(std::string kind, const rudderstack::CallMeta& meta, const Status& s, std::string sync_id = "",
              std::vector<int64_t> ids = {}) {
    metrics::Default()
        .GetCounter("retl_relay_rudderstack_requests_total", "calls to the RudderStack API, by endpoint and status class",
                    {{"endpoint", kind}, {"status_class", StatusClass(meta)}})
        .Inc();
    attempts_.push_back({conn_.id, std::move(kind), now_, meta.latency_ms, meta.http_status,
                         s.ok() ? "ok" : s.ToString(), std::move(sync_id), std::move(ids)});
  }

  // Keeps the lease across slow calls; false (and nothing sent) when another owner has it. A
  // lease younger than a third of its length is not renewed: that write (and its fsync) would
  // sit on the path of every start.
  bool Renew() {
    const TimePoint now = m_.clock_.Now();
    if (now - leased_at_ < m_.options_.lease / 3) return true;
    Status s = m_.store_.RenewLease(conn_.id, owner_, now + m_.options_.lease);
    if (!s.ok()) log::Warn("lease lost", {{"connection_id", conn_.id}, {"error", s.ToString()}});
    if (s.ok()) leased_at_ = now;
    return s.ok();
  }

  // A retryable failure: stay in this phase, try again after backoff.
  Status RetryLater(const Status& cause) {
    double r = m_.unit_random_();
    Duration delay = BackoffDelay({m_.options_.retry_initial, m_.options_.retry_max}, conn_.attempts, r, cause);
    ++conn_.attempts;
    conn_.last_error = cause.ToString();
    log::Warn("rudderstack call failed, will retry", {{"connection_id", conn_.id}, {"phase", conn_.phase},
                                                      {"error", conn_.last_error},
                                                      {"retry_in_ms", std::to_string(delay.count())}});
    return Finish("retry", now_ + delay);
  }

  // ---- idle → starting -----------------------------------------------------------------

  // Triggers of `refs` older than max_age go dead with the connection's last error.
  void Expire(TriggerRefs& refs) {
    TriggerRefs keep;
    std::vector<int64_t> expired;
    for (const store::ClaimedTrigger* t : refs) {
      if (now_ - t->created_at > m_.options_.max_age) expired.push_back(t->id);
      else keep.push_back(t);
    }
    refs = std::move(keep);
    std::string last = conn_.last_error.empty() ? "none" : conn_.last_error;
    Move(expired, store::kDead, "", "maximum age exceeded; last error: " + last);
  }
  void ExpirePending() { Expire(pending_); }

  // Assigns every pending (and unresolved starting) trigger to a new start, durably, then sends it.
  Status StartNew() {
    // Starting triggers get here only when no sync came of their earlier start (resolved:
    // nothing started): past max_age they go dead like pending ones, instead of being sent
    // again for as long as /start keeps failing.
    Expire(starting_);
    TriggerRefs cover = starting_;
    cover.insert(cover.end(), pending_.begin(), pending_.end());
    if (cover.empty()) {
      EnterPhase(store::kIdle);
      return Finish("nothing to start", now_);
    }
    bool full = std::any_of(cover.begin(), cover.end(), [](const store::ClaimedTrigger* t) { return t->sync_type == config::SyncType::kFull; });
    const std::string sync_type = full ? "full" : "incremental";
    const int attempts = conn_.attempts;
    EnterPhase(store::kPhaseStarting);
    conn_.attempts = attempts;  // consecutive start failures keep counting across re-sends
    conn_.start_attempted_at = now_;
    conn_.sync_type = sync_type;
    // If we die after this commit, whoever claims c next resolves the start instead of resending.
    conn_.next_check_at = now_ + m_.options_.lease;
    Move(IdsOf(pending_), store::kStarting);
    starting_ = cover;
    pending_.clear();
    if (Status s = Commit(Begin(false)); !s.ok()) return s;
    if (!Renew()) return Status(StatusCode::kFailedPrecondition, "lease lost before start");

    rudderstack::CallMeta meta;
    StatusOr<std::string> started = m_.client_.StartSync(conn_.id, sync_type, &meta);
    now_ = m_.clock_.Now();
    Record("start", meta, started.status(), started.ok() ? *started : "", IdsOf(starting_));
    if (started.ok()) {
      rudderstack::SyncInfo info;
      info.id = *started;
      info.status = "running";
      return Adopt(info, "relay");
    }
    const Status& err = started.status();
    if (err.code() == StatusCode::kFailedPrecondition) return OnConflict("");
    if (IsRetryable(err)) return RetryLater(err);  // ambiguous: resolved before any resend
    return Kill(IdsOf(starting_), err.ToString());
  }

  // Permanent failure: the triggers go dead, the connection idles.
  Status Kill(const std::vector<int64_t>& ids, const std::string& reason) {
    log::Error("triggers dead", {{"connection_id", conn_.id}, {"trigger_ids", JoinIds(ids)}, {"reason", reason}});
    Move(ids, store::kDead, "", reason);
    EnterPhase(store::kIdle);
    conn_.last_error = reason;
    return Finish("dead", now_);
  }

  // ---- starting: resolve an ambiguous start --------------------------------------------

  Status Resolve() {
    const TimePoint since = conn_.start_attempted_at.value_or(conn_.phase_since) - m_.options_.start_skew;
    rudderstack::CallMeta meta;
    if (!Renew()) return Status(StatusCode::kFailedPrecondition, "lease lost");
    // One list of recent syncs in every status: ours may have finished already, and an
    // external sync may have started since; the candidate closest to our attempt is ours.
    auto recent = m_.client_.ListSyncs(conn_.id, "", kRecentSyncs, &meta);
    Record("list_syncs", meta, recent.status());
    if (!recent.ok()) return ApiError(recent.status(), IdsOf(starting_));
    StatusOr<std::optional<rudderstack::SyncInfo>> mine = FindNew(*recent, since);
    // Without knowing which syncs the store has, the start cannot be resolved: sending it again
    // could start a second sync. Try again later.
    if (!mine.ok()) return RetryLater(mine.status());
    if (mine->has_value()) return Adopt(**mine, "adopted");

    // Nothing of ours started. Someone else's sync may be running: that is a 409 in waiting.
    for (const rudderstack::SyncInfo& s : *recent) {
      if (s.status == "running") return OnConflict(s.id);
    }
    log::Info("no sync found for the earlier start; starting again", {{"connection_id", conn_.id}});
    return StartNew();
  }

  // The sync the store does not know yet that started closest to our start attempt, among
  // those started at or after `since` (the attempt minus the allowed clock skew). Closest, not
  // newest: a sync someone else started after our attempt is not the one our attempt created.
  // A store error is returned, never read as "not a candidate".
  StatusOr<std::optional<rudderstack::SyncInfo>> FindNew(const std::vector<rudderstack::SyncInfo>& syncs,
                                                         TimePoint since) {
    const TimePoint anchor = conn_.start_attempted_at.value_or(conn_.phase_since);
    std::optional<rudderstack::SyncInfo> best;
    Duration best_distance{};
    for (const auto& s : syncs) {
      std::optional<TimePoint> started = ParseIso8601(s.started_at);
      if (!started || *started < since) continue;
      StatusOr<bool> known = m_.store_.KnownSync(conn_.id, s.id);
      if (!known.ok()) return known.status();
      if (*known) continue;
      const Duration distance =
          std::chrono::duration_cast<Duration>(*started > anchor ? *started - anchor : anchor - *started);
      if (!best || distance < best_distance) {
        best = s;
        best_distance = distance;
      }
    }
    return best;
  }

  Status ApiError(const Status& err, const std::vector<int64_t>& ids) {
    if (IsRetryable(err)) return RetryLater(err);
    return Kill(ids, err.ToString());
  }

  // The start (or its resolution) produced sync `info`: the starting triggers are covered by it.
  Status Adopt(const rudderstack::SyncInfo& info, std::string origin) {
    log::Info(origin == "relay" ? "sync started" : "sync adopted",
              {{"connection_id", conn_.id}, {"sync_id", info.id}, {"sync_type", conn_.sync_type},
               {"trigger_ids", JoinIds(IdsOf(starting_))}});
    store::Sync sync{conn_.id, info.id, info.status, std::move(origin), info.started_at, info.finished_at,
                     info.error, info.succeeded, info.failed, info.changed, info.total, conn_.sync_type};
    auto& latency = metrics::Default().GetHistogram(
        "retl_relay_trigger_start_seconds", "time from a trigger's creation to the start of the sync covering it",
        metrics::DurationBuckets());
    for (const store::ClaimedTrigger* t : starting_) latency.Observe(std::chrono::duration<double>(now_ - t->created_at).count());
    Move(IdsOf(starting_), store::kRunning, info.id);
    running_ = starting_;
    starting_.clear();
    EnterPhase(store::kPhaseRunning, info.id);
    store::Transition t = Begin(false);
    t.syncs.push_back(sync);
    if (IsTerminal(info.status)) {  // it already finished (a fast sync found after a crash)
      if (Status s = Commit(std::move(t)); !s.ok()) return s;
      return Complete(info);
    }
    conn_.next_check_at = now_ + m_.options_.sync_poll_interval;
    t.connection = conn_;
    t.release = true;
    return Commit(std::move(t));
  }

  // ---- 409: another sync is running -----------------------------------------------------

  Status OnConflict(std::string other) {
    rudderstack::CallMeta meta;
    if (other.empty()) {
      auto running = m_.client_.ListSyncs(conn_.id, "running", 1, &meta);
      Record("list_syncs", meta, running.status());
      if (!running.ok()) return ApiError(running.status(), IdsOf(starting_));
      if (running->empty()) {
        // It ended between the 409 and the look-up. A 409 means our start was not carried out,
        // so nothing is ambiguous: back to pending, and start again after a short backoff.
        const int attempts = conn_.attempts;
        Move(IdsOf(starting_), store::kPending);
        starting_.clear();
        EnterPhase(store::kIdle);
        conn_.attempts = attempts;
        return RetryLater(Status(StatusCode::kFailedPrecondition, "409 but no running sync found"));
      }
      other = running->front().id;
    }
    std::vector<int64_t> skip, restart, queue;
    using Policy = config::IfRunning;
    for (const store::ClaimedTrigger* t : starting_) {
      (t->if_running == Policy::kSkip ? skip : t->if_running == Policy::kRestart ? restart : queue).push_back(t->id);
    }
    Move(skip, store::kSkipped, other, "a sync was already running");
    std::vector<int64_t> back = restart;
    back.insert(back.end(), queue.begin(), queue.end());
    Move(back, store::kPending);  // they start after the other sync, with whatever arrives meanwhile
    starting_.clear();
    store::Sync external{conn_.id, other, "running", "external", "", "", "", 0, 0, 0, 0, ""};
    if (!restart.empty()) {
      // Commit before acting, as for a start: "stopping `other`, which is not ours" is durable
      // before the stop is sent. Found by the fault harness: a relay killed between the stop
      // and its commit left the sync unknown, and the next owner adopted the sync it had just
      // stopped as its own start (its triggers then "failed"). Until the stop is confirmed,
      // last_error makes CheckOther send it again.
      EnterPhase(store::kStopping, other);
      conn_.last_error = "stop of " + other + " not confirmed";
      conn_.next_check_at = now_ + m_.options_.sync_poll_interval;
      store::Transition intent = Begin(false);
      intent.syncs.push_back(external);
      if (Status s = Commit(std::move(intent)); !s.ok()) return s;
      if (!Renew()) return Status(StatusCode::kFailedPrecondition, "lease lost");
      Status stopped = m_.client_.StopSync(conn_.id, &meta);
      now_ = m_.clock_.Now();
      Record("stop", meta, stopped, other);
      conn_.last_error = stopped.ok() ? "" : stopped.ToString();
      return Finish("stopping", now_ + m_.options_.sync_poll_interval);
    } else if (!queue.empty()) {
      EnterPhase(store::kWaiting, other);
    } else {
      EnterPhase(store::kIdle);
    }
    conn_.next_check_at = now_ + m_.options_.sync_poll_interval;
    store::Transition t = Begin(true);
    t.syncs.push_back(external);
    return Commit(std::move(t));
  }

  // waiting / stopping: is anything still running?
  Status CheckOther() {
    rudderstack::CallMeta meta;
    if (!Renew()) return Status(StatusCode::kFailedPrecondition, "lease lost");
    auto running = m_.client_.ListSyncs(conn_.id, "running", 1, &meta);
    if (!running.ok()) {
      Record("list_syncs", meta, running.status());
      return IsRetryable(running.status()) ? RetryLater(running.status()) : Kill(IdsOf(pending_), running.status().ToString());
    }
    if (!running->empty()) {
      if (conn_.phase == store::kStopping && !conn_.last_error.empty()) {  // the stop itself failed: ask again
        Status stopped = m_.client_.StopSync(conn_.id, &meta);
        Record("stop", meta, stopped, conn_.sync_id);
        conn_.last_error = stopped.ok() ? "" : stopped.ToString();
      }
      return Finish("still running", now_ + m_.options_.sync_poll_interval);
    }
    Record("list_syncs", meta, Status::Ok());
    EnterPhase(store::kIdle);
    return Finish("other sync ended", now_);  // the follow-up starts on the next claim
  }

  // ---- running: follow our sync to its outcome -------------------------------------------

  Status Poll() {
    rudderstack::CallMeta meta;
    if (!Renew()) return Status(StatusCode::kFailedPrecondition, "lease lost");
    StatusOr<rudderstack::SyncInfo> info = m_.client_.GetSync(conn_.id, conn_.sync_id, &meta);
    if (!info.ok()) {
      Record("get_sync", meta, info.status(), conn_.sync_id);
      return ApiError(info.status(), IdsOf(running_));
    }
    if (IsTerminal(info->status)) {
      Record("get_sync", meta, Status::Ok(), conn_.sync_id);
      return Complete(*info);
    }
    if (now_ - conn_.phase_since > m_.options_.outcome_timeout) {
      std::string reason = "outcome of sync " + conn_.sync_id + " unknown after " +
                           std::to_string(m_.options_.outcome_timeout.count() / 1000) + " s (last status " +
                           info->status + ")";
      store::Sync unknown{conn_.id, conn_.sync_id, "unknown", "relay", info->started_at, "", reason, 0, 0, 0, 0, ""};
      CountSync("unknown");
      Move(IdsOf(running_), store::kDead, conn_.sync_id, reason);
      EnterPhase(store::kIdle);
      store::Transition t = Begin(true);
      t.syncs.push_back(unknown);
      return Commit(std::move(t));
    }
    return Finish("running", now_ + m_.options_.sync_poll_interval);
  }

  // The sync reached succeeded or failed: record it and free the connection for a follow-up.
  Status Complete(const rudderstack::SyncInfo& info) {
    store::Sync sync{conn_.id, info.id, info.status, "relay", info.started_at, info.finished_at, info.error,
                     info.succeeded, info.failed, info.changed, info.total, conn_.sync_type};
    const bool ok = info.status == "succeeded";
    CountSync(info.status);
    if (auto seconds = SecondsBetween(info.started_at, info.finished_at)) {
      metrics::Default()
          .GetHistogram("retl_relay_sync_duration_seconds", "duration of followed syncs, as RudderStack reports it",
                        metrics::DurationBuckets())
          .Observe(*seconds);
    }
    log::Info(ok ? "sync succeeded" : "sync failed",
              {{"connection_id", conn_.id}, {"sync_id", info.id}, {"error", info.error},
               {"succeeded", std::to_string(info.succeeded)}, {"failed", std::to_string(info.failed)}});
    Move(IdsOf(running_), ok ? store::kSucceeded : store::kFailed, info.id, ok ? "" : info.error);
    running_.clear();
    EnterPhase(store::kIdle);
    conn_.next_check_at = now_;  // triggers that arrived meanwhile start the follow-up at once
    store::Transition t = Begin(true);
    // The origin of a known sync is kept by the upsert; only status, times and metrics change.
    t.syncs.push_back(sync);
    return Commit(std::move(t));
  }

  ConnectionMachine& m_;
  const std::string& owner_;
  store::Connection conn_;
  TimePoint now_;
  TimePoint leased_at_;  // the claim (or the last renewal) set the lease to this + lease
  TriggerRefs pending_, starting_, running_;
  std::vector<store::TriggerUpdate> carry_;
  std::vector<store::Attempt> attempts_;
};

ConnectionMachine::ConnectionMachine(store::Store& store, rudderstack::Client& client, Clock& clock,
                                     config::DispatchConfig options, std::function<double()> unit_random)
    : store_(store), client_(client), clock_(clock), options_(options), unit_random_(std::move(unit_random)) {}

Status ConnectionMachine::Step(const std::string& owner, const store::Claim& claim) {
  return Run(*this, owner, claim).Go();
}

}  // namespace relay::dispatch
