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
//   kFailedPrecondition  yes          no           409: a sync is running; waits for it. In a
//                                                  store job ("lease lost") repeating is useless
//   kInternal            yes          no           a local failure (OpenSSL, a store error seen
//                                                  by the dispatcher): later, bounded by max_age
//   kInvalidArgument, kNotFound, kPermissionDenied, kUnauthenticated, kAlreadyExists: never
//
// IsRetryable: retried later, with backoff (dispatch/retry_policy.h), by the dispatcher.
// IsTransient: the subset worth repeating at once, within the same transaction (the store's
// batch executor re-runs such a job from its savepoint).

#include "common/status.h"

namespace relay {

bool IsRetryable(const Status& status);
bool IsTransient(const Status& status);

}  // namespace relay
