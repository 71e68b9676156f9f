#include "httpc/http_call.h"

#include <cctype>
#include <memory>
#include <string_view>

#include "common/log.h"
#include "httpc/curl_api.h"

namespace relay::httpc {
namespace {

constexpr char kUserAgent[] = "retl-relay/0.1";

// Where libcurl's callbacks write.
struct Sink {
  Exchange* ex;
  size_t limit;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  if (sink->ex->body.size() + size * n > sink->limit) return 0;  // aborts the transfer
  sink->ex->body.append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Sink*>(user)->ex;
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) ex->headers.clear();  // a new response (after a 100 Continue)
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return size * n;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view v = line.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  if (name == "retry-after") ex->retry_after = std::string(v);
  ex->headers.emplace_back(std::move(name), std::string(v));
  return size * n;
}

// libcurl's progress callback (at least once a second): non-zero aborts the transfer.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* abort = static_cast<const std::atomic<bool>*>(user);
  return abort->load() ? 1 : 0;
}

}  // namespace

Exchange Perform(const Request& r) {
  // libcurl (and its TLS library) is loaded and set up on the first call, on a worker thread,
  // not at start-up: the first webhook's 200 does not wait for it (cold start).
  Exchange ex;
  StatusOr<const CurlApi*> loaded = Curl();
  if (!loaded.ok()) {
    ex.code = CURLE_FAILED_INIT;
    ex.curl_error = loaded.status().message();
    return ex;
  }
  const CurlApi* api = *loaded;
  thread_local std::unique_ptr<CURL, void (*)(CURL*)> handle(api->easy_init(), api->easy_cleanup);
  CURL* h = handle.get();
  api->easy_reset(h);
  const bool post = std::string_view(r.method) == "POST";
  std::string auth = "Authorization: Bearer " + r.bearer;
  curl_slist* headers = nullptr;
  if (!r.bearer.empty()) headers = api->slist_append(headers, auth.c_str());
  for (const std::string& line : r.headers) headers = api->slist_append(headers, line.c_str());
  headers = api->slist_append(headers, "Accept: application/json");
  if (post) headers = api->slist_append(headers, "Content-Type: application/json");
  api->easy_setopt(h, CURLOPT_URL, r.url.c_str());
  api->easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  api->easy_setopt(h, CURLOPT_USERAGENT, kUserAgent);
  api->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  api->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  api->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  api->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout.count()));
  api->easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
  api->easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  Sink sink{&ex, r.max_response_bytes};
  api->easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  api->easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  api->easy_setopt(h, CURLOPT_HEADERDATA, &sink);
  if (r.abort != nullptr) {
    api->easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    api->easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
    api->easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(r.abort));
  }
  if (post) {
    api->easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    api->easy_setopt(h, CURLOPT_POST, 1L);
    api->easy_setopt(h, CURLOPT_POSTFIELDS, r.body.c_str());
    api->easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
  }
  ex.code = api->easy_perform(h);
  api->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ex.status);
  curl_off_t total_us = 0;
  api->easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total_us);
  ex.latency_ms = total_us / 1000;
  api->slist_free_all(headers);
  if (ex.code != CURLE_OK) {
    ex.status = 0;
    ex.curl_error = api->easy_strerror(ex.code);
  }
  log::Debug("upstream call", {{"method", r.method}, {"url", r.log_url.empty() ? r.url : r.log_url}, {"http_status", std::to_string(ex.status)}});
  return ex;
}

std::string_view HeaderOf(const Exchange& ex, std::string_view name) {
  for (const auto& [n, v] : ex.headers) {
    if (n == name) return v;
  }
  return {};
}

Status StatusOf(const Exchange& ex, const std::string& what, const std::string& detail) {
  if (ex.code != CURLE_OK) {
    std::string err = what + ": " + ex.curl_error;
    switch (ex.code) {
      case CURLE_FAILED_INIT:  // libcurl could not be loaded: nothing was sent
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
        return UnavailableError(err + " (request not sent)");
      default:  // timed out, dropped, reset: the server may have acted
        return {StatusCode::kDeadlineExceeded, err};
    }
  }
  if (ex.status >= 200 && ex.status < 300) return Status::Ok();
  std::string err = what + ": HTTP " + std::to_string(ex.status);
  if (!detail.empty()) err += " (" + detail + ")";
  Status s;
  switch (ex.status) {
    case 400: s = {StatusCode::kInvalidArgument, err}; break;
    case 401: s = {StatusCode::kUnauthenticated, err}; break;
    case 403: s = {StatusCode::kPermissionDenied, err}; break;
    case 404: s = {StatusCode::kNotFound, err}; break;
    case 409: s = {StatusCode::kConflict, err}; break;
    case 429: s = {StatusCode::kResourceExhausted, err}; break;
    default: s = {ex.status >= 500 ? StatusCode::kUnavailable : StatusCode::kInvalidArgument, err};
  }
  // Delta-seconds only (an HTTP-date is ignored); Status bounds it (Status::kMaxRetryAfter).
  if (!ex.retry_after.empty() && ex.retry_after.find_first_not_of("0123456789") == std::string::npos) {
    const bool huge = ex.retry_after.size() > 9;  // past any cap; stoll would overflow
    s.set_retry_after(huge ? Status::kMaxRetryAfter
                           : std::chrono::milliseconds(std::chrono::seconds(std::stoll(ex.retry_after))));
  }
  return s;
}

}  // namespace relay::httpc
