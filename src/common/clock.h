#pragma once
// Clock: the only source of the current time. Production code takes a Clock& so tests can use
// FakeClock and never sleep (docs/conventions.md, "Time and tests"). Implementations are thread-safe.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (UTC); what is stored and compared with RudderStack's timestamps.
  virtual TimePoint Now() = 0;
  // Monotonic time, for measuring latencies and timeouts.
  virtual std::chrono::steady_clock::time_point SteadyNow() = 0;
};

class SystemClock : public Clock {
 public:
  // Clock
  TimePoint Now() override;
  std::chrono::steady_clock::time_point SteadyNow() override;
};

// A clock that moves only when told to. Both readings advance together.
class FakeClock : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1'700'000'000)))
      : now_ms_(ToMs(start)) {}
  void Advance(Duration d) { now_ms_ += d.count(); }
  // Clock
  TimePoint Now() override { return TimePoint(std::chrono::milliseconds(now_ms_.load())); }
  std::chrono::steady_clock::time_point SteadyNow() override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(now_ms_.load()));
  }

 private:
  static int64_t ToMs(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  }
  std::atomic<int64_t> now_ms_;
};

// Milliseconds since the Unix epoch: the representation the store keeps.
inline int64_t ToUnixMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline TimePoint FromUnixMillis(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

// ISO-8601 UTC with milliseconds, e.g. "2026-11-27T20:16:49.123Z".
std::string FormatIso8601(TimePoint t);
// Parses RFC 3339 / ISO-8601 UTC as RudderStack and dbt write it: "2024-04-20T05:41:18.871Z",
// any number of fractional digits (kept to milliseconds), "Z" or "+00:00". Strict: a date that
// does not exist (2026-02-30, 13th month, hour 24) or a year outside 1970..kMaxIsoYear is
// nullopt, as is anything else.
inline constexpr int kMaxIsoYear = 2200;
std::optional<TimePoint> ParseIso8601(std::string_view text);

}  // namespace relay
