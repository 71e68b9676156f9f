#include "lambda/event.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace relay::lambda {
namespace {

namespace json = boost::json;

const http::Request& RequestOf(const StatusOr<Event>& e) {
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return std::get<HttpEvent>(*e).request;
}

TEST(LambdaEventTest, Format20FunctionUrlBecomesTheSameRequest) {
  const std::string body = R"({"eventId":"e1","data":{"runStatus":"Success"}})";
  json::object ev{{"version", "2.0"},
                  {"routeKey", "$default"},
                  {"rawPath", "/webhooks/dbt"},
                  {"rawQueryString", "a=1&b=x%20y"},
                  {"headers", json::object{{"authorization", "abc123"}, {"content-type", "application/json"}}},
                  {"cookies", json::array{"k=v", "k2=v2"}},
                  {"requestContext", json::object{{"http", json::object{{"method", "POST"}, {"path", "/webhooks/dbt"}}}}},
                  {"body", body},
                  {"isBase64Encoded", false}};
  StatusOr<Event> e = ParseEvent(json::serialize(ev));
  const http::Request& r = RequestOf(e);
  EXPECT_EQ(std::get<HttpEvent>(*e).format, "2.0");
  EXPECT_EQ(r.method(), boost::beast::http::verb::post);
  EXPECT_EQ(r.target(), "/webhooks/dbt?a=1&b=x%20y");
  EXPECT_EQ(r["Authorization"], "abc123");
  EXPECT_EQ(r["Cookie"], "k=v; k2=v2");
  EXPECT_EQ(r.body(), body);
  EXPECT_EQ(r["Content-Length"], std::to_string(body.size()));
}

TEST(LambdaEventTest, Base64BodyIsDecodedToTheExactBytes) {
  // "{\"a\": 1}\n" with a trailing newline and a non-ASCII byte: the signature covers them all.
  const std::string bytes = std::string("{\"a\": \"\xc3\xa9\"}\n");
  json::object ev{{"version", "2.0"},
                  {"rawPath", "/webhooks/dbt"},
                  {"requestContext", json::object{{"http", json::object{{"method", "POST"}}}}},
                  {"body", "eyJhIjogIsOpIn0K"},
                  {"isBase64Encoded", true}};
  EXPECT_EQ(RequestOf(ParseEvent(json::serialize(ev))).body(), bytes);
  ev["body"] = "not base64!";
  StatusOr<Event> bad = ParseEvent(json::serialize(ev));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("base64"), std::string::npos);
}

TEST(LambdaEventTest, Format10RestApiMatchesHeadersAnyCaseAndKeepsQueryValues) {
  json::object ev{{"resource", "/{proxy+}"},
                  {"path", "/api/v1/events"},
                  {"httpMethod", "GET"},
                  {"headers", json::object{{"AUTHORIZATION", "Bearer tok"}}},
                  {"multiValueHeaders", json::object{{"AUTHORIZATION", json::array{"Bearer tok"}},
                                                     {"X-Many", json::array{"a", "b"}}}},
                  {"queryStringParameters", json::object{{"limit", "5"}}},
                  {"multiValueQueryStringParameters", json::object{{"limit", json::array{"5"}},
                                                                   {"since", json::array{"2026-11-30T00:00:00Z"}}}},
                  {"requestContext", json::object{{"httpMethod", "GET"}}},
                  {"body", nullptr},
                  {"isBase64Encoded", false}};
  StatusOr<Event> e = ParseEvent(json::serialize(ev));
  const http::Request& r = RequestOf(e);
  EXPECT_EQ(std::get<HttpEvent>(*e).format, "1.0");
  EXPECT_EQ(r.method(), boost::beast::http::verb::get);
  EXPECT_EQ(r.target(), "/api/v1/events?limit=5&since=2026-11-30T00%3A00%3A00Z");
  EXPECT_EQ(r["authorization"], "Bearer tok");
  EXPECT_EQ(r["x-many"], "a, b");
  EXPECT_TRUE(r.body().empty());
}

TEST(LambdaEventTest, ScheduledEventsAndUnsupportedOnes) {
  const std::string scheduled =
      R"({"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}})";
  StatusOr<Event> e = ParseEvent(scheduled);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(std::holds_alternative<ScheduledEvent>(*e));
  EXPECT_TRUE(std::holds_alternative<ScheduledEvent>(*ParseEvent(R"({"retl_relay":"dispatch"})")));
  // Another EventBridge event is not a schedule; an S3 event is nothing we serve.
  EXPECT_FALSE(ParseEvent(R"({"source":"aws.events","detail-type":"EC2 Instance State-change"})").ok());
  EXPECT_FALSE(ParseEvent(R"({"Records":[{"eventSource":"aws:s3"}]})").ok());
  EXPECT_FALSE(ParseEvent("not json").ok());
  EXPECT_FALSE(ParseEvent(R"({"version":"2.0","rawPath":"/x","requestContext":{}})").ok());  // no method
}

