#include "dispatch/connection_machine.h"

#include <algorithm>

#include "common/log.h"
#include "common/metrics.h"
#include "common/retry.h"

namespace relay::dispatch {
namespace {

constexpr int kRecentSyncs = 20;  // how far back an ambiguous start looks for its sync

bool IsTerminal(const std::string& status) { return status == "succeeded" || status == "failed"; }

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

void CountTriggers(std::string_view state, int64_t n) {
  if (n <= 0) return;
  metrics::Default()
      .GetCounter("retl_relay_triggers_total", "triggers that reached a final state, by state", {{"state", std::string(state)}})
      .Inc(static_cast<uint64_t>(n));
}

std::string SeqRange(const store::Start& s) { return std::to_string(s.seq_lo + 1) + ".." + std::to_string(s.seq_hi); }

}  // namespace

Policy PolicyOf(int policies) {
  if (policies & store::kPolicyRestart) return Policy::kRestart;
  if (policies == store::kPolicySkip) return Policy::kSkip;
  return Policy::kQueue;
}

Decision Decide(Ask ask, Answer answer, Policy policy) {
  using P = store::Phase;
  using S = store::StartState;
  // Errors first: the same in every phase, but for who dies with them.
  const P here = ask == Ask::kPoll                                           ? P::kRunning
                 : ask == Ask::kCheckWaiting                                 ? P::kWaiting
                 : ask == Ask::kCheckStopping || ask == Ask::kCheckUnconfirmed ? P::kStopping
                                                                             : P::kStarting;
  const bool checking = here == P::kWaiting || here == P::kStopping;
  if (answer == Answer::kRetryable) return {Action::kRetry, here, std::nullopt};
  if (answer == Answer::kPermanent) return {checking ? Action::kKillWithPending : Action::kKill, P::kIdle, S::kDead};
  // Another sync runs where ours was to start: the policy decides.
  auto other_runs = [policy]() -> Decision {
    switch (policy) {
      case Policy::kSkip: return {Action::kSkip, P::kIdle, S::kSkipped};
      case Policy::kQueue: return {Action::kQueue, P::kWaiting, S::kQueued};
      case Policy::kRestart: return {Action::kStop, P::kStopping, S::kQueued};
    }
    return {};
  };
  switch (ask) {
    case Ask::kStart:
      if (answer == Answer::kStarted) return {Action::kAdopt, P::kRunning, S::kRunning};
      if (answer == Answer::kConflict) return {Action::kFindRunning, P::kStarting, std::nullopt};
      break;
    case Ask::kFindRunning:
      if (answer == Answer::kOtherRunning) return other_runs();
      if (answer == Answer::kNoneRunning) return {Action::kQueueAndRetry, P::kIdle, S::kQueued};
      break;
    case Ask::kResolve:
      if (answer == Answer::kOursFound) return {Action::kAdopt, P::kRunning, S::kRunning};
      if (answer == Answer::kOtherRunning) return other_runs();
      if (answer == Answer::kNoneRunning) return {Action::kResend, P::kStarting, S::kStarting};
      break;
    case Ask::kCheckWaiting:
    case Ask::kCheckStopping:
    case Ask::kCheckUnconfirmed:
      if (answer == Answer::kOtherRunning) {
        return {ask == Ask::kCheckUnconfirmed ? Action::kStopAgain : Action::kPollLater, here, std::nullopt};
      }
      if (answer == Answer::kNoneRunning) return {Action::kFollowUp, P::kIdle, std::nullopt};
      break;
    case Ask::kPoll:
      if (answer == Answer::kRunning) return {Action::kPollLater, P::kRunning, std::nullopt};
      if (answer == Answer::kRunningTooLong) return {Action::kGiveUp, P::kIdle, S::kDead};
      if (answer == Answer::kSucceeded) return {Action::kComplete, P::kIdle, S::kSucceeded};
      if (answer == Answer::kFailed) return {Action::kComplete, P::kIdle, S::kFailed};
      break;
  }
  return {};
}

std::string_view ToString(Ask ask) {
  switch (ask) {
    case Ask::kStart: return "start";
    case Ask::kFindRunning: return "find_running";
    case Ask::kResolve: return "resolve";
    case Ask::kCheckWaiting: return "check_waiting";
    case Ask::kCheckStopping: return "check_stopping";
    case Ask::kCheckUnconfirmed: return "check_unconfirmed";
    case Ask::kPoll: return "poll";
  }
  return "?";
}

std::string_view ToString(Answer answer) {
  switch (answer) {
    case Answer::kStarted: return "started";
    case Answer::kOursFound: return "ours_found";
    case Answer::kOtherRunning: return "other_running";
    case Answer::kNoneRunning: return "none_running";
    case Answer::kRunning: return "running";
    case Answer::kRunningTooLong: return "running_too_long";
    case Answer::kSucceeded: return "succeeded";
    case Answer::kFailed: return "failed";
    case Answer::kConflict: return "conflict";
    case Answer::kRetryable: return "retryable";
    case Answer::kPermanent: return "permanent";
  }
  return "?";
}

std::string_view ToString(Policy policy) {
  switch (policy) {
    case Policy::kSkip: return "skip";
    case Policy::kQueue: return "queue";
    case Policy::kRestart: return "restart";
  }
  return "?";
}

std::string_view ToString(Action action) {
  switch (action) {
    case Action::kAdopt: return "adopt";
    case Action::kFindRunning: return "find_running";
    case Action::kRetry: return "retry";
    case Action::kKill: return "kill";
    case Action::kKillWithPending: return "kill_with_pending";
    case Action::kSkip: return "skip";
    case Action::kQueue: return "queue";
    case Action::kStop: return "stop";
    case Action::kQueueAndRetry: return "queue_and_retry";
    case Action::kResend: return "resend";
    case Action::kPollLater: return "poll_later";
    case Action::kStopAgain: return "stop_again";
    case Action::kFollowUp: return "follow_up";
    case Action::kComplete: return "complete";
    case Action::kGiveUp: return "give_up";
    case Action::kImpossible: return "impossible";
  }
  return "?";
}

// The state of one Step on one connection: it asks RudderStack what its phase needs, classes the
// answer, and carries out what Decide says (Carry). Every path that ends the step commits with
// release = true; `done_` holds starts that reached a final state, to write in the next commit.
// Nothing here is per trigger: a start covers a seq range, and the backlog is counters.
class ConnectionMachine::Run {
 public:
  Run(ConnectionMachine& m, const std::string& owner, const store::Claim& claim)
      : m_(m),
        owner_(owner),
        conn_(claim.connection),
        backlog_(claim.backlog),
        cur_(claim.current),
        now_(m.clock_.Now()),
        leased_at_(now_) {}

