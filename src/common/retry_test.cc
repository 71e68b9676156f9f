#include "common/retry.h"

#include <gtest/gtest.h>

namespace relay {
namespace {

TEST(RetryPolicyTest, ClassifiesApiOutcomes) {
  EXPECT_TRUE(IsRetryable(Status(StatusCode::kUnavailable, "503")));
  EXPECT_TRUE(IsRetryable(Status(StatusCode::kDeadlineExceeded, "timeout")));
  EXPECT_TRUE(IsRetryable(Status(StatusCode::kResourceExhausted, "429")));
  EXPECT_TRUE(IsRetryable(Status(StatusCode::kConflict, "409")));
  EXPECT_FALSE(IsRetryable(Status(StatusCode::kFailedPrecondition, "lease lost")));
  EXPECT_FALSE(IsRetryable(Status(StatusCode::kInvalidArgument, "400")));
  EXPECT_FALSE(IsRetryable(Status(StatusCode::kUnauthenticated, "401")));
  EXPECT_FALSE(IsRetryable(Status(StatusCode::kPermissionDenied, "403")));
  EXPECT_FALSE(IsRetryable(Status(StatusCode::kNotFound, "404")));
}

// common/retry.h's table, code by code: the dispatcher retries local failures (kInternal)
// later, while the store's executor repeats only what can succeed at once (kUnavailable).
TEST(RetryPolicyTest, OneTableDecidesLaterAndAtOnce) {
  struct Row {
    StatusCode code;
    bool later;
    bool at_once;
  };
  const Row rows[] = {
      {StatusCode::kUnavailable, true, true},         {StatusCode::kDeadlineExceeded, true, false},
      {StatusCode::kResourceExhausted, true, false},  {StatusCode::kConflict, true, false},
      {StatusCode::kInternal, true, false},           {StatusCode::kInvalidArgument, false, false},
      {StatusCode::kNotFound, false, false},          {StatusCode::kAlreadyExists, false, false},
      {StatusCode::kPermissionDenied, false, false},  {StatusCode::kUnauthenticated, false, false},
      {StatusCode::kFailedPrecondition, false, false},
  };
  for (const Row& r : rows) {
    Status s(r.code, "x");
    EXPECT_EQ(relay::IsRetryable(s), r.later) << StatusCodeName(r.code);
    EXPECT_EQ(relay::IsTransient(s), r.at_once) << StatusCodeName(r.code);
  }
}

TEST(RetryPolicyTest, FullJitterStaysUnderTheExponentialCap) {
  BackoffOptions o{std::chrono::seconds(1), std::chrono::seconds(60)};
  Status cause(StatusCode::kUnavailable, "503");
  EXPECT_EQ(BackoffDelay(o, 0, 0.0, cause), Duration(0));
  EXPECT_EQ(BackoffDelay(o, 0, 0.5, cause), Duration(500));
  EXPECT_EQ(BackoffDelay(o, 3, 0.5, cause), Duration(4000));  // cap 8 s
  EXPECT_EQ(BackoffDelay(o, 10, 0.999, cause), Duration(59940));  // capped at 60 s
  EXPECT_EQ(BackoffDelay(o, 1000, 0.5, cause), Duration(30000));  // no overflow
}

TEST(RetryPolicyTest, RetryAfterIsALowerBound) {
  BackoffOptions o{std::chrono::seconds(1), std::chrono::seconds(60)};
  Status cause(StatusCode::kResourceExhausted, "429");
  cause.set_retry_after(std::chrono::seconds(7));
  EXPECT_EQ(BackoffDelay(o, 0, 0.1, cause), Duration(7000));
  EXPECT_EQ(BackoffDelay(o, 6, 0.5, cause), Duration(30000));  // jitter above Retry-After wins
}

}  // namespace
}  // namespace relay
