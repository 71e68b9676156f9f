#pragma once
// When a failed RudderStack call is retried: capped exponential backoff. Whether it is
// retried at all is common/retry.h's decision (IsRetryable), the one place for that.

#include <cstdint>

#include "common/clock.h"
#include "common/retry.h"
#include "common/status.h"

namespace relay::dispatch {

using relay::IsRetryable;

struct BackoffOptions {
  Duration initial = std::chrono::seconds(1);
  Duration max = std::chrono::minutes(5);
};

// Capped exponential backoff with full jitter: a uniform delay in [0, min(max, initial·2^attempt)],
// where `unit_random` is in [0, 1). A server's Retry-After is honoured as a lower bound
// (Status bounds it at Status::kMaxRetryAfter, so a hostile answer cannot park a connection).
// attempt 0 is the first retry.
Duration BackoffDelay(const BackoffOptions& options, int attempt, double unit_random, const Status& cause);

}  // namespace relay::dispatch
