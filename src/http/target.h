#pragma once
// Small helpers for request targets ("/a/b?x=1&y=2"), shared by the handlers. Segments and
// parameter values are %-decoded (after the split, so "%2F" stays inside its segment): an id
// the relay accepted (an eventId with a space, '<', '"' or U+202E) can be named in a URL as
// the status page writes it (encodeURIComponent). A '%' not followed by two hex digits is kept
// as it is; '+' is not a space.

#include <string>
#include <string_view>
#include <vector>

namespace relay::http {

// "a%20b" → "a b".
std::string PercentDecode(std::string_view text);
// The non-empty segments of the path part, decoded: "/v2/x%3Cy/z?q" → {"v2", "x<y", "z"}.
std::vector<std::string> PathSegments(std::string_view target);
// The value of `name` in the query part of `target`, decoded, or "" when absent.
std::string QueryParam(std::string_view target, std::string_view name);

}  // namespace relay::http
