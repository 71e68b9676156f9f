#include "receive/webhook_handler.h"

#include <gtest/gtest.h>

#include "../../test/support/temp_dir.h"
#include "../../test/support/testdata.h"

namespace relay::receive {
namespace {

namespace bhttp = boost::beast::http;
using relay::testing::ReadFileBytes;
using relay::testing::TestdataPath;

constexpr char kSecret[] = "12345abcde";

class WebhookHandlerTest : public ::testing::Test {
 protected:
  WebhookHandlerTest() {
    config_.dbt.webhook_secrets = {kSecret};
    config::Route r;
    r.name = "main";
    r.connections = {"c1", "c2"};
    config::Route errors;
    errors.name = "errors";
    errors.on_status_codes = {20};
    errors.connections = {"c3"};
    config_.routes = {r, errors};
    store_ = std::move(store::OpenStore("sqlite://" + dir_.File("relay.db"))).value();
    handler_ = std::make_unique<WebhookHandler>(config_, *store_, clock_, nullptr);
  }

  static Request Post(std::string target, std::string body, std::string auth) {
    Request req{bhttp::verb::post, target, 11};
    if (!auth.empty()) req.set(bhttp::field::authorization, auth);
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
  }
  static Request Signed(std::string body, std::string target = "/webhooks/dbt") {
    std::string sig = dbt::SignBody(body, kSecret);
    return Post(std::move(target), std::move(body), sig);
  }

  relay::testing::TempDir dir_;
  config::Config config_;
  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<WebhookHandler> handler_;
};

TEST_F(WebhookHandlerTest, SignedSuccessBecomesOneTriggerPerConnection) {
  auto p = handler_->Prepare(Signed(ReadFileBytes(TestdataPath("completed.body"))));
  ASSERT_FALSE(p.answer.has_value()) << p.answer->body();
  EXPECT_EQ(p.event.event_id, "wev_2L6ZDoilyiWzKkSA59Gmc2d7FDD");
  EXPECT_EQ(p.event.raw_body, ReadFileBytes(TestdataPath("completed.body")));
  ASSERT_EQ(p.triggers.size(), 2u);
  EXPECT_EQ(p.triggers[0].connection_id, "c1");
  EXPECT_EQ(p.triggers[1].connection_id, "c2");
  EXPECT_NE(p.triggers[0].dedupe_key, p.triggers[1].dedupe_key);
}

TEST_F(WebhookHandlerTest, SeedPathIsAccepted) {
  auto p = handler_->Prepare(Signed(ReadFileBytes(TestdataPath("completed.body")), "/webhook"));
  EXPECT_FALSE(p.answer.has_value());
}

TEST_F(WebhookHandlerTest, ErroredAndFailedCompletedShareTheDedupeKey) {
  auto errored = handler_->Prepare(Signed(ReadFileBytes(TestdataPath("errored.body"))));
  auto completed = handler_->Prepare(Signed(ReadFileBytes(TestdataPath("completed_errored.body"))));
  ASSERT_EQ(errored.triggers.size(), 1u);
  ASSERT_EQ(completed.triggers.size(), 1u);
  EXPECT_EQ(errored.triggers[0].connection_id, "c3");
  EXPECT_EQ(errored.triggers[0].dedupe_key, completed.triggers[0].dedupe_key);
}

// "555", "0555" and 555 are one run: before, they made three dedupe keys and so three triggers.
TEST_F(WebhookHandlerTest, NumericIdsAreCanonicalForDedupe) {
  std::vector<std::string> keys;
  for (std::string run : {"\"555\"", "\"0555\"", "555"}) {
    std::string body = R"({"eventId":"wev_)" + std::to_string(keys.size()) +
                       R"(","eventType":"job.run.completed","accountId":"01","data":{"jobId":"0123","runId":)" + run +
                       R"(,"runStatusCode":"10"}})";
    auto p = handler_->Prepare(Signed(body));
    ASSERT_FALSE(p.answer.has_value()) << p.answer->body();
    ASSERT_EQ(p.triggers.size(), 2u);
    EXPECT_EQ(p.event.run_id, 555);
    keys.push_back(p.triggers[0].dedupe_key);
  }
  EXPECT_EQ(keys[0], keys[1]);
  EXPECT_EQ(keys[0], keys[2]);
  EXPECT_NE(keys[0].find("|1|555|10"), std::string::npos) << keys[0];
}

TEST_F(WebhookHandlerTest, NegativeAndOversizeIdsAre400NamingTheField) {
  struct Case {
    std::string body;
    std::string field;
  };
  const std::string big(500 * 1024, 'e');
  const Case cases[] = {
      {R"({"eventId":"e","eventType":"job.run.completed","data":{"jobId":1,"runId":-5,"runStatusCode":10}})",
       "data.runId"},
      {R"({"eventId":"e","eventType":"job.run.completed","data":{"jobId":-1,"runId":5,"runStatusCode":10}})",
       "data.jobId"},
      {R"({"eventId":"e","eventType":"job.run.completed","accountId":-2,"data":{"jobId":1,"runId":5,"runStatusCode":10}})",
       "accountId"},
      {R"({"eventId":")" + big + R"(","eventType":"job.run.completed","data":{"jobId":1,"runId":5,"runStatusCode":10}})",
       "eventId"},
      {R"({"eventId":"e","eventType":")" + std::string(300, 't') +
           R"(","data":{"jobId":1,"runId":5,"runStatusCode":10}})",
       "eventType"},
      {R"({"eventId":"e\u001b]0;pwned\u0007","eventType":"job.run.completed","data":{"jobId":1,"runId":5,"runStatusCode":10}})",
       "eventId"},
      {R"({"eventId":"a\nb","eventType":"job.run.completed","data":{"jobId":1,"runId":5,"runStatusCode":10}})",
       "eventId"},
      {R"({"eventId":"e","eventType":"job.run.completed","webhookId":")" + std::string(257, 'w') +
           R"(","data":{"jobId":1,"runId":5,"runStatusCode":10}})",
       "webhookId"},
  };
  for (const Case& c : cases) {
    auto p = handler_->Prepare(Signed(c.body));
    ASSERT_TRUE(p.answer.has_value()) << c.field;
    EXPECT_EQ(p.answer->result_int(), 400u) << c.field;
    EXPECT_NE(p.answer->body().find("\"" + c.field + ":"), std::string::npos) << p.answer->body().substr(0, 200);
    EXPECT_LT(p.answer->body().size(), 300u) << "the error does not echo the value";
  }
  // 256 bytes is still an id.
  auto ok = handler_->Prepare(Signed(R"({"eventId":")" + std::string(256, 'e') +
                                     R"(","eventType":"job.run.completed","data":{"jobId":1,"runId":5,"runStatusCode":10}})"));
  EXPECT_FALSE(ok.answer.has_value());
}