// API Gateway puts a named stage in front of the path; the routes match without it.
TEST(LambdaEventTest, AStageInFrontOfThePathIsRemoved) {
  json::object ev{{"version", "2.0"},
                  {"rawPath", "/prod/webhooks/dbt"},
                  {"requestContext", json::object{{"http", json::object{{"method", "POST"}}}, {"stage", "prod"}}},
                  {"body", "{}"}};
  EXPECT_EQ(RequestOf(ParseEvent(json::serialize(ev))).target(), "/webhooks/dbt");
  ev["requestContext"].as_object()["stage"] = "$default";
  ev["rawPath"] = "/prod/webhooks/dbt";
  EXPECT_EQ(RequestOf(ParseEvent(json::serialize(ev))).target(), "/prod/webhooks/dbt");
  json::object v1{{"httpMethod", "GET"}, {"path", "/live/healthz"}, {"requestContext", json::object{{"stage", "live"}}}};
  EXPECT_EQ(RequestOf(ParseEvent(json::serialize(v1))).target(), "/healthz");
}

// serve's server-level refusals, before anything reaches Beast's header container (which
// throws on a field of 64 KiB).
TEST(LambdaEventTest, OversizedOrEncodedRequestsAreRefusedAsServeRefusesThem) {
  auto refusal = [](const json::object& ev) -> unsigned {
    StatusOr<Event> e = ParseEvent(json::serialize(ev));
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    const auto& h = std::get<HttpEvent>(*e);
    return h.refusal ? h.refusal->result_int() : 0;
  };
  json::object ev{{"version", "2.0"},
                  {"rawPath", "/webhooks/dbt"},
                  {"requestContext", json::object{{"http", json::object{{"method", "POST"}}}}},
                  {"headers", json::object{{"x-big", std::string(70000, 'a')}}}};
  EXPECT_EQ(refusal(ev), 431u);
  ev["headers"] = json::object{{"content-encoding", "gzip"}};
  EXPECT_EQ(refusal(ev), 415u);
  ev["headers"] = json::object{};
  ev["rawPath"] = "/" + std::string(9000, 'p');
  EXPECT_EQ(refusal(ev), 414u);
  ev["rawPath"] = "/webhooks/dbt";
  EXPECT_EQ(refusal(ev), 0u);
}

TEST(LambdaEventTest, ProxyResponseHasTheFullShape) {
  http::Response res = http::JsonResponse(401, R"({"error":"bad signature"})");
  res.insert("X-Multi", "a");
  res.insert("X-Multi", "b");
  res.prepare_payload();
  json::value v = json::parse(ProxyResponse(res));
  EXPECT_EQ(v.at("statusCode").as_int64(), 401);
  EXPECT_EQ(v.at("body").as_string(), R"({"error":"bad signature"})");
  EXPECT_EQ(v.at("isBase64Encoded").as_bool(), false);
  EXPECT_EQ(v.at("headers").at("Content-Type").as_string(), "application/json");
  EXPECT_EQ(v.at("headers").at("X-Multi").as_string(), "a, b");
  EXPECT_FALSE(v.at("headers").as_object().contains("Content-Length"));
}

TEST(LambdaEventTest, DecodeBase64) {
  EXPECT_EQ(*DecodeBase64(""), "");
  EXPECT_EQ(*DecodeBase64("Zg=="), "f");
  EXPECT_EQ(*DecodeBase64("Zm8="), "fo");
  EXPECT_EQ(*DecodeBase64("Zm9v"), "foo");
  EXPECT_FALSE(DecodeBase64("Zm9").has_value());
  EXPECT_FALSE(DecodeBase64("Zm9*").has_value());
  EXPECT_FALSE(DecodeBase64("Zm9v Zm9v").has_value()) << "no whitespace";
  EXPECT_FALSE(DecodeBase64("Zm-vZm9v").has_value()) << "OpenSSL would stop at '-'";
  EXPECT_FALSE(DecodeBase64("Z===").has_value());
}

}  // namespace
}  // namespace relay::lambda