  Status Go() {
    switch (conn_.phase) {
      case store::Phase::kStarting:  // the start's own triggers wait: its outcome is unknown
        if (Status s = ExpireOld(/*reopen=*/false); !s.ok()) return s;
        return Resolve();
      case store::Phase::kWaiting:
      case store::Phase::kStopping:
        if (Status s = ExpireOld(/*reopen=*/true); !s.ok()) return s;
        return CheckOther();
      case store::Phase::kRunning:
        if (Status s = ExpireOld(/*reopen=*/false); !s.ok()) return s;
        return Poll();
      case store::Phase::kIdle:
        return StartNew();
    }
    return InternalError("unreachable phase");
  }

 private:
  // An answer as Decide sees it, with what carrying it out needs.
  struct Answered {
    Answer answer;
    Status error;                // kRetryable, kPermanent: the call's failure
    rudderstack::SyncInfo sync;  // the sync it is about (adopt, complete, give up)
    std::string other;           // kOtherRunning: the sync that runs
  };

  // A failed call as Decide sees it. A 409 is "another sync runs" only as the answer to a start;
  // to a read it is whatever IsRetryable says of it (retryable), as for any other error.
  static Answered Failed(Ask ask, const Status& error) {
    if (ask == Ask::kStart && error.code() == StatusCode::kConflict) return {Answer::kConflict, error, {}, ""};
    return {IsRetryable(error) ? Answer::kRetryable : Answer::kPermanent, error, {}, ""};
  }

  // ---- the table, carried out ------------------------------------------------------------

