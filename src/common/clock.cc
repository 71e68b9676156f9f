#include "common/clock.h"

#include <ctime>

namespace relay {

// The one place that reads the real clock (a CI grep lint enforces this).
TimePoint SystemClock::Now() { return std::chrono::system_clock::now(); }
std::chrono::steady_clock::time_point SystemClock::SteadyNow() {
  return std::chrono::steady_clock::now();
}

std::string FormatIso8601(TimePoint t) {
  const int64_t ms = ToUnixMillis(t);
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

}  // namespace relay
