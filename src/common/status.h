#pragma once
// Status and StatusOr<T>: the error values every fallible call across a module boundary returns.
// Shaped after leveldb's Status with absl's codes, so a later switch to absl is mechanical.
// A Status is cheap to copy when ok (no allocation). Thread-compatible.

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace relay {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input: HTTP 400, permanent
  kNotFound,            // HTTP 404, permanent
  kAlreadyExists,       // duplicate: idempotent success for the caller
  kPermissionDenied,    // HTTP 403, permanent
  kUnauthenticated,     // HTTP 401 (bad signature, bad token)
  kFailedPrecondition,  // the system is not in the state the call needs (a lease lost, a schema too new)
  kConflict,            // HTTP 409: a sync is already running (waits for it)
  kResourceExhausted,   // HTTP 429, or a local limit
  kUnavailable,         // 5xx, network, database busy/down: retryable
  kDeadlineExceeded,    // timeout; the request may have been processed
  kInternal,            // broken invariant or unexpected library failure
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // A server's Retry-After hint, zero when none was given. The one place that bounds a
  // server-given delay: a hint is held to [0, kMaxRetryAfter], so no answer (Retry-After:
  // 99999999 from RudderStack, dbt Cloud or an alert sink) can park a connection, a
  // reconciliation pass, a verification or a sink for longer than the backoff's own maximum.
  static constexpr std::chrono::milliseconds kMaxRetryAfter{std::chrono::minutes(5)};
  std::chrono::milliseconds retry_after() const { return retry_after_; }
  Status& set_retry_after(std::chrono::milliseconds d) {
    retry_after_ = std::clamp(d, std::chrono::milliseconds(0), kMaxRetryAfter);
    return *this;
  }

  // "UNAVAILABLE: rudderstack POST …/start: HTTP 503", or "OK".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::chrono::milliseconds retry_after_{0};
};

inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExistsError(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status UnauthenticatedError(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Holds either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "StatusOr built from OK");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace relay
