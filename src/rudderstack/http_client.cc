#include "rudderstack/http_client.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>

#include "common/ids.h"
#include "common/log.h"
#include "httpc/http_call.h"

namespace relay::rudderstack {
namespace json = boost::json;
namespace {

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

Status FromExchange(const httpc::Exchange& ex, const std::string& what) {
  return httpc::StatusOf(ex, what, ex.code == CURLE_OK ? ErrorText(ex.body) : std::string());
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

// An error text as it is kept (store, page, alerts): at most kMaxErrorBytes, cut on a UTF-8
// character boundary, "…" marking the cut. RudderStack's text is the network's, of any length.
constexpr size_t kMaxErrorBytes = 4096;
std::string Bounded(std::string text) {
  if (text.size() <= kMaxErrorBytes) return text;
  size_t cut = kMaxErrorBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "…";
}

SyncInfo SyncFromObject(const json::object& o) {
  SyncInfo s;
  s.id = StringField(o, "id");
  s.status = StringField(o, "status");
  s.started_at = StringField(o, "startedAt");
  s.finished_at = StringField(o, "finishedAt");
  s.error = Bounded(StringField(o, "error"));
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
    httpc::Exchange ex = Call("POST", Path(connection_id) + "/start", "{\"syncType\":\"" + sync_type + "\"}", meta);
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
    httpc::Exchange ex = Call("POST", Path(connection_id) + "/stop", "", meta);
    return FromExchange(ex, "rudderstack POST /v2/retl-connections/" + connection_id + "/stop");
  }

  StatusOr<std::vector<SyncInfo>> ListSyncs(const std::string& connection_id, const std::string& status,
                                            int per_page, CallMeta* meta) override {
    if (Status s = CheckRudderstackId(connection_id, "connection id"); !s.ok()) return s;
    if (!status.empty() && !IsRudderstackId(status)) return InvalidArgumentError("sync status: not a status name");
    std::string query = "?per_page=" + std::to_string(per_page);
    if (!status.empty()) query += "&status=" + status;
    httpc::Exchange ex = Call("GET", Path(connection_id) + "/syncs" + query, "", meta);
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
    httpc::Exchange ex = Call("GET", Path(connection_id) + "/syncs/" + sync_id, "", meta);
    if (Status s = FromExchange(ex, "rudderstack GET /v2/retl-connections/" + connection_id + "/syncs/" + sync_id); !s.ok()) {
      return s;
    }
    StatusOr<SyncInfo> sync = ParseSyncJson(ex.body);
    // An answer about another sync is no answer about this one: believing it would record the
    // other sync's outcome and leave this one "running" forever. Asked again later.
    if (sync.ok() && sync->id != sync_id) {
      return UnavailableError("rudderstack GET …/syncs/" + sync_id + ": the answer is about another sync");
    }
    return sync;
  }

 private:
  // REQUIRES: connection_id passed CheckRudderstackId (no '/', '.', '%', '?' can reach the URL).
  std::string Path(const std::string& connection_id) const {
    return o_.api_base + "/v2/retl-connections/" + connection_id;
  }

  // One request on this thread's reusable handle. Blocking, bounded by the configured timeouts.
  httpc::Exchange Call(const char* method, const std::string& url, const std::string& body, CallMeta* meta) {
    httpc::Request r;
    r.method = method;
    r.url = url;
    r.bearer = o_.token;
    r.body = body;
    r.connect_timeout = o_.connect_timeout;
    r.timeout = o_.request_timeout;
    r.abort = o_.abort;
    httpc::Exchange ex = httpc::Perform(r);
    if (meta != nullptr) *meta = CallMeta{static_cast<int>(ex.status), ex.latency_ms};
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
