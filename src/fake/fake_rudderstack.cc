#include "fake/fake_rudderstack.h"

#include "common/mutex.h"
#include "http/target.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <deque>
#include <map>
#include <random>
#include <vector>

namespace relay::fake {
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace {

struct Sync {
  std::string id;
  std::string sync_type;
  bool external = false;
  TimePoint started_at;
  TimePoint finish_at;
  std::string final_status;  // what it becomes at finish_at; "failed" when stopped
};

struct Fault {
  std::string endpoint;
  int status = 0;
  int times = 1;
  int retry_after = 0;
  int latency_ms = 0;
  bool perform = false;  // carry out the call first, then answer with `status` / drop / delay
  bool drop = false;     // close the connection without answering
  double rate = 0;       // > 0: never used up; hits each matching call with this probability
  json::object merge;    // fields laid over the real JSON answer (a hostile or odd answer)
  std::string connection;  // when set, only calls for this connection match
};

using http::QueryParam;

http::Response Json(unsigned status, const json::value& v) { return http::JsonResponse(status, json::serialize(v)); }

}  // namespace

struct FakeRudderstack::State {
  FakeOptions options;
  Clock& clock;
  Mutex mu;
  std::map<std::string, std::vector<Sync>> syncs GUARDED_BY(mu);  // by connection
  json::array calls GUARDED_BY(mu);
  std::deque<Fault> faults GUARDED_BY(mu);
  int next_id GUARDED_BY(mu) = 1;
  std::mt19937_64 rng GUARDED_BY(mu);

  State(FakeOptions o, Clock& c) : options(std::move(o)), clock(c), rng(options.seed) {}

  std::string StatusOf(const Sync& s) const {
    return clock.Now() < s.finish_at ? "running" : s.final_status;
  }

  json::object SyncJson(const Sync& s) const {
    std::string status = StatusOf(s);
    json::object o{{"id", s.id}, {"status", status}, {"startedAt", FormatIso8601(s.started_at)}};
    o["finishedAt"] = status == "running" ? json::value(nullptr) : json::value(FormatIso8601(s.finish_at));
    if (status == "failed") o["error"] = "sync failed (fake)";
    o["metrics"] = json::object{{"succeeded", {{"total", 10}}}, {"failed", {{"total", status == "failed" ? 1 : 0}}},
                                {"changed", {{"total", 10}}}, {"total", 11}};
    return o;
  }

  Sync* Running(const std::string& connection) REQUIRES(mu) {
    for (Sync& s : syncs[connection]) {
      if (StatusOf(s) == "running") return &s;
    }
    return nullptr;
  }

  Sync& StartSync(const std::string& connection, std::string sync_type, bool external) REQUIRES(mu) {
    TimePoint now = clock.Now();
    Sync s{"sync_" + std::to_string(next_id++), std::move(sync_type), external, now,
           now + options.sync_duration, options.outcome};
    syncs[connection].push_back(s);
    return syncs[connection].back();
  }

  // The first fault matching `endpoint`, consumed; nullopt when none.
  std::optional<Fault> TakeFault(const std::string& endpoint, const std::string& connection) REQUIRES(mu) {
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (it->endpoint != endpoint && it->endpoint != "any") continue;
      if (!it->connection.empty() && it->connection != connection) continue;
      if (it->rate > 0) {
        if (std::uniform_real_distribution<double>(0.0, 1.0)(rng) < it->rate) return *it;
        continue;
      }
      Fault f = *it;
      if (--it->times <= 0) faults.erase(it);
      return f;
    }
    return std::nullopt;
  }

