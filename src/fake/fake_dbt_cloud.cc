#include "fake/fake_dbt_cloud.h"

#include <algorithm>
#include <boost/json.hpp>
#include <deque>
#include <optional>
#include <vector>

#include "common/mutex.h"
#include "http/target.h"

namespace relay::fake {
namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace {

struct Run {
  int64_t id = 0;
  int64_t job_id = 0, project_id = 0, environment_id = 0;
  int status = 1;
  std::optional<TimePoint> finished;
};

struct Fault {
  std::string endpoint;  // list | get | any
  int status = 500;
  int times = 1;
  int retry_after = 0;
};

std::string_view Humanized(int status) {
  switch (status) {
    case 1: return "Queued";
    case 2: return "Starting";
    case 3: return "Running";
    case 10: return "Success";
    case 20: return "Error";
    case 30: return "Cancelled";
    default: return "Unknown";
  }
}

// dbt's Django-style time: "2026-11-30 10:20:30.123000+00:00".
std::string DbtTime(TimePoint t) {
  std::string iso = FormatIso8601(t);  // 2026-11-30T10:20:30.123Z
  iso[10] = ' ';
  iso.pop_back();
  return iso + "000+00:00";
}

http::Response Envelope(unsigned status, json::value data, std::string_view message = "") {
  json::object st{{"code", status}, {"is_success", status == 200}};
  st["user_message"] = message.empty() ? json::value(nullptr) : json::value(message);
  json::object body{{"status", std::move(st)}, {"data", std::move(data)}};
  return http::JsonResponse(status, json::serialize(body));
}

int64_t IntField(const json::object& o, const char* key, int64_t fallback) {
  const json::value* v = o.if_contains(key);
  return (v && v->is_int64()) ? v->get_int64() : fallback;
}

}  // namespace

struct FakeDbtCloud::State {
  std::string token, account;
  Clock& clock;
  Mutex mu;
  std::vector<Run> runs GUARDED_BY(mu);
  std::deque<Fault> faults GUARDED_BY(mu);
  json::array calls GUARDED_BY(mu);
  int64_t next_id GUARDED_BY(mu) = 900001;

  State(std::string t, std::string a, Clock& c) : token(std::move(t)), account(std::move(a)), clock(c) {}

  json::object RunJson(const Run& r) const {
    const bool complete = r.finished.has_value();
    json::object o{{"id", r.id},
                   {"account_id", std::stoll(account)},
                   {"job_definition_id", r.job_id},
                   {"project_id", r.project_id},
                   {"environment_id", r.environment_id},
                   {"status", r.status},
                   {"status_humanized", Humanized(r.status)},
                   {"in_progress", !complete},
                   {"is_complete", complete},
                   {"is_success", r.status == 10},
                   {"is_error", r.status == 20},
                   {"is_cancelled", r.status == 30},
                   {"href", "https://cloud.getdbt.com/deploy/" + account + "/projects/" + std::to_string(r.project_id) +
                                "/runs/" + std::to_string(r.id) + "/"}};
    o["finished_at"] = complete ? json::value(DbtTime(*r.finished)) : json::value(nullptr);
    return o;
  }

  std::optional<Fault> TakeFault(const std::string& endpoint) REQUIRES(mu) {
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (it->endpoint != endpoint && it->endpoint != "any") continue;
      Fault f = *it;
      if (--it->times <= 0) faults.erase(it);
      return f;
    }
    return std::nullopt;
  }

  http::Response List(std::string_view target) REQUIRES(mu) {
    auto filter = [&](const char* name) -> std::optional<int64_t> {
      std::string v = http::QueryParam(target, name);
      if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
      return std::stoll(v);
    };
    const auto job = filter("job_definition_id"), project = filter("project_id"), env = filter("environment_id");
    const int64_t limit = std::clamp<int64_t>(filter("limit").value_or(100), 1, 100);
    const int64_t offset = filter("offset").value_or(0);
    std::vector<const Run*> match;
    for (const Run& r : runs) {
      if ((job && r.job_id != *job) || (project && r.project_id != *project) || (env && r.environment_id != *env)) continue;
      match.push_back(&r);
    }
    std::stable_sort(match.begin(), match.end(), [](const Run* a, const Run* b) {
      if (a->finished.has_value() != b->finished.has_value()) return !a->finished.has_value();
      if (!a->finished) return a->id > b->id;
      return *a->finished > *b->finished;
    });
    json::array data;
    for (size_t i = static_cast<size_t>(offset); i < match.size() && data.size() < static_cast<size_t>(limit); ++i) {
      data.push_back(RunJson(*match[i]));
    }
    const size_t count = data.size();
    http::Response res = Envelope(200, std::move(data));
    json::value body = json::parse(res.body());
    body.as_object()["extra"] = {{"pagination", {{"count", count}, {"total_count", match.size()}}}};
    res.body() = json::serialize(body);
    res.prepare_payload();
    return res;
  }

