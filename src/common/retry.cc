#include "common/retry.h"

#include <algorithm>

namespace relay {

bool IsRetryable(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted:
    case StatusCode::kConflict:
    case StatusCode::kInternal:
      return true;
    case StatusCode::kOk:
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated:
      return false;
  }
  return false;
}

bool IsTransient(const Status& status) { return status.code() == StatusCode::kUnavailable; }

Duration BackoffDelay(const BackoffOptions& options, int attempt, double unit_random, const Status& cause) {
  const int shift = std::clamp(attempt, 0, 30);
  const int64_t initial = std::max<int64_t>(options.initial.count(), 1);
  const int64_t cap = std::min<int64_t>(options.max.count(), initial << shift);
  auto jittered = Duration(static_cast<int64_t>(static_cast<double>(cap) * std::clamp(unit_random, 0.0, 1.0)));
  return std::max<Duration>(jittered, cause.retry_after());
}

}  // namespace relay