  http::Response Api(const std::string& endpoint, const std::vector<std::string>& seg, const http::Request& req) REQUIRES(mu) {
    const std::string& connection = seg[2];
    if (endpoint == "start") {
      std::string sync_type = "incremental";
      boost::system::error_code ec;
      json::value body = json::parse(req.body(), ec);
      if (!ec && body.is_object()) {
        if (const json::value* t = body.get_object().if_contains("syncType"); t && t->is_string()) {
          sync_type = std::string(t->get_string());
        }
      }
      if (sync_type != "incremental" && sync_type != "full") {
        return Json(400, {{"error", "request validation failed"}, {"details", {{"syncType", "invalid"}}}});
      }
      if (Running(connection) != nullptr) {
        return Json(409, {{"error", "A Reverse ETL sync is already running for the specified connection ID."}});
      }
      return Json(200, {{"syncId", StartSync(connection, sync_type, false).id}});
    }
    if (endpoint == "stop") {
      if (Sync* s = Running(connection)) {
        s->finish_at = clock.Now();
        s->final_status = "failed";
      }
      http::Response res{bhttp::status::no_content, 11};
      return res;
    }
    if (endpoint == "list") {
      std::string status = QueryParam(req.target(), "status");
      json::array list;
      auto& all = syncs[connection];
      for (auto it = all.rbegin(); it != all.rend(); ++it) {  // newest first
        if (status.empty() || StatusOf(*it) == status) list.push_back(SyncJson(*it));
      }
      size_t total = list.size();
      std::string per_page = QueryParam(req.target(), "per_page");
      if (!per_page.empty() && std::stoul(per_page) < list.size()) list.resize(std::stoul(per_page));
      return Json(200, {{"syncs", list}, {"paging", {{"total", total}}}});
    }
    for (const Sync& s : syncs[connection]) {  // get
      if (s.id == seg[4]) return Json(200, SyncJson(s));
    }
    return Json(404, {{"error", "sync not found"}});
  }

  http::Response Hook(const std::vector<std::string>& seg, const http::Request& req) REQUIRES(mu) {
    if (seg.size() == 2 && seg[1] == "calls" && req.method() == bhttp::verb::get) return Json(200, {{"calls", calls}});
    if (seg.size() == 2 && seg[1] == "reset" && req.method() == bhttp::verb::post) {
      calls.clear();
      syncs.clear();
      faults.clear();
      return Json(200, {{"status", "reset"}});
    }
    if (seg.size() == 2 && seg[1] == "faults" && req.method() == bhttp::verb::post) {
      boost::system::error_code ec;
      json::value v = json::parse(req.body(), ec);
      if (ec || !v.is_object()) return http::JsonError(400, "fault must be a JSON object");
      Fault f;
      const json::object& o = v.get_object();
      if (auto* e = o.if_contains("endpoint"); e && e->is_string()) f.endpoint = std::string(e->get_string());
      if (auto* c = o.if_contains("connection"); c && c->is_string()) f.connection = std::string(c->get_string());
      for (auto [key, field] : {std::pair{"status", &f.status}, {"times", &f.times}, {"retry_after", &f.retry_after},
                                {"latency_ms", &f.latency_ms}}) {
        if (auto* n = o.if_contains(key); n && n->is_int64()) *field = static_cast<int>(n->get_int64());
      }
      for (auto [key, field] : {std::pair{"perform", &f.perform}, {"drop", &f.drop}}) {
        if (auto* b = o.if_contains(key); b && b->is_bool()) *field = b->get_bool();
      }
      if (auto* r = o.if_contains("rate"); r && r->is_number()) f.rate = r->to_number<double>();
      if (auto* m = o.if_contains("merge"); m && m->is_object()) f.merge = m->get_object();
      if (f.rate < 0 || f.rate > 1) return http::JsonError(400, "fault rate must be between 0 and 1");
      if (f.endpoint.empty()) return http::JsonError(400, "fault needs an endpoint");
      faults.push_back(f);
      return Json(200, {{"status", "queued"}});
    }
    if (seg.size() == 4 && seg[1] == "connections" && seg[3] == "external" && req.method() == bhttp::verb::post) {
      if (Running(seg[2]) != nullptr) return http::JsonError(409, "already running");
      return Json(200, {{"syncId", StartSync(seg[2], "incremental", true).id}});
    }
    return http::JsonError(404, "unknown fake hook");
  }
};

FakeRudderstack::FakeRudderstack(FakeOptions options, Clock& clock)
    : state_(std::make_unique<State>(std::move(options), clock)) {}