  Status Carry(Ask ask, const Answered& a) {
    const Decision d = Decide(ask, a.answer, PolicyOf(cur_ ? cur_->policies : store::kPolicyQueue));
    switch (d.action) {
      case Action::kAdopt:
        return Adopt(a.sync, ask == Ask::kStart ? "relay" : "adopted", d);
      case Action::kFindRunning:
        return FindRunning();
      case Action::kRetry:
        return RetryLater(a.error);
      case Action::kKill:
      case Action::kKillWithPending:
        return Kill(a.error.ToString(), d.action == Action::kKillWithPending, d);
      case Action::kSkip:
      case Action::kQueue:
      case Action::kStop:
        return OtherRuns(a.other, d);
      case Action::kQueueAndRetry: {
        // The other sync ended between the 409 and the look-up. A 409 means our start was not
        // carried out, so nothing is ambiguous: queued, and start again after a short backoff.
        const int attempts = conn_.attempts;
        Become(d, "", "");
        EnterPhase(d.phase);
        conn_.attempts = attempts;
        return RetryLater(Status(StatusCode::kConflict, "409 but no running sync found"));
      }
      case Action::kResend:
        log::Info("no sync found for the earlier start; starting again", {{"connection_id", conn_.id}});
        return StartNew();
      case Action::kPollLater:
        return Finish(now_ + m_.options_.sync_poll_interval);
      case Action::kStopAgain: {  // the stop itself failed (or was never confirmed): ask again
        rudderstack::CallMeta meta;
        Status stopped = m_.client_.StopSync(conn_.id, &meta);
        Record("stop", meta, stopped, conn_.sync_id);
        conn_.last_error = stopped.ok() ? "" : stopped.ToString();
        return Finish(now_ + m_.options_.sync_poll_interval);
      }
      case Action::kFollowUp:
        EnterPhase(d.phase);
        return Finish(now_);  // the follow-up starts on the next claim
      case Action::kComplete:
        return Complete(a.sync, d);
      case Action::kGiveUp:
        return GiveUp(a.sync, d);
      case Action::kImpossible:
        break;
    }
    return InternalError("connection " + conn_.id + ": no rule for " + std::string(ToString(a.answer)) + " to " +
                         std::string(ToString(ask)));
  }

  // The unfinished start takes the state the decision gives it (final: written with the next
  // commit and counted).
  void Become(const Decision& d, std::string sync_id, std::string error) {
    if (!cur_ || !d.start) return;
    switch (*d.start) {
      case store::StartState::kSucceeded:
      case store::StartState::kFailed:
      case store::StartState::kSkipped:
      case store::StartState::kDead:
        Finalize(*d.start, std::move(sync_id), std::move(error));
        return;
      case store::StartState::kStarting:
      case store::StartState::kQueued:
      case store::StartState::kRunning:
        cur_->state = *d.start;
        if (!sync_id.empty()) cur_->sync_id = std::move(sync_id);
        cur_->error = std::move(error);
        cur_dirty_ = true;
        return;
    }
  }

  // ---- commits -------------------------------------------------------------------------

  store::Transition Begin(bool release) {
    store::Transition t;
    t.owner = owner_;
    t.now = m_.clock_.Now();
    t.connection = conn_;
    t.release = release;
    t.starts = std::move(done_);
    done_.clear();
    if (cur_ && cur_dirty_) t.starts.push_back(*cur_);
    t.attempts = std::move(attempts_);
    attempts_.clear();
    // A start that ended failed or dead raises an alert, committed with it (alerts/ delivers
    // it to the sinks that want it; with none, it is only pruned with the rest of the history).
    for (size_t i = 0; i < t.starts.size(); ++i) {
      const store::Start& st = t.starts[i];
      const bool failed = st.state == store::StartState::kFailed, dead = st.state == store::StartState::kDead;
      if (!failed && !dead) continue;
      store::NewAlert a;
      a.kind = std::string(failed ? config::kAlertSyncFailed : config::kAlertTriggerDead);
      a.at = t.now;
      a.connection_id = conn_.id;
      a.sync_id = st.sync_id;
      a.start_id = st.id;
      if (st.id == 0) a.start_index = static_cast<int>(i);
      a.error = st.error;
      a.summary = failed ? "RudderStack sync " + st.sync_id + " of connection " + conn_.id + " failed" +
                               (st.error.empty() ? "" : ": " + st.error)
                         : std::to_string(st.triggers) + " trigger(s) of connection " + conn_.id +
                               " given up (dead): " + st.error;
      t.alerts.push_back(std::move(a));
    }
    return t;
  }

