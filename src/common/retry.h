#pragma once
// The one place that decides whether a failed call is tried again. Modules translate their
// errors into StatusCodes (the RudderStack client maps HTTP statuses, pg_db maps SQLSTATE
// classes, SQLite maps its result codes); they never decide retries themselves.
//
//   code                 IsRetryable  IsTransient  why
//   kUnavailable         yes          yes          5xx, network down, database busy, deadlock,
//                                                  lost connection (SQLSTATE 40, 08, 53, 57)
//   kDeadlineExceeded    yes          no           a timeout: the call may have happened; the
//                                                  caller resolves that before any resend
//   kResourceExhausted   yes          no           429 or a local limit: later, not at once
//   kConflict            yes          no           409: a sync is running; waits for it
//   kInternal            yes          no           a local failure (OpenSSL, a store error seen
//                                                  by the dispatcher): later, bounded by max_age
//   kInvalidArgument, kNotFound, kPermissionDenied, kUnauthenticated, kAlreadyExists,
//   kFailedPrecondition (a lease lost, a schema this build cannot use: repeating is useless): never
//
// IsRetryable: retried later, with backoff (BackoffDelay below), by the dispatcher.
// IsTransient: the subset worth repeating at once, within the same transaction (the store's
// batch executor re-runs such a job from its savepoint).

#include "common/clock.h"
#include "common/status.h"

namespace relay {

bool IsRetryable(const Status& status);
bool IsTransient(const Status& status);

// The one backoff, for every caller that waits after a failure: the dispatcher (full jitter),
// the alerter (5 s doubling to 10 min), the reconciliation watcher (15 s doubling to the
// interval) and the verifier (5 s doubling to 60 s).
struct BackoffOptions {
  Duration initial = std::chrono::seconds(1);
  Duration max = std::chrono::minutes(5);
};

// min(max, initial·2^attempt) times `unit_random` (in [0, 1]: full jitter; 1 for none), and
// never less than the server's Retry-After (which Status bounds at Status::kMaxRetryAfter, so a
// hostile answer cannot park anything). attempt 0 is the first retry; past 30 doublings the
// cap has long been reached.
Duration BackoffDelay(const BackoffOptions& options, int attempt, double unit_random, const Status& cause);

}  // namespace relay
