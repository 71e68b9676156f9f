#pragma once
// AWS Lambda invocation events and answers (../shared/spec/aws-lambda-runtime.md §2-3), as
// plain functions of their inputs: what `retl-relay lambda` was asked, and the proxy response
// that carries an HTTP answer back. The Runtime API loop itself is cli/lambda.cc.
//
//   API Gateway HTTP API / function URL (payload 2.0): rawPath, rawQueryString,
//       requestContext.http.method, lower-case headers, cookies, body, isBase64Encoded
//   API Gateway REST API (payload 1.0): httpMethod, path, headers (any case) or
//       multiValueHeaders, queryStringParameters / multiValueQueryStringParameters, body,
//       isBase64Encoded
//   Either format from an API Gateway stage other than $default carries the stage in front of
//   the path (/prod/webhooks/dbt): it is removed, so the routes match as on a function URL.
//   EventBridge scheduled event: "source": "aws.events", "detail-type": "Scheduled Event"
//       (or {"retl_relay": "dispatch"}, for EventBridge Scheduler's custom input)
//
// A base64 body is decoded to the exact bytes the client sent: dbt's signature covers them.

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/status.h"
#include "http/server.h"

namespace relay::lambda {

// An HTTP request, ready for the same handlers `serve` uses; or, when `refusal` is set, the
// answer serve's server itself would have given (414 target too long, 431 headers too large,
// 415 a Content-Encoding) without reaching a handler.
struct HttpEvent {
  http::Request request;
  std::string format;  // "2.0" or "1.0"
  std::optional<http::Response> refusal;
};
// A scheduled event: one dispatch pass.
struct ScheduledEvent {};

using Event = std::variant<HttpEvent, ScheduledEvent>;

// Parses an invocation's payload. InvalidArgument (with what is wrong) for anything that is
// neither an HTTP event nor a scheduled one, or an HTTP event that cannot be a request (no
// method, a body that is not valid base64): those invocations are answered with a Lambda error.
StatusOr<Event> ParseEvent(std::string_view payload);

// The proxy response JSON for an HTTP answer: {"statusCode", "headers", "body",
// "isBase64Encoded": false}. Repeated header fields are joined with ", ".
std::string ProxyResponse(const http::Response& response);

// The body of a Runtime API error post: {"errorMessage", "errorType", "stackTrace": []}.
std::string ErrorBody(std::string_view type, std::string_view message);

// Standard base64 (RFC 4648 §4, padding required) to bytes; nullopt when `text` is not valid.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace relay::lambda
