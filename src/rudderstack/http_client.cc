#include "rudderstack/http_client.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>

#include "common/ids.h"
#include "common/log.h"
#include "rudderstack/curl_api.h"

namespace relay::rudderstack {
namespace json = boost::json;
namespace {

constexpr size_t kMaxResponseBytes = 1024 * 1024;
constexpr char kUserAgent[] = "retl-relay/0.1";

struct Exchange {
  long status = 0;
  std::string body;
  std::string retry_after;
  CURLcode code = CURLE_OK;
  std::string curl_error;  // libcurl's text for `code`
  int64_t latency_ms = 0;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  if (ex->body.size() + size * n > kMaxResponseBytes) return 0;  // aborts the transfer
  ex->body.append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    std::string lower(line.substr(0, kName.size()));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kName) {
      std::string_view v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      static_cast<Exchange*>(user)->retry_after = std::string(v);
    }
  }
  return size * n;
}

// libcurl's progress callback (at least once a second): non-zero aborts the transfer.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* abort = static_cast<const std::atomic<bool>*>(user);
  return abort->load() ? 1 : 0;
}

// Error text from a RudderStack error body: "error", else "message"; a non-JSON body is
// quoted, shortened.
std::string ErrorText(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    for (const char* key : {"error", "message"}) {
      if (const json::value* m = v.get_object().if_contains(key); m && m->is_string()) {
        return std::string(m->get_string().data(), std::min<size_t>(m->get_string().size(), 300));
      }
    }
  }
  return body.substr(0, 200);
}

Status FromExchange(const Exchange& ex, const std::string& what) {
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
  std::string detail = ErrorText(ex.body);
  if (!detail.empty()) err += " (" + detail + ")";
  Status s;
  switch (ex.status) {
    case 400: s = {StatusCode::kInvalidArgument, err}; break;
    case 401: s = {StatusCode::kUnauthenticated, err}; break;
    case 403: s = {StatusCode::kPermissionDenied, err}; break;
    case 404: s = {StatusCode::kNotFound, err}; break;
    case 409: s = {StatusCode::kFailedPrecondition, err}; break;
    case 429: s = {StatusCode::kResourceExhausted, err}; break;
    default: s = {ex.status >= 500 ? StatusCode::kUnavailable : StatusCode::kInvalidArgument, err};
  }
  if (!ex.retry_after.empty() && ex.retry_after.find_first_not_of("0123456789") == std::string::npos &&
      ex.retry_after.size() < 9) {
    s.set_retry_after(std::chrono::seconds(std::stoll(ex.retry_after)));
  }
  return s;
}

int64_t MetricTotal(const json::object& metrics, const char* key) {
  const json::value* v = metrics.if_contains(key);
  if (v && v->is_object()) v = v->get_object().if_contains("total");
  return (v && v->is_int64()) ? v->get_int64() : 0;
}

std::string StringField(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return (v && v->is_string()) ? std::string(v->get_string().data(), v->get_string().size()) : std::string();
}

SyncInfo SyncFromObject(const json::object& o) {
  SyncInfo s;
  s.id = StringField(o, "id");
  s.status = StringField(o, "status");
  s.started_at = StringField(o, "startedAt");
  s.finished_at = StringField(o, "finishedAt");
  s.error = StringField(o, "error");
  if (const json::value* m = o.if_contains("metrics"); m && m->is_object()) {
    s.succeeded = MetricTotal(m->get_object(), "succeeded");
    s.failed = MetricTotal(m->get_object(), "failed");
    s.changed = MetricTotal(m->get_object(), "changed");
    if (const json::value* t = m->get_object().if_contains("total"); t && t->is_int64()) s.total = t->get_int64();
  }
  return s;
}

class HttpClient : public Client {
 public:
  explicit HttpClient(HttpClientOptions o) : o_(std::move(o)) {}

  StatusOr<std::string> StartSync(const std::string& connection_id, const std::string& sync_type,
                                  CallMeta* meta) override {
    if (Status s = CheckRudderstackId(connection_id, "connection id"); !s.ok()) return s;
    std::string what = "rudderstack POST /v2/retl-connections/" + connection_id + "/start";
    Exchange ex = Call("POST", Path(connection_id) + "/start", "{\"syncType\":\"" + sync_type + "\"}", meta);
    if (Status s = FromExchange(ex, what); !s.ok()) return s;
    boost::system::error_code ec;
    json::value v = json::parse(ex.body, ec);
    const json::value* id = (!ec && v.is_object()) ? v.get_object().if_contains("syncId") : nullptr;
    // An id the relay could not use in a URL later is no id: the start is ambiguous, and is
    // resolved from the list of syncs like a lost answer.
    if (id == nullptr || !id->is_string() || !IsRudderstackId(std::string_view(id->get_string()))) {
      return Status(StatusCode::kDeadlineExceeded, what + ": HTTP " + std::to_string(ex.status) + " without a valid syncId");
    }
    return std::string(id->get_string().data(), id->get_string().size());
  }

  Status StopSync(const std::string& connection_id, CallMeta* meta) override {
    if (Status s = CheckRudderstackId(connection_id, "connection id"); !s.ok()) return s;
    Exchange ex = Call("POST", Path(connection_id) + "/stop", "", meta);
    return FromExchange(ex, "rudderstack POST /v2/retl-connections/" + connection_id + "/stop");
  }