TEST_F(WebhookHandlerTest, StartedRunIsStoredWithoutTriggers) {
  auto p = handler_->Prepare(Signed(ReadFileBytes(TestdataPath("started.body"))));
  EXPECT_FALSE(p.answer.has_value());
  EXPECT_TRUE(p.triggers.empty());
}

TEST_F(WebhookHandlerTest, BadSignaturesAre401) {
  std::string body = ReadFileBytes(TestdataPath("completed.body"));
  for (std::string auth : {std::string(), std::string(64, '0'), "sha256=" + dbt::SignBody(body, kSecret),
                           dbt::SignBody(body, "wrong")}) {
    auto p = handler_->Prepare(Post("/webhooks/dbt", body, auth));
    ASSERT_TRUE(p.answer.has_value()) << auth;
    EXPECT_EQ(p.answer->result_int(), 401u);
    EXPECT_EQ(p.answer->body().find(dbt::SignBody(body, kSecret)), std::string::npos);
  }
}

TEST_F(WebhookHandlerTest, UnsignedAcceptedOnlyWhenAllowedAndNoSecret) {
  config_.dbt.webhook_secrets.clear();
  config_.dbt.allow_unsigned = true;
  WebhookHandler open(config_, *store_, clock_, nullptr);
  EXPECT_FALSE(open.Prepare(Post("/webhooks/dbt", ReadFileBytes(TestdataPath("completed.body")), "")).answer);
  config_.dbt.allow_unsigned = false;
  WebhookHandler closed(config_, *store_, clock_, nullptr);
  auto p = closed.Prepare(Post("/webhooks/dbt", ReadFileBytes(TestdataPath("completed.body")), ""));
  ASSERT_TRUE(p.answer);
  EXPECT_EQ(p.answer->result_int(), 401u);
}

TEST_F(WebhookHandlerTest, MalformedBodyIs400NamingTheField) {
  auto p = handler_->Prepare(Signed(R"({"eventId":"e","eventType":"job.run.completed","data":{"jobId":"1","runStatusCode":10}})"));
  ASSERT_TRUE(p.answer);
  EXPECT_EQ(p.answer->result_int(), 400u);
  EXPECT_EQ(p.answer->body(), R"({"error":"data.runId: missing"})");
  EXPECT_EQ(p.answer->at(bhttp::field::content_type), "application/json");
}