  Status Commit(store::Transition t) {
    const bool wrote_current = cur_ && cur_dirty_;
    Status s = m_.store_.Commit(t);
    if (!s.ok()) {
      log::Warn("connection step not committed", {{"connection_id", conn_.id}, {"error", s.ToString()}});
      return s;
    }
    if (wrote_current) {
      cur_->id = t.starts.back().id;
      cur_dirty_ = false;
    }
    return s;
  }

  // Ends the step in the current phase, to be looked at again at `next`.
  Status Finish(std::optional<TimePoint> next = std::nullopt) {
    if (next) conn_.next_check_at = *next;
    return Commit(Begin(true));
  }

  void EnterPhase(store::Phase phase, std::string sync_id = "") {
    if (conn_.phase != phase) {
      log::Info("connection phase", {{"connection_id", conn_.id}, {"from", store::ToString(conn_.phase)},
                                     {"to", store::ToString(phase)}, {"sync_id", sync_id}});
    }
    conn_.phase = phase;
    conn_.sync_id = std::move(sync_id);
    conn_.phase_since = now_;
    conn_.attempts = 0;
    conn_.last_error.clear();
    if (phase != store::Phase::kStarting) conn_.start_attempted_at.reset();
  }

  // ---- starts ------------------------------------------------------------------------

  int64_t Pending() const { return backlog_.seq - conn_.covered; }

  // if_running policies among the pending triggers above `lo` (exact when the range ends at
  // backlog_.seq, which every range taken from a claim does).
  int PoliciesAbove(int64_t lo) const {
    return (backlog_.last_skip > lo ? store::kPolicySkip : 0) | (backlog_.last_queue > lo ? store::kPolicyQueue : 0) |
           (backlog_.last_restart > lo ? store::kPolicyRestart : 0);
  }

  // A new start over pending triggers (lo, hi].
  store::Start NewStart(int64_t lo, int64_t hi) const {
    store::Start s;
    s.connection_id = conn_.id;
    s.seq_lo = lo;
    s.seq_hi = hi;
    s.triggers = hi - lo;
    s.sync_type = backlog_.last_full > lo ? "full" : "incremental";
    s.policies = PoliciesAbove(lo);
    s.oldest = backlog_.oldest.value_or(now_);
    return s;
  }

  // A start not carried out yet (queued, or starting whose resolution found nothing): the next
  // /start is sent for it.
  bool Resendable() const {
    return cur_ && (cur_->state == store::StartState::kQueued || cur_->state == store::StartState::kStarting);
  }
  // ... and it ends where the pending triggers begin, so it may take them over: starts tile
  // (0, covered], and a dead start from expiry may sit between the two.
  bool Extendable() const { return Resendable() && cur_->seq_hi == conn_.covered; }

  // The current start reaches a final state: it (and so every trigger it covers) is done.
  void Finalize(store::StartState state, std::string sync_id, std::string error) {
    cur_->state = state;
    if (!sync_id.empty()) cur_->sync_id = std::move(sync_id);
    cur_->error = std::move(error);
    CountTriggers(store::ToString(state), cur_->triggers);
    log::Info("start " + std::string(store::ToString(state)),
              {{"connection_id", conn_.id}, {"start_id", std::to_string(cur_->id)},
               {"triggers", std::to_string(cur_->triggers)}, {"seq", SeqRange(*cur_)}, {"sync_id", cur_->sync_id},
               {"reason", cur_->error}});
    done_.push_back(*cur_);
    cur_.reset();
    cur_dirty_ = false;
  }

  // Every call is counted; Record also stores it in the audit trail (attempts). The polls that
  // find a sync still running are only counted: a sync that runs an hour would otherwise write
  // 360 rows, and push the calls that changed something out of a trigger's trail.
  static void Count(const std::string& kind, const rudderstack::CallMeta& meta) {
    metrics::Default()
        .GetCounter("retl_relay_rudderstack_requests_total", "calls to the RudderStack API, by endpoint and status class",
                    {{"endpoint", kind}, {"status_class", StatusClass(meta)}})
        .Inc();
  }
  void Record(std::string kind, const rudderstack::CallMeta& meta, const Status& s, std::string sync_id = "") {
    Count(kind, meta);
    attempts_.push_back({conn_.id, std::move(kind), now_, meta.latency_ms, meta.http_status,
                         s.ok() ? "ok" : s.ToString(), std::move(sync_id), cur_ ? cur_->id : 0});
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
    log::Warn("rudderstack call failed, will retry", {{"connection_id", conn_.id}, {"phase", store::ToString(conn_.phase)},
                                                      {"error", conn_.last_error},
                                                      {"retry_in_ms", std::to_string(delay.count())}});
    return Finish(now_ + delay);
  }

