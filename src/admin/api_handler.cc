#include "admin/api_handler.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <algorithm>

#include "common/log.h"

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

ApiHandler::ApiHandler(Operations& ops, std::string token, boost::asio::thread_pool& pool,
                       boost::asio::thread_pool& upstream_pool, int max_upstream_calls)
    : ops_(ops),
      token_(std::move(token)),
      pool_(pool),
      upstream_pool_(upstream_pool),
      max_upstream_calls_(max_upstream_calls) {}

bool ApiHandler::Owns(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  return path.starts_with(kPrefix) || path == "/api/v1";
}

unsigned ApiHandler::HttpStatusFor(const relay::Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied: return 502;  // RudderStack refused our token: upstream
    case StatusCode::kFailedPrecondition:
    case StatusCode::kConflict: return 409;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted: return 503;
    default: return 500;
  }
}

namespace {

// The admin API's routes: a method and a path pattern below /api/v1/, '*' standing for one
// segment. A path that matches with another method is 405 with Allow; no match is 404.
struct Route {
  bhttp::verb method;
  std::string_view pattern;
};
constexpr Route kRoutes[] = {
    {bhttp::verb::get, "status"},
    {bhttp::verb::get, "activity"},
    {bhttp::verb::get, "events"},
    {bhttp::verb::get, "events/*"},
    {bhttp::verb::post, "events/*/replay"},
    {bhttp::verb::get, "dead"},
    {bhttp::verb::post, "dead/retry"},
    {bhttp::verb::get, "triggers/*"},
    {bhttp::verb::post, "triggers/*/retry"},
    {bhttp::verb::post, "connections/*/trigger"},
    {bhttp::verb::get, "connections/*/syncs"},
    {bhttp::verb::get, "connections/*/syncs/*"},
    {bhttp::verb::post, "connections/*/stop"},
};

bool Matches(std::string_view pattern, const std::vector<std::string>& seg) {
  size_t i = 0;
  for (; !pattern.empty(); ++i) {
    const size_t slash = pattern.find('/');
    std::string_view part = pattern.substr(0, slash);
    if (i >= seg.size() || (part != "*" && part != seg[i])) return false;
    pattern = slash == std::string_view::npos ? std::string_view() : pattern.substr(slash + 1);
  }
  return i == seg.size();
}

// The JSON body of a manual trigger: empty, {}, {"sync_type": "full" | "incremental"} or
// {"full": bool}. Anything else is a 400 naming the key, as the config loader does.
StatusOr<bool> FullSyncRequested(const std::string& text) {
  if (text.empty()) return false;
  boost::system::error_code ec;
  json::value body = json::parse(text, ec);
  if (ec || !body.is_object()) {
    return InvalidArgumentError("body: expected a JSON object like {\"sync_type\": \"full\"}");
  }
  std::optional<bool> full;
  for (const auto& [key, value] : body.get_object()) {
    std::optional<bool> said;
    if (key == "full") {
      if (!value.is_bool()) return InvalidArgumentError("full: must be true or false");
      said = value.get_bool();
    } else if (key == "sync_type") {
      if (!value.is_string() || (value.get_string() != "full" && value.get_string() != "incremental")) {
        return InvalidArgumentError("sync_type: must be \"full\" or \"incremental\"");
      }
      said = value.get_string() == "full";
    } else {
      std::string name;
      log::AppendJsonEscaped(name, std::string_view(key.data(), std::min<size_t>(key.size(), 64)));
      return InvalidArgumentError("body." + name + ": unknown key (expected sync_type or full)");
    }
    if (full && *full != *said) return InvalidArgumentError("sync_type: contradicts full");
    full = said;
  }
  return full.value_or(false);
}

}  // namespace

bool ApiHandler::CallsRudderstack(const http::Request& req) {
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  if (!path.starts_with(kPrefix)) return false;
  const std::vector<std::string> seg = http::PathSegments(path.substr(kPrefix.size()));
  const bhttp::verb method = req.method() == bhttp::verb::head ? bhttp::verb::get : req.method();
  return (method == bhttp::verb::get && (Matches("connections/*/syncs", seg) || Matches("connections/*/syncs/*", seg))) ||
         (method == bhttp::verb::post && Matches("connections/*/stop", seg));
}

