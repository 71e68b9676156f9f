#include "common/redact.h"

#include <cctype>

namespace relay {
namespace {

bool Touches(const std::string& text, size_t at) {
  return at < text.size() && std::isalnum(static_cast<unsigned char>(text[at])) != 0;
}

}  // namespace

std::string RedactWhole(std::string text, std::string_view value, std::string_view shown) {
  if (value.empty()) return text;
  for (size_t at = text.find(value); at != std::string::npos;) {
    const bool whole = value.size() >= kRedactAnywhereBytes ||
                       ((at == 0 || !Touches(text, at - 1)) && !Touches(text, at + value.size()));
    if (!whole) {
      at = text.find(value, at + 1);
      continue;
    }
    text.replace(at, value.size(), shown);
    at = text.find(value, at + shown.size());
  }
  return text;
}

}  // namespace relay