  // ---- expiry ----------------------------------------------------------------------------

  // Triggers older than max_age go dead with the connection's last error: the pending ones
  // and, when `reopen`, those of a start not carried out. Triggers are taken oldest first, so
  // the expired ones are a prefix of each range, found by a binary search and written as one
  // dead start. A start whose outcome is unknown (starting, unresolved) is never touched.
  Status ExpireOld(bool reopen) {
    const TimePoint cutoff = now_ - m_.options_.max_age;
    const std::string reason =
        "maximum age exceeded; last error: " + (conn_.last_error.empty() ? std::string("none") : conn_.last_error);
    if (reopen && Resendable() && cur_->oldest < cutoff) {
      StatusOr<store::LifecycleStore::Aged> aged = m_.store_.FindAged(conn_.id, cur_->seq_lo, cur_->seq_hi, cutoff);
      if (!aged.ok()) return aged.status();
      const int64_t k = aged->seq;
      if (k >= cur_->seq_hi) {
        cur_dirty_ = true;
        Finalize(store::StartState::kDead, "", reason);
      } else if (k > cur_->seq_lo) {  // split: the aged part dies, the rest is sent
        store::Start dead = *cur_;
        dead.id = 0;
        dead.seq_hi = k;
        dead.triggers = k - dead.seq_lo;
        dead.state = store::StartState::kDead;
        dead.error = reason;
        Bury(std::move(dead));
        cur_->seq_lo = k;
        cur_->triggers = cur_->seq_hi - k;
        cur_->oldest = aged->next_oldest.value_or(now_);
        cur_dirty_ = true;
      }
    }
    if (Pending() > 0 && backlog_.oldest && *backlog_.oldest < cutoff) {
      StatusOr<store::LifecycleStore::Aged> aged = m_.store_.FindAged(conn_.id, conn_.covered, backlog_.seq, cutoff);
      if (!aged.ok()) return aged.status();
      const int64_t k = aged->seq;
      if (k > conn_.covered) {
        store::Start dead = NewStart(conn_.covered, k);
        dead.state = store::StartState::kDead;
        dead.error = reason;
        Bury(std::move(dead));
        conn_.covered = k;
        backlog_.oldest = aged->next_oldest;
      }
    }
    return Status::Ok();
  }

  // A start that is dead from the outset (expiry, or pending triggers killed), written with the
  // next commit.
  void Bury(store::Start dead) {
    CountTriggers(store::kDead, dead.triggers);
    log::Warn("triggers dead", {{"connection_id", conn_.id}, {"triggers", std::to_string(dead.triggers)},
                                {"seq", SeqRange(dead)}, {"reason", dead.error}});
    done_.push_back(std::move(dead));
  }

  // ---- Ask::kStart -------------------------------------------------------------------------

