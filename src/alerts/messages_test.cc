#include "alerts/messages.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace relay::alerts {
namespace {

namespace json = boost::json;

Alert Failed(int64_t id, const std::string& connection) {
  Alert a;
  a.stored.id = id;
  a.stored.alert.kind = "sync_failed";
  a.stored.alert.at = FromUnixMillis(1'700'000'000'000);
  a.stored.alert.connection_id = connection;
  a.stored.alert.sync_id = "s" + std::to_string(id);
  a.stored.alert.error = "destination rejected 12 records";
  a.stored.alert.summary = "RudderStack sync s" + std::to_string(id) + " of connection " + connection + " failed";
  a.runs = {{"wev_1", 70001}, {"wev_2", 70002}};
  a.triggers = 2;
  return a;
}

TEST(AlertMessagesTest, OneAlertCarriesEveryField) {
  json::object o = json::parse(WebhookBody({Failed(7, "c1")}, FromUnixMillis(1'700'000'001'000))).as_object();
  EXPECT_EQ(o.at("kind").as_string(), "sync_failed");
  EXPECT_EQ(o.at("at").as_string(), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(o.at("alert_id").as_int64(), 7);
  EXPECT_EQ(o.at("connection_id").as_string(), "c1");
  EXPECT_EQ(o.at("sync_id").as_string(), "s7");
  EXPECT_EQ(o.at("error").as_string(), "destination rejected 12 records");
  EXPECT_EQ(json::serialize(o.at("event_ids")), R"(["wev_1","wev_2"])");
  EXPECT_EQ(json::serialize(o.at("run_ids")), R"(["70001","70002"])");
  EXPECT_EQ(o.at("summary").as_string(), "RudderStack sync s7 of connection c1 failed");
}

TEST(AlertMessagesTest, SeveralBecomeOneSummary) {
  std::vector<Alert> many;
  for (int i = 0; i < 50; ++i) many.push_back(Failed(i + 1, "c" + std::to_string(i % 3)));
  many.back().stored.alert.kind = "trigger_dead";
  json::object o = json::parse(WebhookBody(many, FromUnixMillis(1'700'000'060'000))).as_object();
  EXPECT_EQ(o.at("kind").as_string(), "summary");
  EXPECT_EQ(o.at("count").as_int64(), 50);
  EXPECT_EQ(o.at("counts").at("sync_failed").as_int64(), 49);
  EXPECT_EQ(o.at("counts").at("trigger_dead").as_int64(), 1);
  EXPECT_EQ(o.at("alerts").as_array().size(), 20u);
  EXPECT_EQ(o.at("summary").as_string(),
            "50 alerts since 2023-11-14T22:13:20.000Z: 49 sync_failed (connections c0, c1, c2), 1 trigger_dead "
            "(connection c1) (rate-limited: one message per min_interval)");
  json::object slack = json::parse(SlackBody(many)).as_object();
  ASSERT_EQ(slack.size(), 1u);
  const std::string text(slack.at("text").as_string());
  EXPECT_EQ(text.rfind("retl-relay: 50 alerts since", 0), 0u) << text;
  EXPECT_NE(text.find("… and 40 more"), std::string::npos) << text;
  json::object one = json::parse(SlackBody({Failed(3, "c9")})).as_object();
  EXPECT_EQ(one.at("text").as_string(),
            "retl-relay sync_failed: RudderStack sync s3 of connection c9 failed (dbt runs 70001, 70002)");
}

TEST(AlertMessagesTest, SignatureIsTheHexHmacOfTheBody) {
  // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), RFC 4231-style vector.
  EXPECT_EQ(SignatureValue("The quick brown fox jumps over the lazy dog", "key"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

}  // namespace
}  // namespace relay::alerts
