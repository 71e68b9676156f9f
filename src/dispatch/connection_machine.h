#pragma once
// ConnectionMachine: the per-connection sync lifecycle (DESIGN.md §4). One Step advances one
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
#include <string>

#include "common/clock.h"
#include "config/config.h"
#include "rudderstack/client.h"
#include "store/store.h"

namespace relay::dispatch {

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
