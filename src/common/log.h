#pragma once
// Structured logging: one JSON object per line on stderr ({"ts","level","msg", ids...}), or
// plain text. Thread-safe. Callers never pass secrets: ids, counts and error texts only.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace relay::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kJson, kText };

// A field such as {"event_id", "wev_…"}. Values are always written as JSON strings.
using Field = std::pair<std::string_view, std::string_view>;

void SetLevel(Level level);
void SetFormat(Format format);
// Parses "debug" | "info" | "warn" | "error"; returns false for anything else.
bool ParseLevel(std::string_view text, Level* level);
bool Enabled(Level level);

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});
inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kDebug, m, f); }
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kInfo, m, f); }
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kWarn, m, f); }
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kError, m, f); }

// Appends `text` to `out` as the inside of a JSON string (quotes not included). Control
// characters are escaped; bytes that are not valid UTF-8 become U+FFFD, so the result is valid
// JSON whatever the input.
void AppendJsonEscaped(std::string& out, std::string_view text);

}  // namespace relay::log