  // Covers every pending trigger (and those of a start not carried out) with one start,
  // durably, then sends it.
  Status StartNew() {
    if (Status s = ExpireOld(/*reopen=*/true); !s.ok()) return s;
    const bool reuse = Resendable();
    if (!reuse && Pending() <= 0) {
      EnterPhase(store::Phase::kIdle);
      return Finish(now_);
    }
    store::Start s = reuse ? *cur_ : NewStart(conn_.covered, conn_.covered);
    // The pending triggers join this start unless a dead start sits between them and it; then
    // they wait for the follow-up.
    if (Pending() > 0 && (!reuse || Extendable())) {
      if (!reuse) s.oldest = backlog_.oldest.value_or(now_);
      if (backlog_.last_full > conn_.covered) s.sync_type = "full";
      s.policies |= PoliciesAbove(conn_.covered);
      s.seq_hi = backlog_.seq;
      conn_.covered = backlog_.seq;
      backlog_.oldest.reset();
    }
    s.triggers = s.seq_hi - s.seq_lo;
    s.state = store::StartState::kStarting;
    s.sync_id.clear();
    s.error.clear();
    s.attempted_at = now_;
    cur_ = s;
    cur_dirty_ = true;

    const int attempts = conn_.attempts;
    EnterPhase(store::Phase::kStarting);
    conn_.attempts = attempts;  // consecutive start failures keep counting across re-sends
    conn_.start_attempted_at = now_;
    conn_.sync_type = s.sync_type;
    // If we die after this commit, whoever claims c next resolves the start instead of resending.
    conn_.next_check_at = now_ + m_.options_.lease;
    if (Status st = Commit(Begin(false)); !st.ok()) return st;
    if (!Renew()) return Status(StatusCode::kFailedPrecondition, "lease lost before start");

    rudderstack::CallMeta meta;
    StatusOr<std::string> started = m_.client_.StartSync(conn_.id, conn_.sync_type, &meta);
    now_ = m_.clock_.Now();
    Record("start", meta, started.status(), started.ok() ? *started : "");
    if (!started.ok()) return Carry(Ask::kStart, Failed(Ask::kStart, started.status()));
    Answered a{Answer::kStarted, Status::Ok(), {}, ""};
    a.sync.id = *started;
    a.sync.status = "running";
    return Carry(Ask::kStart, a);
  }

  // The start (with, if asked, every pending trigger) dies; the connection idles.
  Status Kill(const std::string& reason, bool with_pending, const Decision& d) {
    if (with_pending && Pending() > 0) {
      if (Extendable()) {
        cur_->seq_hi = backlog_.seq;
        cur_->triggers = cur_->seq_hi - cur_->seq_lo;
        cur_dirty_ = true;
      } else {
        store::Start dead = NewStart(conn_.covered, backlog_.seq);
        dead.state = store::StartState::kDead;
        dead.error = reason;
        Bury(std::move(dead));
      }
      conn_.covered = backlog_.seq;
      backlog_.oldest.reset();
    }
    log::Error("triggers dead", {{"connection_id", conn_.id}, {"reason", reason}});
    Become(d, "", reason);
    EnterPhase(d.phase);
    conn_.last_error = reason;
    return Finish(now_);
  }

  // ---- Ask::kResolve: an ambiguous start -----------------------------------------------------

