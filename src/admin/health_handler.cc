#include "admin/health_handler.h"

#include <boost/json.hpp>

#include "common/log.h"
#include "common/metrics.h"
#include "http/blocking.h"

namespace relay::admin {
namespace bhttp = boost::beast::http;
namespace json = boost::json;
namespace {

std::string_view PathOf(const http::Request& req) {
  std::string_view target(req.target().data(), req.target().size());
  return target.substr(0, target.find('?'));
}

}  // namespace

HealthHandler::HealthHandler(store::HealthStore& store, std::function<bool()> dispatcher_alive, Clock& clock,
                             boost::asio::thread_pool& pool)
    : store_(store), dispatcher_alive_(std::move(dispatcher_alive)), clock_(clock), pool_(pool) {}

bool HealthHandler::Owns(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

http::Response HealthHandler::Ready() {
  json::array reasons;
  if (Status s = store_.Ping(); !s.ok()) reasons.push_back(json::value("store: " + s.message()));
  if (!dispatcher_alive_()) reasons.push_back(json::value("dispatcher: not making progress"));
  if (reasons.empty()) return http::JsonResponse(200, R"({"status":"ready"})");
  log::Warn("not ready", {{"reasons", json::serialize(reasons)}});
  return http::JsonResponse(503, json::serialize(json::object{{"status", "not ready"}, {"reasons", reasons}}));
}

http::Response HealthHandler::Metrics() {
  std::vector<metrics::GaugeSample> gauges;
  StatusOr<store::Gauges> g = store_.ReadGauges();
  // After a failed write, a probe tells whether the store has recovered (nothing else may write
  // meanwhile: no webhook, no /readyz poller).
  const bool committing = store_.LastCommit().ok() || store_.Ping().ok();
  gauges.push_back({"retl_relay_store_up", "1 when the store answered the metrics query and its last write committed",
                     {}, g.ok() && committing ? 1.0 : 0.0});
  gauges.push_back({"retl_relay_dispatcher_up", "1 while the dispatcher makes progress", {},
                    dispatcher_alive_() ? 1.0 : 0.0});
  if (g.ok()) {
    gauges.push_back({"retl_relay_triggers_pending", "triggers not yet covered by a sync", {},
                      static_cast<double>(g->pending)});
    gauges.push_back({"retl_relay_triggers_dead", "triggers given up on (see `retl-relay dead`)", {},
                      static_cast<double>(g->dead)});
    double age = 0;
    if (g->oldest_pending) age = std::max(0.0, std::chrono::duration<double>(clock_.Now() - *g->oldest_pending).count());
    gauges.push_back({"retl_relay_oldest_pending_trigger_age_seconds", "age of the oldest pending trigger (0 if none)",
                      {}, age});
    for (const char* phase : {"idle", "starting", "waiting", "stopping", "running"}) {
      auto it = g->connections_by_phase.find(phase);
      gauges.push_back({"retl_relay_connections", "RETL connections by lifecycle phase", {{"phase", phase}},
                        it == g->connections_by_phase.end() ? 0.0 : static_cast<double>(it->second)});
    }
  }
  http::Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.body() = metrics::Default().Render(gauges);
  return res;
}

boost::asio::awaitable<http::Response> HealthHandler::Handle(http::Request&& req) {
  const std::string_view path = PathOf(req);
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
    http::Response res = http::JsonError(405, "method not allowed; use GET");
    res.set(bhttp::field::allow, "GET, HEAD");
    co_return res;
  }
  if (path == "/healthz") co_return http::JsonResponse(200, R"({"status":"ok"})");
  const bool ready = path == "/readyz";
  // Named, then awaited: see the GCC 12 note in http/blocking.h.
  auto work = http::RunBlocking<http::Response>(pool_, [this, ready] { return ready ? Ready() : Metrics(); });
  co_return co_await std::move(work);
}

}  // namespace relay::admin
