#pragma once
// The one place that decides whether a failed RudderStack call is retried, and when.

#include <cstdint>

#include "common/clock.h"
#include "common/status.h"

namespace relay::dispatch {

// True for failures that may succeed later: Unavailable (5xx, network, database busy),
// DeadlineExceeded (timeouts), ResourceExhausted (429) and FailedPrecondition (409: a sync is
// running; the 409 policies of the full lifecycle refine this). InvalidArgument (400),
// Unauthenticated (401), PermissionDenied (403) and NotFound (404) are permanent.
bool IsRetryable(const Status& status);

struct BackoffOptions {
  Duration initial = std::chrono::seconds(1);
  Duration max = std::chrono::minutes(5);
};

// Capped exponential backoff with full jitter: a uniform delay in [0, min(max, initial·2^attempt)],
// where `unit_random` is in [0, 1). A server's Retry-After is honoured as a lower bound.
// attempt 0 is the first retry.
Duration BackoffDelay(const BackoffOptions& options, int attempt, double unit_random, const Status& cause);

}  // namespace relay::dispatch
