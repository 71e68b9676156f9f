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

std::optional<TimePoint> ParseIso8601(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != ' ') ||
      text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len, int* out) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return true;
  };
  std::tm tm{};
  int year, mon, day, hour, min, sec;
  if (!num(0, 4, &year) || !num(5, 2, &mon) || !num(8, 2, &day) || !num(11, 2, &hour) || !num(14, 2, &min) ||
      !num(17, 2, &sec)) {
    return std::nullopt;
  }
  // Every field in its range: timegm would roll 2026-02-30 over to March, and years past 2262
  // overflow the clock's nanoseconds. kMaxIsoYear keeps well inside.
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (year < 1970 || year > kMaxIsoYear || mon < 1 || mon > 12 || day < 1 ||
      day > kDays[mon - 1] + (mon == 2 && leap ? 1 : 0) || hour > 23 || min > 59 || sec > 59) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  size_t i = 19;
  int64_t ms = 0;
  if (i < text.size() && text[i] == '.') {
    int digits = 0;
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
      if (digits < 3) ms = ms * 10 + (text[i] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) ms *= 10;
  }
  std::string_view zone = text.substr(i);
  if (zone != "Z" && zone != "+00:00" && zone != "z") return std::nullopt;
  const std::time_t secs = timegm(&tm);
  return FromUnixMillis(static_cast<int64_t>(secs) * 1000 + ms);
}

}  // namespace relay
