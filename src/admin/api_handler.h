#pragma once
// The admin HTTP API under /api/v1/: the operator reads and actions of admin::Operations as
// JSON. Off (404) when no admin token is configured; otherwise `Authorization: Bearer <token>`
// compared in constant time, 401 when wrong or missing.
//
//   GET  /api/v1/status                          connections at a glance
//   GET  /api/v1/events?limit=&job_id=&since=    recent events (job= is an alias)
//   GET  /api/v1/events/{event_id}               audit trail
//   POST /api/v1/events/{event_id}/replay        re-run routing → new triggers
//   GET  /api/v1/triggers/{id}                   one trigger (and its sync)
//   GET  /api/v1/dead?limit=                     dead triggers
//   POST /api/v1/triggers/{id}/retry             retry one dead trigger
//   POST /api/v1/dead/retry                      retry all dead triggers
//   POST /api/v1/connections/{id}/trigger        manual trigger; body optional:
//                                                {"sync_type": "full"|"incremental"} or {"full": bool}
//   GET  /api/v1/connections/{id}/syncs?status=&limit=   RudderStack list (direct)
//   GET  /api/v1/connections/{id}/syncs/{sync_id}        RudderStack get (direct)
//   POST /api/v1/connections/{id}/stop                   RudderStack stop (direct)
//
// A known path with another method is 405 with Allow; HEAD works wherever GET does. Connection
// and sync ids are checked (common/ids.h) before anything is stored or sent: 400 naming the
// field. Blocking work runs on `pool`, never on the HTTP threads; the three direct RudderStack
// calls run on `upstream_pool`, at most `max_upstream_calls` at once (503 with Retry-After
// beyond that), so a hanging RudderStack never delays the store reads.

#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "admin/operations.h"
#include "http/server.h"

namespace relay::admin {

class ApiHandler {
 public:
  ApiHandler(Operations& ops, std::string token, boost::asio::thread_pool& pool,
             boost::asio::thread_pool& upstream_pool, int max_upstream_calls);
  static bool Owns(std::string_view target);  // true for /api/v1 and /api/v1/…
  boost::asio::awaitable<http::Response> Handle(http::Request&& req);

  // Blocking: routes an authenticated request to its operation and renders the result. What
  // Handle runs on a pool; public for the fuzz target.
  http::Response Answer(const http::Request& req);
  // True for the requests that call RudderStack directly (syncs, sync, stop).
  static bool CallsRudderstack(const http::Request& req);

  // Maps an operation's Status to an HTTP status.
  static unsigned HttpStatusFor(const relay::Status& s);

 private:
  // 404 when the API is off, 401 on a wrong token; nullopt when the caller may proceed.
  std::optional<http::Response> Refuse(const http::Request& req) const;
  // `route` is the matched pattern ("events/*"), `seg` the path's segments below /api/v1/.
  StatusOr<boost::json::value> Dispatch(std::string_view route, const http::Request& req,
                                        const std::vector<std::string>& seg, std::string_view query);

  Operations& ops_;
  const std::string token_;
  boost::asio::thread_pool& pool_;
  boost::asio::thread_pool& upstream_pool_;
  const int max_upstream_calls_;
  std::atomic<int> upstream_calls_{0};
};

}  // namespace relay::admin
