#include "dispatch/retry_policy.h"

#include <algorithm>

namespace relay::dispatch {

Duration BackoffDelay(const BackoffOptions& options, int attempt, double unit_random, const Status& cause) {
  // 2^attempt overflows quickly; past 30 doublings the cap has long been reached.
  const int shift = std::clamp(attempt, 0, 30);
  const int64_t initial = std::max<int64_t>(options.initial.count(), 1);
  const int64_t cap = std::min<int64_t>(options.max.count(), initial << shift);
  auto jittered = Duration(static_cast<int64_t>(static_cast<double>(cap) * std::clamp(unit_random, 0.0, 1.0)));
  return std::max(jittered, cause.retry_after());
}

}  // namespace relay::dispatch