FakeRudderstack::~FakeRudderstack() = default;

net::awaitable<http::Response> FakeRudderstack::Handle(http::Request&& req) {
  std::string_view target(req.target().data(), req.target().size());
  std::vector<std::string> seg = http::PathSegments(target);
  State& st = *state_;
  if (!seg.empty() && seg[0] == "_fake") {
    MutexLock lock(st.mu);
    co_return st.Hook(seg, req);
  }
  std::string endpoint;
  if (seg.size() == 4 && seg[0] == "v2" && seg[1] == "retl-connections" && req.method() == bhttp::verb::post) {
    if (seg[3] == "start" || seg[3] == "stop") endpoint = seg[3];
  } else if (seg.size() >= 4 && seg.size() <= 5 && seg[0] == "v2" && seg[1] == "retl-connections" &&
             seg[3] == "syncs" && req.method() == bhttp::verb::get) {
    endpoint = seg.size() == 4 ? "list" : "get";
  }
  if (endpoint.empty()) co_return http::JsonError(404, "not found");

  std::optional<Fault> fault;
  http::Response res;
  {
    MutexLock lock(st.mu);
    fault = st.TakeFault(endpoint, seg[2]);
    auto auth = req[bhttp::field::authorization];
    const bool authorized = std::string_view(auth.data(), auth.size()) == "Bearer " + st.options.token;
    const bool injected = fault && fault->status != 0 && fault->status != 200;
    bool performed = false;
    unsigned real_status = 0;  // what the call really did, even when the answer is a lie
    const auto& known = st.options.connections;
    const bool exists = known.empty() || std::find(known.begin(), known.end(), seg[2]) != known.end();
    if (!authorized) {
      res = http::JsonError(401, "Unauthorized");
    } else if (!exists) {
      res = http::JsonError(404, "Reverse ETL connection was not found for the specified connection ID.");
    } else if (!injected || fault->perform) {
      res = st.Api(endpoint, seg, req);
      performed = true;
      real_status = res.result_int();
      if (fault && !fault->merge.empty()) {
        boost::system::error_code ec;
        json::value answer = json::parse(res.body(), ec);
        if (!ec && answer.is_object()) {
          for (const auto& [k, v] : fault->merge) answer.get_object()[k] = v;
          res.body() = json::serialize(answer);
          res.prepare_payload();
        }
      }
    }
    if (authorized && injected) {
      res = http::JsonError(static_cast<unsigned>(fault->status), "injected fault");
      if (fault->retry_after > 0) res.set(bhttp::field::retry_after, std::to_string(fault->retry_after));
    }
    auto ct = req[bhttp::field::content_type];
    const bool drop = fault && fault->drop;
    std::string started;  // the sync a performed start created, even when the answer was a lie
    if (endpoint == "start" && real_status == 200 && !st.syncs[seg[2]].empty()) started = st.syncs[seg[2]].back().id;
    st.calls.push_back(json::object{{"method", std::string(req.method_string())},
                                    {"path", std::string(target)},
                                    {"endpoint", endpoint},
                                    {"connection_id", seg[2]},
                                    {"authorization", std::string(auth)},
                                    {"content_type", std::string(ct)},
                                    {"body", req.body()},
                                    {"status", drop ? 0 : res.result_int()},
                                    {"performed", performed},
                                    {"real_status", real_status},
                                    {"sync_id", started},
                                    {"fault", !fault ? "" : drop ? "drop" : injected ? std::to_string(fault->status)
                                                                     : fault->latency_ms > 0 ? "latency" : ""},
                                    {"at", FormatIso8601(st.clock.Now())}});
  }
  if (fault && fault->latency_ms > 0) {
    auto executor = co_await net::this_coro::executor;
    net::steady_timer timer(executor, std::chrono::milliseconds(fault->latency_ms));
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  }
  if (fault && fault->drop) res.set(http::kDropConnectionHeader, "1");
  co_return res;
}

}  // namespace relay::fake
