#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "common/clock.h"

namespace relay::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kJson)};
std::mutex g_write_mu;

std::string_view LevelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

}  // namespace

void SetLevel(Level level) { g_level = static_cast<int>(level); }
void SetFormat(Format format) { g_format = static_cast<int>(format); }
bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

bool ParseLevel(std::string_view text, Level* level) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

void AppendJsonEscaped(std::string& out, std::string_view text) {
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  SystemClock clock;  // Log timestamps are the only wall-clock read outside injected clocks.
  std::string line;
  line.reserve(128);
  if (static_cast<Format>(g_format.load()) == Format::kJson) {
    line += "{\"ts\":\"" + FormatIso8601(clock.Now()) + "\",\"level\":\"";
    line += LevelName(level);
    line += "\",\"msg\":\"";
    AppendJsonEscaped(line, msg);
    line += '"';
    for (const auto& [k, v] : fields) {
      line += ",\"";
      line += k;
      line += "\":\"";
      AppendJsonEscaped(line, v);
      line += '"';
    }
    line += "}\n";
  } else {
    line += FormatIso8601(clock.Now()) + " " + std::string(LevelName(level)) + " " + std::string(msg);
    for (const auto& [k, v] : fields) {
      line += " ";
      line += k;
      line += "=";
      line += v;
    }
    line += "\n";
  }
  std::lock_guard<std::mutex> lock(g_write_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace relay::log
