#include "fake/fake_alert_sink.h"

#include <boost/json.hpp>
#include <deque>
#include <string>
#include <vector>

#include "common/mutex.h"

namespace relay::fake {
namespace {
namespace json = boost::json;
namespace bhttp = boost::beast::http;
}  // namespace

struct FakeAlertSink::State {
  struct Received {
    std::string path, body, signature;
  };
  struct Fault {
    unsigned status = 500;
    int times = 1;
  };
  Mutex mu;
  std::vector<Received> received GUARDED_BY(mu);
  std::deque<Fault> faults GUARDED_BY(mu);

  http::Response Answer(const http::Request& req) {
    const std::string path(req.target());
    const bool post = req.method() == bhttp::verb::post;
    MutexLock lock(mu);
    if (path == "/_fake/received") {
      json::array out;
      for (const Received& r : received) {
        out.push_back(json::object{{"path", r.path}, {"body", r.body}, {"signature", r.signature}});
      }
      return http::JsonResponse(200, json::serialize(json::object{{"received", out}}));
    }
    if (path == "/_fake/reset" && post) {
      received.clear();
      faults.clear();
      return http::JsonResponse(200, R"({"status":"reset"})");
    }
    if (path == "/_fake/faults" && post) {
      boost::system::error_code ec;
      json::value v = json::parse(req.body(), ec);
      if (ec || !v.is_object()) return http::JsonError(400, "body must be a JSON object");
      Fault f;
      if (const auto* s = v.as_object().if_contains("status"); s && s->is_int64()) f.status = static_cast<unsigned>(s->as_int64());
      if (const auto* t = v.as_object().if_contains("times"); t && t->is_int64()) f.times = static_cast<int>(t->as_int64());
      faults.push_back(f);
      return http::JsonResponse(200, R"({"status":"queued"})");
    }
    if (!post) return http::JsonError(405, "POST only");
    if (!faults.empty()) {
      const unsigned status = faults.front().status;
      if (--faults.front().times <= 0) faults.pop_front();
      return http::JsonError(status, "injected fault");
    }
    auto sig = req["X-Retl-Relay-Signature"];
    received.push_back({path, req.body(), std::string(sig.data(), sig.size())});
    http::Response res(bhttp::status::ok, req.version());
    res.set(bhttp::field::content_type, "text/plain");
    res.body() = "ok";
    res.prepare_payload();
    return res;
  }
};

FakeAlertSink::FakeAlertSink() : state_(std::make_unique<State>()) {}
FakeAlertSink::~FakeAlertSink() = default;

boost::asio::awaitable<http::Response> FakeAlertSink::Handle(http::Request&& req) { co_return state_->Answer(req); }

}  // namespace relay::fake