  http::Response Hook(const std::vector<std::string>& seg, const http::Request& req) REQUIRES(mu) {
    boost::system::error_code ec;
    json::value v = req.body().empty() ? json::value(json::object()) : json::parse(req.body(), ec);
    if (ec || !v.is_object()) return http::JsonError(400, "body must be a JSON object");
    const json::object& o = v.get_object();
    const bool post = req.method() == bhttp::verb::post;
    if (seg.size() == 2 && seg[1] == "calls" && req.method() == bhttp::verb::get) {
      return http::JsonResponse(200, json::serialize(json::object{{"calls", calls}}));
    }
    if (seg.size() == 2 && seg[1] == "reset" && post) {
      runs.clear();
      faults.clear();
      calls.clear();
      return http::JsonResponse(200, R"({"status":"reset"})");
    }
    if (seg.size() == 2 && seg[1] == "runs" && post) {
      Run r;
      r.id = IntField(o, "id", next_id++);
      r.job_id = IntField(o, "job_id", 1);
      r.project_id = IntField(o, "project_id", 1);
      r.environment_id = IntField(o, "environment_id", 1);
      r.status = static_cast<int>(IntField(o, "status", 10));
      if (r.status >= 10) r.finished = clock.Now() - std::chrono::seconds(IntField(o, "finished_ago_s", 0));
      runs.push_back(r);
      return http::JsonResponse(200, json::serialize(RunJson(r)));
    }
    if (seg.size() == 4 && seg[1] == "runs" && seg[3] == "finish" && post) {
      for (Run& r : runs) {
        if (std::to_string(r.id) != seg[2]) continue;
        r.status = static_cast<int>(IntField(o, "status", 10));
        r.finished = clock.Now();
        return http::JsonResponse(200, json::serialize(RunJson(r)));
      }
      return http::JsonError(404, "no such run");
    }
    if (seg.size() == 2 && seg[1] == "faults" && post) {
      Fault f;
      if (auto* e = o.if_contains("endpoint"); e && e->is_string()) f.endpoint = std::string(e->get_string());
      f.status = static_cast<int>(IntField(o, "status", 500));
      f.times = static_cast<int>(IntField(o, "times", 1));
      f.retry_after = static_cast<int>(IntField(o, "retry_after", 0));
      if (f.endpoint != "list" && f.endpoint != "get" && f.endpoint != "any") {
        return http::JsonError(400, "fault endpoint must be list, get or any");
      }
      faults.push_back(f);
      return http::JsonResponse(200, R"({"status":"queued"})");
    }
    return http::JsonError(404, "unknown fake hook");
  }
};

FakeDbtCloud::FakeDbtCloud(std::string token, std::string account_id, Clock& clock)
    : state_(std::make_unique<State>(std::move(token), std::move(account_id), clock)) {}
FakeDbtCloud::~FakeDbtCloud() = default;

boost::asio::awaitable<http::Response> FakeDbtCloud::Handle(http::Request&& req) {
  std::string_view target(req.target().data(), req.target().size());
  std::vector<std::string> seg = http::PathSegments(target);
  State& st = *state_;
  MutexLock lock(st.mu);
  if (!seg.empty() && seg[0] == "_fake") co_return st.Hook(seg, req);
  // api/v2/accounts/{account}/runs[/{id}]
  std::string endpoint;
  if (req.method() == bhttp::verb::get && seg.size() >= 5 && seg.size() <= 6 && seg[0] == "api" && seg[1] == "v2" &&
      seg[2] == "accounts" && seg[4] == "runs") {
    endpoint = seg.size() == 5 ? "list" : "get";
  }
  http::Response res;
  auto auth = req[bhttp::field::authorization];
  if (endpoint.empty()) {
    res = Envelope(404, nullptr, "The requested resource was not found.");
  } else if (std::string_view(auth.data(), auth.size()) != "Bearer " + st.token) {
    res = Envelope(401, nullptr, "Invalid token.");
  } else if (seg[3] != st.account) {
    res = Envelope(404, nullptr, "The requested resource was not found.");
  } else if (std::optional<Fault> f = st.TakeFault(endpoint)) {
    res = Envelope(static_cast<unsigned>(f->status), nullptr, "injected fault");
    if (f->retry_after > 0) res.set(bhttp::field::retry_after, std::to_string(f->retry_after));
  } else if (endpoint == "list") {
    res = st.List(target);
  } else {
    res = Envelope(404, nullptr, "The requested resource was not found.");
    for (const Run& r : st.runs) {
      if (std::to_string(r.id) == seg[5]) res = Envelope(200, st.RunJson(r));
    }
  }
  st.calls.push_back(json::object{{"method", std::string(req.method_string())},
                                  {"path", std::string(target)},
                                  {"endpoint", endpoint},
                                  {"status", res.result_int()},
                                  {"at", FormatIso8601(st.clock.Now())}});
  co_return res;
}

}  // namespace relay::fake