TEST_F(WebhookHandlerTest, OtherPathsAndMethodsGetJson404And405) {
  auto missing = handler_->Prepare(Signed("{}", "/nope"));
  ASSERT_TRUE(missing.answer);
  EXPECT_EQ(missing.answer->result_int(), 404u);
  Request get{bhttp::verb::get, "/webhooks/dbt", 11};
  auto wrong = handler_->Prepare(get);
  ASSERT_TRUE(wrong.answer);
  EXPECT_EQ(wrong.answer->result_int(), 405u);
  EXPECT_EQ(wrong.answer->at(bhttp::field::allow), "POST");
  EXPECT_EQ(wrong.answer->body().front(), '{');
}

TEST_F(WebhookHandlerTest, FinishAnswers) {
  store::NewEvent ev{"wev_1", "job.run.completed", 1, 1, 1, 10, "", clock_.Now()};
  std::vector<store::NewTrigger> triggers = {{"main", "c1", "incremental", "queue", "k1"},
                                             {"main", "c2", "incremental", "queue", "k2"}};
  store::AppendResult accepted;
  accepted.trigger_ids = {7, 0};
  Response ok = WebhookHandler::Finish(ev, triggers, accepted);
  EXPECT_EQ(ok.result_int(), 200u);
  EXPECT_EQ(ok.body(),
            R"({"status":"accepted","event_id":"wev_1","triggers":[{"id":7,"route":"main","connection_id":"c1",)"
            R"("sync_type":"incremental"}],"deduplicated_triggers":1})");
  store::AppendResult dup;
  dup.duplicate = true;
  EXPECT_EQ(WebhookHandler::Finish(ev, triggers, dup).body(), R"({"status":"duplicate","event_id":"wev_1"})");
  dup.duplicate_run = true;
  EXPECT_EQ(WebhookHandler::Finish(ev, triggers, dup).body(),
            R"({"status":"duplicate","event_id":"wev_1","reason":"run outcome already recorded"})");
  store::NewEvent pending = ev;
  pending.verify = true;
  EXPECT_EQ(WebhookHandler::Finish(pending, {}, store::AppendResult{}).body(),
            R"({"status":"accepted","event_id":"wev_1","triggers":[],"verification":"pending"})");
  Response unavailable = WebhookHandler::Finish(ev, triggers, Status(StatusCode::kUnavailable, "disk full"));
  EXPECT_EQ(unavailable.result_int(), 503u);
  EXPECT_EQ(unavailable.body().find("disk full"), std::string::npos) << "internal detail stays in the log";
}

// dbt's two events for a failed run (completed with 20, then errored) record one outcome: the
// second is a duplicate, whatever its eventId.
TEST_F(WebhookHandlerTest, TheSecondEventOfAFailedRunIsADuplicate) {
  auto completed = handler_->Prepare(Signed(ReadFileBytes(TestdataPath("completed_errored.body"))));
  auto errored = handler_->Prepare(Signed(ReadFileBytes(TestdataPath("errored.body"))));
  EXPECT_TRUE(completed.event.records_outcome);
  EXPECT_FALSE(handler_->Prepare(Signed(ReadFileBytes(TestdataPath("started.body")))).event.records_outcome);
  auto first = store_->Append(completed.event, completed.triggers);
  ASSERT_TRUE(first.ok() && !first->duplicate);
  auto second = store_->Append(errored.event, errored.triggers);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->duplicate_run);
}

// verify_runs: the account's terminal webhooks wait for dbt Cloud; another account's cannot be
// retrieved with this token and route at once.
TEST_F(WebhookHandlerTest, VerifyRunsHoldsTheConfiguredAccountsRunsOnly) {
  config_.dbt_cloud.account_id = "1";
  config_.dbt_cloud.token = "dbt-cloud-token";
  config_.dbt_cloud.verify_runs = true;
  auto mine = handler_->Prepare(Signed(ReadFileBytes(TestdataPath("completed.body"))));  // accountId 1
  EXPECT_TRUE(mine.event.verify);
  EXPECT_TRUE(mine.triggers.empty());
  config_.dbt_cloud.account_id = "2";
  auto other = handler_->Prepare(Signed(ReadFileBytes(TestdataPath("completed.body"))));
  EXPECT_FALSE(other.event.verify);
  EXPECT_EQ(other.triggers.size(), 2u);
  config_.dbt_cloud.account_id = "1";
  EXPECT_FALSE(handler_->Prepare(Signed(ReadFileBytes(TestdataPath("started.body")))).event.verify);
}

}  // namespace
}  // namespace relay::receive