StatusOr<json::value> ApiHandler::Dispatch(std::string_view route, const http::Request& req,
                                           const std::vector<std::string>& seg, std::string_view query) {
  if (route == "status") return ops_.StatusReport();
  if (route == "activity") {
    auto hours = IntParam(query, "hours", 24);
    if (!hours.ok()) return hours.status();
    if (*hours < 1 || *hours > 168) return InvalidArgumentError("hours: must be between 1 and 168");
    return ops_.ActivityReport(static_cast<int>(*hours));
  }
  if (route == "events") {
    store::EventFilter f;
    auto limit = IntParam(query, "limit", 20);
    // job_id, as the CLI's --job-id; job stays an alias.
    auto job = IntParam(query, Param(query, "job_id").empty() ? "job" : "job_id", -1);
    if (!limit.ok()) return limit.status();
    if (!job.ok()) return job.status();
    f.limit = static_cast<int>(std::clamp<int64_t>(*limit, 1, 1000));
    if (*job >= 0) f.job_id = *job;
    if (std::string since = Param(query, "since"); !since.empty()) {
      auto t = ParseIso8601(since);
      if (!t) return InvalidArgumentError("since: not a valid ISO-8601 UTC time like 2026-11-27T10:00:00Z");
      f.since = *t;
    }
    if (!Param(query, "before").empty()) {
      auto before = IntParam(query, "before", 0);
      if (!before.ok()) return before.status();
      if (*before < 1) return InvalidArgumentError("before: must be a positive event seq (next_before of a listing)");
      f.before = *before;
    }
    return ops_.Events(f);
  }
  if (route == "events/*") return ops_.Event(seg[1]);
  if (route == "events/*/replay") return ops_.Replay(seg[1]);
  if (route == "dead") {
    auto limit = IntParam(query, "limit", 100);
    if (!limit.ok()) return limit.status();
    return ops_.Dead(static_cast<int>(std::clamp<int64_t>(*limit, 1, 1000)));
  }
  if (route == "dead/retry") return ops_.Retry({});
  if (route == "triggers/*" || route == "triggers/*/retry") {
    if (seg[1].size() > 18 || seg[1].find_first_not_of("0123456789") != std::string::npos) {
      return InvalidArgumentError("trigger id: must be a number");
    }
    const int64_t id = std::stoll(seg[1]);
    return route == "triggers/*" ? ops_.TriggerInfo(id) : ops_.Retry({id});
  }
  if (route == "connections/*/trigger") {
    StatusOr<bool> full = FullSyncRequested(req.body());
    if (!full.ok()) return full.status();
    return ops_.Trigger(seg[1], *full);
  }
  if (route == "connections/*/syncs") {
    auto limit = IntParam(query, "limit", 20);
    if (!limit.ok()) return limit.status();
    return ops_.Syncs(seg[1], Param(query, "status"), static_cast<int>(std::clamp<int64_t>(*limit, 1, 100)));
  }
  if (route == "connections/*/syncs/*") return ops_.Sync(seg[1], seg[3]);
  if (route == "connections/*/stop") return ops_.Stop(seg[1]);
  return InternalError("admin route without a handler: " + std::string(route));
}

http::Response ApiHandler::Answer(const http::Request& req) {
  std::string_view target(req.target().data(), req.target().size());
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  const std::vector<std::string> seg =
      path.starts_with(kPrefix) ? http::PathSegments(path.substr(kPrefix.size())) : std::vector<std::string>();
  // HEAD is GET without the body (the server drops it).
  const bhttp::verb method = req.method() == bhttp::verb::head ? bhttp::verb::get : req.method();
  std::string allow;
  for (const Route& r : kRoutes) {
    if (!Matches(r.pattern, seg)) continue;
    if (r.method == method) {
      StatusOr<json::value> result = Dispatch(r.pattern, req, seg, query);
      if (!result.ok()) return http::JsonError(HttpStatusFor(result.status()), result.status().message());
      return http::JsonResponse(200, json::serialize(*result));
    }
    allow += std::string(allow.empty() ? "" : ", ") + std::string(bhttp::to_string(r.method));
    if (r.method == bhttp::verb::get) allow += ", HEAD";
  }
  if (!allow.empty()) {
    http::Response res = http::JsonError(405, "method not allowed; use " + allow);
    res.set(bhttp::field::allow, allow);
    return res;
  }
  return http::JsonError(404, "no such admin endpoint: " + std::string(path));
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
  auto shared = std::make_shared<http::Request>(std::move(req));
  if (!CallsRudderstack(*shared)) {
    // GCC 12 destroys non-trivial temporaries of a full-expression that contains co_await
    // twice (a lambda with captures here): build the operation in its own statement.
    auto answer = http::RunBlocking<http::Response>(pool_, [this, shared] { return Answer(*shared); });
    co_return co_await std::move(answer);
  }
  // RudderStack calls may hang for the whole request timeout: they get their own threads and
  // a bound, so they never hold up the store reads here or readiness and metrics (HealthHandler
  // has a pool of its own).
  if (upstream_calls_.fetch_add(1) >= max_upstream_calls_) {
    --upstream_calls_;
    http::Response busy = http::JsonError(
        503, "too many RudderStack calls in progress (" + std::to_string(max_upstream_calls_) + "); try again shortly");
    busy.set(bhttp::field::retry_after, "5");
    co_return busy;
  }
  auto answer = http::RunBlocking<http::Response>(upstream_pool_, [this, shared] {
    struct Release {
      std::atomic<int>& n;
      ~Release() { --n; }
    } release{upstream_calls_};
    return Answer(*shared);
  });
  co_return co_await std::move(answer);
}

}  // namespace relay::admin
