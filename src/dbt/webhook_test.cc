#include "dbt/webhook.h"

#include <gtest/gtest.h>

#include <random>

#include "../../test/support/testdata.h"
#include "dbt/payload_builder.h"

namespace relay::dbt {
namespace {

using relay::testing::ReadFileBytes;
using relay::testing::TestdataPath;

TEST(WebhookTest, ParsesCompletedBody) {
  auto ev = ParseRunWebhook(ReadFileBytes(TestdataPath("completed.body")));
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->event_id, "wev_2L6ZDoilyiWzKkSA59Gmc2d7FDD");
  EXPECT_EQ(ev->event_type, "job.run.completed");
  EXPECT_EQ(ev->account_id->value, 1);
  EXPECT_EQ(ev->webhook_id, "wsu_12345abcde");
  EXPECT_EQ(ev->job_id.value, 123);
  EXPECT_EQ(ev->job_id.text, "123");
  EXPECT_EQ(ev->run_id.value, 12345);
  EXPECT_EQ(ev->environment_id->value, 1234);
  EXPECT_EQ(ev->project_id->value, 167194);
  EXPECT_EQ(ev->run_status_code, kRunStatusSuccess);
  EXPECT_EQ(ev->timestamp, "2023-01-31T19:29:35.789265936Z");
}

TEST(WebhookTest, ParsesEveryTestdataBody) {
  struct Case {
    const char* file;
    const char* type;
    int code;
  };
  for (Case c : {Case{"started.body", "job.run.started", 3}, Case{"errored.body", "job.run.errored", 20},
                 Case{"completed_errored.body", "job.run.completed", 20}}) {
    auto ev = ParseRunWebhook(ReadFileBytes(TestdataPath(c.file)));
    ASSERT_TRUE(ev.ok()) << c.file << ": " << ev.status().ToString();
    EXPECT_EQ(ev->event_type, c.type);
    EXPECT_EQ(ev->run_status_code, c.code);
  }
}

TEST(WebhookTest, AcceptsIdsAsNumbersAndAccountIdAsString) {
  auto ev = ParseRunWebhook(
      R"({"accountId":"42","webhooksID":"wsu_x","eventId":"wev_1","eventType":"job.run.completed",)"
      R"("data":{"jobId":123,"runId":9007199254740993,"environmentId":7,"projectId":"8","runStatusCode":"10","extra":{"x":[1]}}})");
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->account_id->value, 42);
  EXPECT_EQ(ev->webhook_id, "wsu_x");
  EXPECT_EQ(ev->job_id.value, 123);
  EXPECT_EQ(ev->run_id.value, 9007199254740993);  // above 2^53: never through double
  EXPECT_EQ(ev->run_status_code, 10);
}

TEST(WebhookTest, IdTextIsCanonical) {
  auto ev = ParseRunWebhook(
      R"({"eventId":"e","eventType":"job.run.completed","accountId":"007","data":{"jobId":"0123","runId":"0000555","runStatusCode":10,"projectId":"042","environmentId":0}})");
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->account_id->text, "7");
  EXPECT_EQ(ev->job_id.text, "123");
  EXPECT_EQ(ev->run_id.text, "555");
  EXPECT_EQ(ev->project_id->text, "42");
  EXPECT_EQ(ev->environment_id->text, "0");
}

TEST(WebhookTest, OptionalFieldsMayBeAbsent) {
  auto ev = ParseRunWebhook(R"({"eventId":"wev_1","eventType":"job.run.completed","data":{"jobId":"1","runId":"2","runStatusCode":30}})");
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_FALSE(ev->account_id.has_value());
  EXPECT_FALSE(ev->project_id.has_value());
  EXPECT_EQ(ev->run_status_code, kRunStatusCancelled);
}

TEST(WebhookTest, ErrorsNameTheOffendingField) {
  struct Case {
    const char* body;
    const char* field;
  };
  for (Case c : {
           Case{"not json", "body:"},
           Case{"[1,2]", "body:"},
           Case{R"({"eventType":"job.run.completed","data":{"jobId":"1","runId":"2","runStatusCode":10}})", "eventId:"},
           Case{R"({"eventId":"e","data":{"jobId":"1","runId":"2","runStatusCode":10}})", "eventType:"},
           Case{R"({"eventId":"e","eventType":"t"})", "data:"},
           Case{R"({"eventId":"e","eventType":"t","data":{"runId":"2","runStatusCode":10}})", "data.jobId:"},
           Case{R"({"eventId":"e","eventType":"t","data":{"jobId":"1","runStatusCode":10}})", "data.runId:"},
           Case{R"({"eventId":"e","eventType":"t","data":{"jobId":"1","runId":"2"}})", "data.runStatusCode:"},
           Case{R"({"eventId":"e","eventType":"t","data":{"jobId":"1.5","runId":"2","runStatusCode":10}})", "data.jobId:"},
           Case{R"({"eventId":"e","eventType":"t","data":{"jobId":1.5,"runId":"2","runStatusCode":10}})", "data.jobId:"},
           Case{R"({"eventId":"e","eventType":"t","data":{"jobId":"1","runId":"-2","runStatusCode":10}})", "data.runId:"},
           Case{R"({"eventId":"e","eventType":"t","data":{"jobId":"1","runId":"99999999999999999999","runStatusCode":10}})", "data.runId:"},
           Case{R"({"eventId":"e","eventType":"t","accountId":"x","data":{"jobId":"1","runId":"2","runStatusCode":10}})", "accountId:"},
           Case{R"({"eventId":5,"eventType":"t","data":{"jobId":"1","runId":"2","runStatusCode":10}})", "eventId:"},
       }) {
    auto ev = ParseRunWebhook(c.body);
    ASSERT_FALSE(ev.ok()) << c.body;
    EXPECT_EQ(ev.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(ev.status().message().rfind(c.field, 0), 0u) << c.body << " → " << ev.status().message();
  }
}

TEST(WebhookTest, BuiltPayloadsParse) {
  std::mt19937_64 rng(1);
  for (const char* type : {"job.run.completed", "job.run.errored", "job.run.started", "job.run.other"}) {
    PayloadSpec spec;
    spec.event_type = type;
    auto ev = ParseRunWebhook(BuildPayload(spec, rng));
    ASSERT_TRUE(ev.ok()) << type << ": " << ev.status().ToString();
    EXPECT_EQ(ev->event_type, type);
    EXPECT_EQ(ev->event_id.size(), 31u);
  }
}

}  // namespace
}  // namespace relay::dbt
