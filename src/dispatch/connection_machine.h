#pragma once
// ConnectionMachine: the per-connection sync lifecycle (docs/design.md). One Step advances one
// leased connection as far as it can without waiting, and commits every change through
// Store::Commit, fenced by the lease.
//
// Phases of a connection and what moves them:
//
//   idle ──pending triggers──▶ starting ──200 {syncId}────────────▶ running(S)
//    ▲                          │  │  └──timeout/5xx/429/crash──┐      │ poll GET …/syncs/S
//    │                          │  │     (ambiguous: resolve)   │      │ every sync_poll_interval
//    │                          │  │  ◀─────────────────────────┘      ▼
//    │                          │  │  resolve: a sync started ≥ T−skew → adopt it → running(S)
//    │                          │  │           none → send the start again (new T)
//    │                          │  └─409 / other sync running R: the most demanding if_running
//    │                          │     among the start's triggers decides for all of them:
//    │                          │       all skip → start skipped, covered by R
//    │                          │       queue    → start queued, waiting(R): poll …/syncs?status=running
//    │                          │       restart  → start queued, POST …/stop → stopping(R): poll likewise
//    │                          └─400/401/403/404 → start dead (reason kept) → idle
//    ├──────── waiting / stopping: nothing runs any more ◀───────────────────┘
//    └──────── running(S) ends: succeeded | failed → its start (and triggers) succeeded | failed;
//              pending triggers that arrived meanwhile start ONE follow-up sync (full wins)
//
// Starts: every pending trigger of the connection (seq in (covered, seq]) is covered by ONE
// start, written durably with state starting and the attempt time T BEFORE /start is sent, in a
// commit whose cost does not depend on how many triggers it covers (docs/schema.md). The start
// then moves running(S) → succeeded | failed; or queued (409, waits; the next start extends it
// over what arrived meanwhile); or skipped; or dead. A trigger's state is its start's. Crash
// safety rests on that order: after a crash the connection is found in `starting` with T, and
// the next owner first looks for a sync started at or after T − start_skew (one list of recent
// syncs in every status: ours may have finished already) before it sends anything. A sync is
// adopted only if the store does not know it already, and of several candidates the one that
// started closest to T (a sync someone else started later is not ours). A stop (restart policy)
// is likewise committed — the stopped sync recorded as external — before it is sent, so it can
// never be adopted as ours. Expiry by max_age takes the oldest triggers as a prefix of the range
// (found by binary search) and writes them as one dead start; never while a start's outcome is
// unknown.
//
// Worked example. Connection c1 is idle; webhook E1 adds trigger 1 (seq 1). Worker A claims c1,
// commits {c1: starting, T=10:00:00, covered=1; start #1 (0,1]: starting}, POSTs /start, and the
// reply is lost (timeout). A commits {c1: starting, attempts=1, next check 10:00:01}. Meanwhile
// E2 adds trigger 2 (seq 2, pending: above covered). At 10:00:01 worker B claims c1 (phase
// starting): GET …/syncs lists s7 started 10:00:00.2Z, unknown to the store → adopted: {c1:
// running(s7); start #1: running s7}. Trigger 2 stays pending: s7 may have read the warehouse
// before E2's run finished. Ten seconds later a poll sees s7 succeeded → {start #1: succeeded;
// c1: idle}, and the next step starts one follow-up sync, start #2 (1,2], for trigger 2 — and
// for the million others that might have arrived meanwhile, at the same cost.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "config/config.h"
#include "rudderstack/client.h"
#include "store/store.h"

