#pragma once
// Health, readiness and metrics endpoints (no authentication; expose them to your monitoring
// network only):
//   GET /healthz   200 {"status":"ok"} while the process serves HTTP
//   GET /readyz    200 {"status":"ready"}, or 503 {"status":"not ready","reasons":[…]} when the
//                  store cannot take a write or the dispatcher has stopped making progress
//   GET /metrics   Prometheus text exposition 0.0.4 (docs/operations.md lists every metric)
// Store work runs on `pool`, never on the HTTP threads.

#include <boost/asio/thread_pool.hpp>
#include <functional>

#include "common/clock.h"
#include "http/server.h"
#include "store/store.h"

namespace relay::admin {

class HealthHandler {
 public:
  HealthHandler(store::HealthStore& store, std::function<bool()> dispatcher_alive, Clock& clock,
                boost::asio::thread_pool& pool);
  static bool Owns(std::string_view target);
  boost::asio::awaitable<http::Response> Handle(http::Request&& req);

  // The bodies, computed synchronously (blocking); exposed for tests.
  http::Response Ready();
  http::Response Metrics();

 private:
  store::HealthStore& store_;
  std::function<bool()> dispatcher_alive_;
  Clock& clock_;
  boost::asio::thread_pool& pool_;
};

}  // namespace relay::admin
