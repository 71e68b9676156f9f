#include "common/ids.h"

#include <string>

namespace relay {

bool IsRudderstackId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRudderstackIdBytes) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status CheckRudderstackId(std::string_view id, std::string_view field) {
  if (IsRudderstackId(id)) return Status::Ok();
  std::string why = id.empty() ? "is empty"
                    : id.size() > kMaxRudderstackIdBytes
                        ? "is longer than " + std::to_string(kMaxRudderstackIdBytes) + " characters"
                        : "may hold only letters, digits, '_' and '-'";
  return InvalidArgumentError(std::string(field) + ": " + why);
}

Status CheckIdentifier(std::string_view id, std::string_view field) {
  if (id.empty()) return InvalidArgumentError(std::string(field) + ": is empty");
  if (id.size() > kMaxIdentifierBytes) {
    return InvalidArgumentError(std::string(field) + ": longer than " + std::to_string(kMaxIdentifierBytes) + " bytes");
  }
  for (char c : id) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return InvalidArgumentError(std::string(field) + ": holds a control character");
    }
  }
  // A %-decoded URL segment can be any bytes; a stored id is text (PostgreSQL refuses invalid
  // UTF-8 with an error, not an answer).
  for (size_t i = 0; i < id.size();) {
    const unsigned char c = static_cast<unsigned char>(id[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len != 0 && i + len <= id.size() && !(len == 2 && c < 0xC2) && !(len == 4 && c > 0xF4);
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(id[i + k]) & 0xC0) == 0x80;
    if (ok && len == 3) {
      const unsigned char c1 = static_cast<unsigned char>(id[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogates
    }
    if (ok && len == 4) {
      const unsigned char c1 = static_cast<unsigned char>(id[i + 1]);
      ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (!ok) return InvalidArgumentError(std::string(field) + ": not valid UTF-8");
    i += len;
  }
  return Status::Ok();
}

}  // namespace relay
