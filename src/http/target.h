#pragma once
// Small helpers for request targets ("/a/b?x=1&y=2"), shared by the handlers. No decoding of
// %-escapes: the relay's paths and parameters are plain ids and numbers.

#include <string>
#include <string_view>
#include <vector>

namespace relay::http {

// The non-empty segments of the path part: "/v2/x/y?q" → {"v2", "x", "y"}.
std::vector<std::string> PathSegments(std::string_view target);
// The value of `name` in the query part of `target`, or "" when absent.
std::string QueryParam(std::string_view target, std::string_view name);

}  // namespace relay::http
