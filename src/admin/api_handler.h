#pragma once
// The admin HTTP API under /api/v1/: the operator reads and actions of admin::Operations as
// JSON. Off (404) when no admin token is configured; otherwise `Authorization: Bearer <token>`
// compared in constant time, 401 when wrong or missing.
//
//   GET  /api/v1/status                          connections at a glance
//   GET  /api/v1/events?limit=&job=&since=       recent events
//   GET  /api/v1/events/{event_id}               audit trail
//   POST /api/v1/events/{event_id}/replay        re-run routing → new triggers
//   GET  /api/v1/triggers/{id}                   one trigger (and its sync)
//   GET  /api/v1/dead?limit=                     dead triggers
//   POST /api/v1/triggers/{id}/retry             retry one dead trigger
//   POST /api/v1/dead/retry                      retry all dead triggers
//   POST /api/v1/connections/{id}/trigger        manual trigger; body {"full": true} optional
//   GET  /api/v1/connections/{id}/syncs?status=&limit=   RudderStack list (direct)
//   GET  /api/v1/connections/{id}/syncs/{sync_id}        RudderStack get (direct)
//   POST /api/v1/connections/{id}/stop                   RudderStack stop (direct)
//
// Blocking work runs on `pool`, never on the HTTP threads.

#include <boost/asio/thread_pool.hpp>
#include <optional>
#include <string>

#include "admin/operations.h"
#include "http/server.h"

namespace relay::admin {

class ApiHandler {
 public:
  ApiHandler(Operations& ops, std::string token, boost::asio::thread_pool& pool);
  static bool Owns(std::string_view target);  // true for /api/v1/…
  boost::asio::awaitable<http::Response> Handle(http::Request&& req);

  // Maps an operation's Status to an HTTP status.
  static unsigned HttpStatusFor(const relay::Status& s);

 private:
  // 404 when the API is off, 401 on a wrong token; nullopt when the caller may proceed.
  std::optional<http::Response> Refuse(const http::Request& req) const;
  // Runs on the pool: routes the request to an operation and renders its result.
  http::Response Answer(const http::Request& req);
  StatusOr<boost::json::value> Dispatch(const http::Request& req, std::string_view path, std::string_view query);

  Operations& ops_;
  const std::string token_;
  boost::asio::thread_pool& pool_;
};

}  // namespace relay::admin
