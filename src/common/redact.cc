#include "common/redact.h"

#include <cctype>
#include <utility>
#include <vector>

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

namespace {

// Where a PostgreSQL URL's passwords are, as [begin, end) offsets in order: the user-info
// part's and each password= parameter's.
std::vector<std::pair<size_t, size_t>> PasswordSpans(std::string_view url) {
  std::vector<std::pair<size_t, size_t>> out;
  if (!url.starts_with("postgres")) return out;
  const size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    const size_t start = scheme + 3;
    const size_t at = url.find('@', start);
    const size_t slash = url.find('/', start);
    const size_t colon = url.find(':', start);
    if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash) && colon < at) {
      out.emplace_back(colon + 1, at);
    }
  }
  for (size_t p = url.find("password="); p != std::string_view::npos; p = url.find("password=", p + 1)) {
    if (p > 0 && url[p - 1] != '?' && url[p - 1] != '&') continue;
    const size_t end = url.find('&', p + 9);
    out.emplace_back(p + 9, end == std::string_view::npos ? url.size() : end);
  }
  return out;
}

}  // namespace

std::vector<std::string> StoreUrlPasswords(std::string_view url) {
  std::vector<std::string> out;
  for (const auto& [begin, end] : PasswordSpans(url)) out.emplace_back(url.substr(begin, end - begin));
  return out;
}

std::string RedactedStoreUrl(std::string_view url) {
  std::string out(url);
  const auto spans = PasswordSpans(url);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) out.replace(it->first, it->second - it->first, "***");
  return out;
}

}  // namespace relay
