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
  return Status::Ok();
}

}  // namespace relay