namespace relay::dispatch {

// ---- the lifecycle as a table --------------------------------------------------------------
//
// Every RudderStack call the machine makes, every class of answer, and what follows: Decide
// below is this table, and LifecycleTableTest checks every row of it against Decide (and that
// every pair not listed is impossible). `policy` is the most demanding if_running among the
// start's triggers (restart > queue > skip; a start of skip triggers only is "skip"); `start` is
// what the connection's unfinished start becomes ("-": unchanged). Expiry by max_age runs
// before any of it; an idle connection with nothing pending makes no call; adopting a sync that
// has already ended (found after a crash) goes on as poll's succeeded or failed.
//
// lifecycle table (ask, answer, policy, action, phase, start):
//   start              started            any      adopt              running    running
//   start              conflict           any      find_running       starting   -
//   start              retryable          any      retry              starting   -
//   start              permanent          any      kill               idle       dead
//   find_running       other_running      skip     skip               idle       skipped
//   find_running       other_running      queue    queue              waiting    queued
//   find_running       other_running      restart  stop               stopping   queued
//   find_running       none_running       any      queue_and_retry    idle       queued
//   find_running       retryable          any      retry              starting   -
//   find_running       permanent          any      kill               idle       dead
//   resolve            ours_found         any      adopt              running    running
//   resolve            other_running      skip     skip               idle       skipped
//   resolve            other_running      queue    queue              waiting    queued
//   resolve            other_running      restart  stop               stopping   queued
//   resolve            none_running       any      resend             starting   starting
//   resolve            retryable          any      retry              starting   -
//   resolve            permanent          any      kill               idle       dead
//   check_waiting      other_running      any      poll_later         waiting    -
//   check_waiting      none_running       any      follow_up          idle       -
//   check_waiting      retryable          any      retry              waiting    -
//   check_waiting      permanent          any      kill_with_pending  idle       dead
//   check_stopping     other_running      any      poll_later         stopping   -
//   check_stopping     none_running       any      follow_up          idle       -
//   check_stopping     retryable          any      retry              stopping   -
//   check_stopping     permanent          any      kill_with_pending  idle       dead
//   check_unconfirmed  other_running      any      stop_again         stopping   -
//   check_unconfirmed  none_running       any      follow_up          idle       -
//   check_unconfirmed  retryable          any      retry              stopping   -
//   check_unconfirmed  permanent          any      kill_with_pending  idle       dead
//   poll               running            any      poll_later         running    -
//   poll               running_too_long   any      give_up            idle       dead
//   poll               succeeded          any      complete           idle       succeeded
//   poll               failed             any      complete           idle       failed
//   poll               retryable          any      retry              running    -
//   poll               permanent          any      kill               idle       dead
// end of table

// What the machine asked: the phase decides, except find_running (the look-up after a 409).
enum class Ask {
  kStart,             // POST …/start (idle; or resend)
  kFindRunning,       // GET …/syncs?status=running after a 409
  kResolve,           // starting: GET …/syncs (recent, any status), is one ours?
  kCheckWaiting,      // waiting: GET …/syncs?status=running
  kCheckStopping,     // stopping, the stop confirmed: likewise
  kCheckUnconfirmed,  // stopping, the stop not confirmed (failed, or unsent at a crash): likewise
  kPoll,              // running: GET …/syncs/S
};
// The class of RudderStack's answer (for errors, what common/retry.h's IsRetryable says).
enum class Answer {
  kStarted,         // 2xx with a sync id
  kOursFound,       // a sync the store does not know started close to our attempt
  kOtherRunning,    // another sync runs (none of ours found)
  kNoneRunning,     // nothing runs
  kRunning,         // our sync still runs
  kRunningTooLong,  // ... past dispatch.outcome_timeout
  kSucceeded,       // our sync ended
  kFailed,
  kConflict,   // 409 to a start (to a read, a 409 is retryable like any other IsRetryable error)
  kRetryable,  // 429, 5xx, timeout, refused (and the store failing to say which syncs it knows)
  kPermanent,  // any other 4xx
};
enum class Policy { kSkip, kQueue, kRestart };
// The most demanding of the store::kPolicy* bits (none: queue).
Policy PolicyOf(int policies);
enum class Action {
  kAdopt,            // the start is covered by the sync: follow it
  kFindRunning,      // ask which sync runs (Ask::kFindRunning)
  kRetry,            // stay, try again after backoff (an ambiguous start is resolved, never resent)
  kKill,             // the start dies with the error
  kKillWithPending,  // ... and every pending trigger with it
  kSkip,             // the start is covered by the other sync
  kQueue,            // wait for the other sync; the follow-up takes what arrives meanwhile
  kStop,             // commit the intent, then stop the other sync (restart)
  kQueueAndRetry,    // a 409 with nothing running: queued, start again after backoff
  kResend,           // nothing of ours started: send the start again (a new attempt time)
  kPollLater,        // look again after sync_poll_interval
  kStopAgain,        // send the stop again, then look later
  kFollowUp,         // the other sync ended: idle, the queued start goes out at the next claim
  kComplete,         // record the outcome; pending triggers start one follow-up at once
  kGiveUp,           // outcome unknown: the start is dead, the sync recorded as unknown
  kImpossible,       // not a pair the machine can meet
};
struct Decision {
  Action action = Action::kImpossible;
  store::Phase phase = store::Phase::kIdle;   // the connection's phase afterwards
  std::optional<store::StartState> start;     // what its unfinished start becomes; nullopt: as it is
};
// Pure: the table above.
Decision Decide(Ask ask, Answer answer, Policy policy);
std::string_view ToString(Ask ask);
std::string_view ToString(Answer answer);
std::string_view ToString(Policy policy);
std::string_view ToString(Action action);

class ConnectionMachine {
 public:
  // `unit_random` gives backoff jitter in [0, 1); it is called from one thread at a time.
  ConnectionMachine(store::LifecycleStore& store, rudderstack::Client& client, Clock& clock, config::DispatchConfig options,
                    std::function<double()> unit_random);

  // Advances the claimed connection and releases its lease. Returns the store's error if a
  // commit failed (FailedPrecondition when the lease was lost); API errors are handled inside.
  Status Step(const std::string& owner, const store::Claim& claim);

 private:
  class Run;  // the state of one Step
  store::LifecycleStore& store_;
  rudderstack::Client& client_;
  Clock& clock_;
  const config::DispatchConfig options_;
  std::function<double()> unit_random_;
};

}  // namespace relay::dispatch
