#pragma once
// One blocking HTTP request to an upstream API (RudderStack, dbt Cloud) with libcurl, and the
// one mapping of its outcome onto a Status. Call from worker threads only, never from an HTTP
// thread. Each calling thread keeps its own curl handle, so connections are reused.
//
//   2xx → OK · 400 → InvalidArgument · 401 → Unauthenticated · 403 → PermissionDenied
//   404 → NotFound · 409 → Conflict · 429 → ResourceExhausted · 5xx → Unavailable
//   (429 and 5xx carry Retry-After when the answer had it, in seconds, at most
//   Status::kMaxRetryAfter) · could not connect or
//   resolve → Unavailable ("request not sent") · timed out or dropped after sending →
//   DeadlineExceeded (the server may have acted). Retries are decided by common/retry.h.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <curl/curl.h>

#include "common/clock.h"
#include "common/status.h"

namespace relay::httpc {

struct Request {
  const char* method = "GET";  // "GET" or "POST"
  std::string url;
  std::string bearer;  // the Authorization: Bearer token; never logged. Empty: no Authorization
  std::vector<std::string> headers;  // more header lines, "Name: value"
  // Logged instead of `url` when set: a URL that is itself a credential (a Slack webhook).
  std::string log_url;
  std::string body;    // POST only, sent as application/json
  Duration connect_timeout = std::chrono::seconds(10);
  Duration timeout = std::chrono::seconds(30);
  // When set and true, a call in progress is abandoned within about a second (shutdown).
  const std::atomic<bool>* abort = nullptr;
  // A longer answer fails the transfer. The Lambda Runtime API hands out events up to 6 MB.
  size_t max_response_bytes = 1024 * 1024;
};

struct Exchange {
  long status = 0;  // 0 when no answer arrived
  std::string body;  // at most Request::max_response_bytes
  std::string retry_after;
  // Every response header, the name lower-cased, the value trimmed, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  CURLcode code = CURLE_OK;
  std::string curl_error;  // libcurl's text for `code`
  int64_t latency_ms = 0;
};

// Performs the request. POSTs go out on a fresh connection: libcurl silently re-sends a request
// whose reused keep-alive connection died before any answer, and a second POST …/start would
// be a second sync. GETs reuse connections.
Exchange Perform(const Request& request);
// The value of response header `name` (lower-case), or "" when absent.
std::string_view HeaderOf(const Exchange& ex, std::string_view name);

// The Status of an exchange (table above). `what` names the call ("dbt cloud GET …/runs/");
// `detail`, when not empty, is the API's own error text, appended in parentheses.
Status StatusOf(const Exchange& ex, const std::string& what, const std::string& detail);

}  // namespace relay::httpc
