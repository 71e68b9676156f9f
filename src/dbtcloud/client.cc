#include "dbtcloud/client.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <algorithm>
#include <charconv>
#include <limits>

#include "common/metrics.h"
#include "httpc/http_call.h"

namespace relay::dbtcloud {
namespace json = boost::json;
namespace {

// An id the API writes as an integer (or, leniently, a digit string).
std::optional<int64_t> IdField(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64() && v->get_int64() >= 0) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(v->get_uint64());
  if (v->is_string()) {
    const json::string& s = v->get_string();
    if (s.empty() || std::string_view(s).find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    int64_t out = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;  // past int64
    return out;
  }
  return std::nullopt;
}

std::string StringField(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return (v && v->is_string()) ? std::string(v->get_string().data(), v->get_string().size()) : std::string();
}

StatusOr<Run> RunFromObject(const json::object& o) {
  Run r;
  std::optional<int64_t> id = IdField(o, "id");
  std::optional<int64_t> job = IdField(o, "job_definition_id");
  if (!job) job = IdField(o, "job_id");
  std::optional<int64_t> status = IdField(o, "status");
  if (!id || !job || !status) return InvalidArgumentError("dbt cloud run: missing id, job_definition_id or status");
  // A status code is small (1 … 30); one past int is refused, never cut to 32 bits
  // (4294967306 would read as 10, Success).
  if (*status > std::numeric_limits<int>::max()) return InvalidArgumentError("dbt cloud run: status out of range");
  r.id = *id;
  r.job_id = *job;
  r.status = static_cast<int>(*status);
  r.account_id = IdField(o, "account_id").value_or(0);
  r.project_id = IdField(o, "project_id");
  r.environment_id = IdField(o, "environment_id");
  r.status_humanized = StringField(o, "status_humanized");
  if (const json::value* c = o.if_contains("is_complete"); c && c->is_bool()) {
    r.is_complete = c->get_bool();
  } else {
    r.is_complete = r.status == 10 || r.status == 20 || r.status == 30;
  }
  r.finished_at = StringField(o, "finished_at");
  if (!r.finished_at.empty()) {
    r.finished = ParseIso8601(r.finished_at);
    if (!r.finished) r.finished = ParseIso8601(r.finished_at + "Z");  // no zone written: UTC
  }
  if (const json::value* j = o.if_contains("job"); j && j->is_object()) r.job_name = StringField(j->get_object(), "name");
  r.href = StringField(o, "href");
  return r;
}

// dbt Cloud's error envelope: {"status": {"user_message": …}}; else the start of the body.
std::string ErrorText(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* s = v.get_object().if_contains("status"); s && s->is_object()) {
      std::string m = StringField(s->get_object(), "user_message");
      if (!m.empty()) return m.substr(0, 300);
    }
  }
  std::string text = body.substr(0, 120);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

std::string ResultLabel(const httpc::Exchange& ex) {
  if (ex.code != CURLE_OK) return ex.code == CURLE_OPERATION_TIMEDOUT ? "timeout" : "error";
  if (ex.status >= 500) return "5xx";
  return std::to_string(ex.status);
}

class HttpClient : public Client {
 public:
  explicit HttpClient(HttpClientOptions o) : o_(std::move(o)) {}

  StatusOr<std::vector<Run>> ListRuns(const RunsQuery& q) override {
    std::string query = "?order_by=-finished_at&limit=" + std::to_string(q.limit) + "&offset=" + std::to_string(q.offset);
    if (q.job_id) query += "&job_definition_id=" + std::to_string(*q.job_id);
    if (q.project_id) query += "&project_id=" + std::to_string(*q.project_id);
    if (q.environment_id) query += "&environment_id=" + std::to_string(*q.environment_id);
    StatusOr<json::value> v = Get("runs_list", "/runs/" + query, "dbt cloud GET /api/v2/accounts/" + o_.account_id + "/runs/");
    if (!v.ok()) return v.status();
    const json::value* data = v->is_object() ? v->get_object().if_contains("data") : nullptr;
    if (data == nullptr || !data->is_array()) return UnavailableError("dbt cloud runs list: no \"data\" array in the answer");
    std::vector<Run> out;
    for (const json::value& e : data->get_array()) {
      // A page holds at most what was asked for: an answer that ignores `limit` cannot make a
      // pass read more than Reconciler's cap of runs.
      if (out.size() >= static_cast<size_t>(std::max(q.limit, 0))) break;
      if (!e.is_object()) continue;
      StatusOr<Run> r = RunFromObject(e.get_object());
      if (r.ok()) out.push_back(std::move(*r));
    }
    return out;
  }

  StatusOr<Run> GetRun(int64_t run_id) override {
    const std::string path = "/runs/" + std::to_string(run_id) + "/";
    StatusOr<json::value> v = Get("run", path, "dbt cloud GET /api/v2/accounts/" + o_.account_id + path);
    if (!v.ok()) return v.status();
    const json::value* data = v->is_object() ? v->get_object().if_contains("data") : nullptr;
    if (data == nullptr || !data->is_object()) return UnavailableError("dbt cloud run: no \"data\" object in the answer");
    StatusOr<Run> r = RunFromObject(data->get_object());
    if (!r.ok()) return UnavailableError(r.status().message());
    // An answer about another run is not about this one (the verifier would act on it).
    if (r->id != run_id) return UnavailableError("dbt cloud GET …/runs/" + std::to_string(run_id) + "/: the answer is about another run");
    return r;
  }

 private:
  StatusOr<json::value> Get(const char* endpoint, const std::string& path, const std::string& what) {
    httpc::Request r;
    r.url = o_.api_base + "/api/v2/accounts/" + o_.account_id + path;
    r.bearer = o_.token;
    r.connect_timeout = o_.connect_timeout;
    r.timeout = o_.request_timeout;
    r.abort = o_.abort;
    httpc::Exchange ex = httpc::Perform(r);
    metrics::Default()
        .GetCounter("retl_relay_dbt_cloud_requests_total", "calls to the dbt Cloud Admin API, by endpoint and result",
                    {{"endpoint", endpoint}, {"result", ResultLabel(ex)}})
        .Inc();
    if (Status s = httpc::StatusOf(ex, what, ex.code == CURLE_OK ? ErrorText(ex.body) : std::string()); !s.ok()) return s;
    boost::system::error_code ec;
    json::value v = json::parse(ex.body, ec);
    if (ec) return UnavailableError(what + ": HTTP " + std::to_string(ex.status) + " with a body that is not JSON");
    return v;
  }

  HttpClientOptions o_;
};

}  // namespace

StatusOr<Run> ParseRunJson(std::string_view object_json) {
  boost::system::error_code ec;
  json::value v = json::parse(object_json, ec);
  if (ec || !v.is_object()) return InvalidArgumentError("dbt cloud run: not a JSON object");
  return RunFromObject(v.get_object());
}

std::unique_ptr<Client> NewHttpClient(HttpClientOptions options) {
  return std::make_unique<HttpClient>(std::move(options));
}

}  // namespace relay::dbtcloud