  Status Resolve() {
    const TimePoint since = conn_.start_attempted_at.value_or(conn_.phase_since) - m_.options_.start_skew;
    rudderstack::CallMeta meta;
    if (!Renew()) return Status(StatusCode::kFailedPrecondition, "lease lost");
    // One list of recent syncs in every status: ours may have finished already, and an
    // external sync may have started since; the candidate closest to our attempt is ours.
    auto recent = m_.client_.ListSyncs(conn_.id, "", kRecentSyncs, &meta);
    Record("list_syncs", meta, recent.status());
    if (!recent.ok()) return Carry(Ask::kResolve, Failed(Ask::kResolve, recent.status()));
    StatusOr<std::optional<rudderstack::SyncInfo>> mine = FindNew(*recent, since);
    // Without knowing which syncs the store has, the start cannot be resolved: sending it again
    // could start a second sync. Try again later.
    if (!mine.ok()) return Carry(Ask::kResolve, {Answer::kRetryable, mine.status(), {}, ""});
    if (mine->has_value()) return Carry(Ask::kResolve, {Answer::kOursFound, Status::Ok(), **mine, ""});
    // Nothing of ours started. Someone else's sync may be running: that is a 409 in waiting.
    for (const rudderstack::SyncInfo& s : *recent) {
      if (s.status == "running") return Carry(Ask::kResolve, {Answer::kOtherRunning, Status::Ok(), {}, s.id});
    }
    return Carry(Ask::kResolve, {Answer::kNoneRunning, Status::Ok(), {}, ""});
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

  // The start (or its resolution) produced sync `info`: the current start is covered by it.
  Status Adopt(const rudderstack::SyncInfo& info, std::string origin, const Decision& d) {
    store::Sync sync{conn_.id, info.id, info.status, origin, info.started_at, info.finished_at,
                     info.error, info.succeeded, info.failed, info.changed, info.total, conn_.sync_type};
    if (cur_) {
      log::Info(origin == "relay" ? "sync started" : "sync adopted",
                {{"connection_id", conn_.id}, {"sync_id", info.id}, {"sync_type", conn_.sync_type},
                 {"start_id", std::to_string(cur_->id)}, {"triggers", std::to_string(cur_->triggers)},
                 {"seq", SeqRange(*cur_)}});
      metrics::Default()
          .GetHistogram("retl_relay_trigger_start_seconds",
                        "time from the creation of the oldest trigger a start covers to the start of its sync",
                        metrics::DurationBuckets())
          .Observe(std::chrono::duration<double>(now_ - cur_->oldest).count());
      Become(d, info.id, "");
    }
    EnterPhase(d.phase, info.id);
    if (IsTerminal(info.status)) {  // it already finished (a fast sync found after a crash)
      store::Transition t = Begin(false);
      t.syncs.push_back(sync);
      if (Status s = Commit(std::move(t)); !s.ok()) return s;
      return Carry(Ask::kPoll, Ended(info));
    }
    conn_.next_check_at = now_ + m_.options_.sync_poll_interval;
    store::Transition t = Begin(true);
    t.syncs.push_back(sync);
    return Commit(std::move(t));
  }

  // ---- another sync is running -----------------------------------------------------------

  // Ask::kFindRunning: a 409, and the sync that caused it.
  Status FindRunning() {
    rudderstack::CallMeta meta;
    auto running = m_.client_.ListSyncs(conn_.id, "running", 1, &meta);
    Record("list_syncs", meta, running.status());
    if (!running.ok()) return Carry(Ask::kFindRunning, Failed(Ask::kFindRunning, running.status()));
    if (running->empty()) return Carry(Ask::kFindRunning, {Answer::kNoneRunning, Status::Ok(), {}, ""});
    return Carry(Ask::kFindRunning, {Answer::kOtherRunning, Status::Ok(), {}, running->front().id});
  }

  // The start met sync `other`. Its triggers' if_running policies decided (Decide), the most
  // demanding one for all: restart stops the other sync; queue waits for it (the skip
  // triggers then ride on the follow-up sync, which costs nothing more); skip alone is skipped.
  Status OtherRuns(const std::string& other, const Decision& d) {
    store::Sync external{conn_.id, other, "running", "external", "", "", "", 0, 0, 0, 0, ""};
    switch (d.action) {
      case Action::kSkip:
        Become(d, other, "a sync was already running");
        EnterPhase(d.phase);
        break;
      case Action::kStop: {
        // Commit before acting, as for a start: "stopping `other`, which is not ours" is durable
        // before the stop is sent. Found by the fault harness: a relay killed between the stop
        // and its commit left the sync unknown, and the next owner adopted the sync it had just
        // stopped as its own start (its triggers then "failed"). Until the stop is confirmed,
        // last_error makes the next check send it again (Ask::kCheckUnconfirmed).
        Become(d, "", "");  // it starts after the other sync, with whatever arrives meanwhile
        EnterPhase(d.phase, other);
        conn_.last_error = "stop of " + other + " not confirmed";
        conn_.next_check_at = now_ + m_.options_.sync_poll_interval;
        store::Transition intent = Begin(false);
        intent.syncs.push_back(external);
        if (Status s = Commit(std::move(intent)); !s.ok()) return s;
        if (!Renew()) return Status(StatusCode::kFailedPrecondition, "lease lost");
        rudderstack::CallMeta meta;
        Status stopped = m_.client_.StopSync(conn_.id, &meta);
        now_ = m_.clock_.Now();
        Record("stop", meta, stopped, other);
        conn_.last_error = stopped.ok() ? "" : stopped.ToString();
        return Finish(now_ + m_.options_.sync_poll_interval);
      }
      default:  // kQueue
        Become(d, "", "");
        EnterPhase(d.phase, other);
        break;
    }
    conn_.next_check_at = now_ + m_.options_.sync_poll_interval;
    store::Transition t = Begin(true);
    t.syncs.push_back(external);
    return Commit(std::move(t));
  }

  // Ask::kCheck*: waiting or stopping; is anything still running?
  Status CheckOther() {
    const Ask ask = conn_.phase == store::Phase::kWaiting ? Ask::kCheckWaiting
                    : conn_.last_error.empty()            ? Ask::kCheckStopping
                                                          : Ask::kCheckUnconfirmed;
    rudderstack::CallMeta meta;
    if (!Renew()) return Status(StatusCode::kFailedPrecondition, "lease lost");
    auto running = m_.client_.ListSyncs(conn_.id, "running", 1, &meta);
    if (!running.ok()) {
      Record("list_syncs", meta, running.status());
      return Carry(ask, Failed(ask, running.status()));
    }
    if (!running->empty()) {
      Count("list_syncs", meta);  // still running: nothing learnt worth a row
      return Carry(ask, {Answer::kOtherRunning, Status::Ok(), {}, running->front().id});
    }
    Record("list_syncs", meta, Status::Ok());
    return Carry(ask, {Answer::kNoneRunning, Status::Ok(), {}, ""});
  }

  // ---- Ask::kPoll: our sync, to its outcome -------------------------------------------------

  static Answered Ended(const rudderstack::SyncInfo& info) {
    return {info.status == "succeeded" ? Answer::kSucceeded : Answer::kFailed, Status::Ok(), info, ""};
  }

  Status Poll() {
    rudderstack::CallMeta meta;
    if (!Renew()) return Status(StatusCode::kFailedPrecondition, "lease lost");
    StatusOr<rudderstack::SyncInfo> info = m_.client_.GetSync(conn_.id, conn_.sync_id, &meta);
    if (!info.ok()) {
      Record("get_sync", meta, info.status(), conn_.sync_id);
      return Carry(Ask::kPoll, Failed(Ask::kPoll, info.status()));
    }
    if (IsTerminal(info->status)) {
      Record("get_sync", meta, Status::Ok(), conn_.sync_id);
      return Carry(Ask::kPoll, Ended(*info));
    }
    Count("get_sync", meta);  // still running: counted, not stored (see Count)
    const bool too_long = now_ - conn_.phase_since > m_.options_.outcome_timeout;
    return Carry(Ask::kPoll, {too_long ? Answer::kRunningTooLong : Answer::kRunning, Status::Ok(), *info, ""});
  }

  // The outcome stays unknown past outcome_timeout: the start is dead, the sync unknown.
  Status GiveUp(const rudderstack::SyncInfo& info, const Decision& d) {
    std::string reason = "outcome of sync " + conn_.sync_id + " unknown after " +
                         std::to_string(m_.options_.outcome_timeout.count() / 1000) + " s (last status " + info.status +
                         ")";
    store::Sync unknown{conn_.id, conn_.sync_id, "unknown", "relay", info.started_at, "", reason, 0, 0, 0, 0, ""};
    CountSync("unknown");
    Become(d, conn_.sync_id, reason);
    EnterPhase(d.phase);
    store::Transition t = Begin(true);
    t.syncs.push_back(unknown);
    return Commit(std::move(t));
  }

  // The sync reached succeeded or failed: record it and free the connection for a follow-up.
  Status Complete(const rudderstack::SyncInfo& info, const Decision& d) {
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
    Become(d, info.id, ok ? "" : info.error);
    EnterPhase(d.phase);
    conn_.next_check_at = now_;  // triggers that arrived meanwhile start the follow-up at once
    store::Transition t = Begin(true);
    // The origin of a known sync is kept by the upsert; only status, times and metrics change.
    t.syncs.push_back(sync);
    return Commit(std::move(t));
  }

  ConnectionMachine& m_;
  const std::string& owner_;
  store::Connection conn_;
  store::Backlog backlog_;
  std::optional<store::Start> cur_;  // the connection's unfinished start
  bool cur_dirty_ = false;           // cur_ changed since the last commit
  TimePoint now_;
  TimePoint leased_at_;  // the claim (or the last renewal) set the lease to this + lease
  std::vector<store::Start> done_;
  std::vector<store::Attempt> attempts_;
};

ConnectionMachine::ConnectionMachine(store::LifecycleStore& store, rudderstack::Client& client, Clock& clock,
                                     config::DispatchConfig options, std::function<double()> unit_random)
    : store_(store), client_(client), clock_(clock), options_(options), unit_random_(std::move(unit_random)) {}

Status ConnectionMachine::Step(const std::string& owner, const store::Claim& claim) {
  return Run(*this, owner, claim).Go();
}

}  // namespace relay::dispatch