  StatusOr<std::vector<SyncInfo>> ListSyncs(const std::string& connection_id, const std::string& status,
                                            int per_page, CallMeta* meta) override {
    if (Status s = CheckRudderstackId(connection_id, "connection id"); !s.ok()) return s;
    if (!status.empty() && !IsRudderstackId(status)) return InvalidArgumentError("sync status: not a status name");
    std::string query = "?per_page=" + std::to_string(per_page);
    if (!status.empty()) query += "&status=" + status;
    Exchange ex = Call("GET", Path(connection_id) + "/syncs" + query, "", meta);
    if (Status s = FromExchange(ex, "rudderstack GET /v2/retl-connections/" + connection_id + "/syncs"); !s.ok()) return s;
    boost::system::error_code ec;
    json::value v = json::parse(ex.body, ec);
    const json::value* list = (!ec && v.is_object()) ? v.get_object().if_contains("syncs") : nullptr;
    if (list == nullptr || !list->is_array()) return InvalidArgumentError("rudderstack list syncs: no \"syncs\" array");
    std::vector<SyncInfo> out;
    for (const json::value& e : list->get_array()) {
      if (!e.is_object()) continue;
      SyncInfo s = SyncFromObject(e.get_object());
      // Only syncs the relay can follow (common/ids.h): never adopt one it cannot poll.
      if (IsRudderstackId(s.id)) out.push_back(std::move(s));
    }
    return out;
  }

  StatusOr<SyncInfo> GetSync(const std::string& connection_id, const std::string& sync_id, CallMeta* meta) override {
    if (Status s = CheckRudderstackId(connection_id, "connection id"); !s.ok()) return s;
    if (Status s = CheckRudderstackId(sync_id, "sync id"); !s.ok()) return s;
    Exchange ex = Call("GET", Path(connection_id) + "/syncs/" + sync_id, "", meta);
    if (Status s = FromExchange(ex, "rudderstack GET /v2/retl-connections/" + connection_id + "/syncs/" + sync_id); !s.ok()) {
      return s;
    }
    return ParseSyncJson(ex.body);
  }

 private:
  // REQUIRES: connection_id passed CheckRudderstackId (no '/', '.', '%', '?' can reach the URL).
  std::string Path(const std::string& connection_id) const {
    return o_.api_base + "/v2/retl-connections/" + connection_id;
  }

  // One request on this thread's reusable handle. Blocking, bounded by the configured timeouts.
  Exchange Call(const char* method, const std::string& url, const std::string& body, CallMeta* meta) {
    // libcurl (and its TLS library) is loaded and set up on the first call, on a dispatcher
    // thread, not at start-up: the first webhook's 200 does not wait for it (cold start).
    Exchange ex;
    StatusOr<const CurlApi*> loaded = Curl();
    if (!loaded.ok()) {
      ex.code = CURLE_FAILED_INIT;
      ex.curl_error = loaded.status().message();
      if (meta != nullptr) *meta = CallMeta{0, 0};
      return ex;
    }
    const CurlApi* api = *loaded;
    thread_local std::unique_ptr<CURL, void (*)(CURL*)> handle(api->easy_init(), api->easy_cleanup);
    CURL* h = handle.get();
    api->easy_reset(h);
    std::string auth = "Authorization: Bearer " + o_.token;
    curl_slist* headers = nullptr;
    headers = api->slist_append(headers, auth.c_str());
    headers = api->slist_append(headers, "Accept: application/json");
    if (std::string_view(method) == "POST") headers = api->slist_append(headers, "Content-Type: application/json");
    api->easy_setopt(h, CURLOPT_URL, url.c_str());
    api->easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    api->easy_setopt(h, CURLOPT_USERAGENT, kUserAgent);
    api->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    api->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    api->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    api->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o_.connect_timeout.count()));
    api->easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.request_timeout.count()));
    api->easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
    api->easy_setopt(h, CURLOPT_WRITEDATA, &ex);
    api->easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
    api->easy_setopt(h, CURLOPT_HEADERDATA, &ex);
    if (o_.abort != nullptr) {
      api->easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      api->easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
      api->easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(o_.abort));
    }
    if (std::string_view(method) == "POST") {
      // libcurl silently re-sends a request whose reused keep-alive connection died before any
      // answer. For /start that is a second start (RudderStack performed the first): POSTs go
      // out on a fresh connection, which libcurl never retries. Starts and stops are rare.
      api->easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
      api->easy_setopt(h, CURLOPT_POST, 1L);
      api->easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
      api->easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
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
    if (meta != nullptr) *meta = CallMeta{static_cast<int>(ex.status), ex.latency_ms};
    log::Debug("rudderstack call", {{"method", method}, {"url", url}, {"http_status", std::to_string(ex.status)}});
    return ex;
  }

  HttpClientOptions o_;
};

}  // namespace

StatusOr<SyncInfo> ParseSyncJson(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return InvalidArgumentError("rudderstack sync: not a JSON object");
  SyncInfo s = SyncFromObject(v.get_object());
  if (s.id.empty() || s.status.empty()) return InvalidArgumentError("rudderstack sync: missing id or status");
  return s;
}

std::unique_ptr<Client> NewHttpClient(HttpClientOptions options) {
  return std::make_unique<HttpClient>(std::move(options));
}

}  // namespace relay::rudderstack
