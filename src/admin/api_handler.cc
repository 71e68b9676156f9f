#include "admin/api_handler.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "http/blocking.h"
#include "http/target.h"

namespace relay::admin {
namespace json = boost::json;
namespace bhttp = boost::beast::http;
namespace {

constexpr std::string_view kPrefix = "/api/v1/";

// Dispatch passes the query part alone; QueryParam expects a target.
std::string Param(std::string_view query, std::string_view name) { return http::QueryParam("?" + std::string(query), name); }

StatusOr<int64_t> IntParam(std::string_view query, std::string_view name, int64_t fallback) {
  std::string v = Param(query, name);
  if (v.empty()) return fallback;
  if (v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgumentError(std::string(name) + ": not a number");
  }
  return std::stoll(v);
}

bool TokenMatches(std::string_view header, const std::string& token) {
  constexpr std::string_view kBearer = "Bearer ";
  if (!header.starts_with(kBearer)) return false;
  std::string_view got = header.substr(kBearer.size());
  // Compare equal-length buffers in constant time; the length itself is not secret.
  if (got.size() != token.size()) return false;
  return CRYPTO_memcmp(got.data(), token.data(), token.size()) == 0;
}

}  // namespace

ApiHandler::ApiHandler(Operations& ops, std::string token, boost::asio::thread_pool& pool)
    : ops_(ops), token_(std::move(token)), pool_(pool) {}

bool ApiHandler::Owns(std::string_view target) { return target.starts_with(kPrefix) || target == "/api/v1"; }

unsigned ApiHandler::HttpStatusFor(const relay::Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied: return 502;  // RudderStack refused our token: upstream
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted: return 503;
    default: return 500;
  }
}

StatusOr<json::value> ApiHandler::Dispatch(const http::Request& req, std::string_view path, std::string_view query) {
  const std::vector<std::string> seg = http::PathSegments(path.substr(kPrefix.size()));
  const bool get = req.method() == bhttp::verb::get;
  const bool post = req.method() == bhttp::verb::post;
  const size_t n = seg.size();
  if (n == 1 && seg[0] == "status" && get) return ops_.StatusReport();
  if (n == 1 && seg[0] == "events" && get) {
    store::EventFilter f;
    auto limit = IntParam(query, "limit", 20);
    auto job = IntParam(query, "job", -1);
    if (!limit.ok()) return limit.status();
    if (!job.ok()) return job.status();
    f.limit = static_cast<int>(std::min<int64_t>(*limit, 1000));
    if (*job >= 0) f.job_id = *job;
    if (std::string since = Param(query, "since"); !since.empty()) {
      auto t = ParseIso8601(since);
      if (!t) return InvalidArgumentError("since: not an ISO-8601 UTC time");
      f.since = *t;
    }
    return ops_.Events(f);
  }
  if (n == 2 && seg[0] == "events" && get) return ops_.Event(seg[1]);
  if (n == 3 && seg[0] == "events" && seg[2] == "replay" && post) return ops_.Replay(seg[1]);
  if (n == 1 && seg[0] == "dead" && get) {
    auto limit = IntParam(query, "limit", 100);
    if (!limit.ok()) return limit.status();
    return ops_.Dead(static_cast<int>(std::min<int64_t>(*limit, 1000)));
  }
  if (n == 2 && seg[0] == "dead" && seg[1] == "retry" && post) return ops_.Retry({});
  if (n >= 2 && seg[0] == "triggers") {
    if (seg[1].empty() || seg[1].size() > 18 || seg[1].find_first_not_of("0123456789") != std::string::npos) {
      return InvalidArgumentError("trigger id must be a number");
    }
    const int64_t id = std::stoll(seg[1]);
    if (n == 2 && get) return ops_.TriggerInfo(id);
    if (n == 3 && seg[2] == "retry" && post) return ops_.Retry({id});
  }
  if (n >= 3 && seg[0] == "connections") {
    const std::string& c = seg[1];
    if (n == 3 && seg[2] == "trigger" && post) {
      bool full = false;
      if (!req.body().empty()) {
        boost::system::error_code ec;
        json::value body = json::parse(req.body(), ec);
        if (ec || !body.is_object()) return InvalidArgumentError("body: expected a JSON object like {\"full\": true}");
        if (const json::value* f = body.get_object().if_contains("full")) {
          if (!f->is_bool()) return InvalidArgumentError("full: must be true or false");
          full = f->get_bool();
        }
      }
      return ops_.Trigger(c, full);
    }
    if (n == 3 && seg[2] == "syncs" && get) {
      auto limit = IntParam(query, "limit", 20);
      if (!limit.ok()) return limit.status();
      return ops_.Syncs(c, Param(query, "status"), static_cast<int>(std::min<int64_t>(*limit, 100)));
    }
    if (n == 4 && seg[2] == "syncs" && get) return ops_.Sync(c, seg[3]);
    if (n == 3 && seg[2] == "stop" && post) return ops_.Stop(c);
  }
  return NotFoundError("no such admin endpoint or method: " + std::string(req.method_string()) + " " + std::string(path));
}

http::Response ApiHandler::Answer(const http::Request& req) {
  std::string_view target(req.target().data(), req.target().size());
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  StatusOr<json::value> result = Dispatch(req, path, query);
  if (!result.ok()) return http::JsonError(HttpStatusFor(result.status()), result.status().message());
  return http::JsonResponse(200, json::serialize(*result));
}

std::optional<http::Response> ApiHandler::Refuse(const http::Request& req) const {
  if (token_.empty()) return http::JsonError(404, "admin API is off (no admin.token configured)");
  auto auth = req[bhttp::field::authorization];
  if (TokenMatches(std::string_view(auth.data(), auth.size()), token_)) return std::nullopt;
  http::Response res = http::JsonError(401, "admin token missing or wrong");
  res.set(bhttp::field::www_authenticate, "Bearer");
  return res;
}

boost::asio::awaitable<http::Response> ApiHandler::Handle(http::Request&& req) {
  if (std::optional<http::Response> refused = Refuse(req)) co_return std::move(*refused);
  // GCC 12 destroys non-trivial temporaries of a full-expression that contains co_await twice
  // (a lambda with captures here): build the operation in its own statement, then await it.
  auto answer = http::RunBlocking<http::Response>(
      pool_, [this, shared = std::make_shared<http::Request>(std::move(req))] { return Answer(*shared); });
  co_return co_await std::move(answer);
}

}  // namespace relay::admin
