// Black-box tests: the real `retl-relay serve` on 127.0.0.1, port 0, against the real
// `retl-relay fake-rudderstack`. Only loopback traffic.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <random>

#include "../support/process.h"
#include "../support/temp_dir.h"
#include "../support/testdata.h"
#include "dbt/payload_builder.h"
#include "dbt/signature.h"
#include "store/store.h"

namespace relay {
namespace {

namespace json = boost::json;
using testing::Eventually;
using testing::HttpCall;
using testing::Process;
using testing::RelayBinary;

constexpr char kSecret[] = "dbt_test_webhook_secret_0123456789abcdef";
constexpr char kToken[] = "rs-test-token";

class RelayIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<Process>(
        std::vector<std::string>{RelayBinary(), "fake-rudderstack", "--port-file", dir_.File("fake.port"),
                                 "--sync-duration", "200ms"},
        std::map<std::string, std::string>{{"RUDDERSTACK_API_TOKEN", kToken}}, dir_.File("fake.log"));
    fake_port_ = testing::WaitForPortFile(dir_.File("fake.port"));
    ASSERT_GT(fake_port_, 0) << "fake did not start";
    WriteConfig();
    StartRelay();
  }

  void WriteConfig(const std::string& extra_route = "") {
    std::ofstream out(dir_.File("relay.toml"));
    out << "[server]\nlisten = \"127.0.0.1:0\"\nmax_body_bytes = 4096\n"
        << "[store]\nurl = \"sqlite://" << dir_.File("relay.db") << "\"\n"
        << "[dbt]\nwebhook_secret = \"${DBT_WEBHOOK_SECRET}\"\n"
        << "[rudderstack]\napi_base = \"http://127.0.0.1:" << fake_port_ << "\"\nrequest_timeout = \"2s\"\n"
        << "[dispatch]\npoll_interval = \"50ms\"\nretry_initial = \"50ms\"\nretry_max = \"200ms\"\nlease = \"1s\"\n"
        << "sync_poll_interval = \"100ms\"\n"
        << "[[route]]\nname = \"main\"\njob_ids = [\"123\"]\nconnections = [\"conn_main\"]\n" << extra_route;
  }

  void StartRelay() {
    std::remove(dir_.File("relay.port").c_str());
    relay_ = std::make_unique<Process>(
        std::vector<std::string>{RelayBinary(), "serve", "--config", dir_.File("relay.toml"), "--port-file",
                                 dir_.File("relay.port")},
        std::map<std::string, std::string>{{"DBT_WEBHOOK_SECRET", kSecret}, {"RUDDERSTACK_API_TOKEN", kToken}},
        dir_.File("relay.log"));
    relay_port_ = testing::WaitForPortFile(dir_.File("relay.port"));
    ASSERT_GT(relay_port_, 0) << "relay did not start; log: " << testing::ReadFileBytes(dir_.File("relay.log"));
  }

  std::string RelayUrl(const std::string& path = "/webhooks/dbt") const {
    return "http://127.0.0.1:" + std::to_string(relay_port_) + path;
  }
  std::string FakeUrl(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(fake_port_) + path; }

  testing::HttpResult PostSigned(const std::string& body) {
    return HttpCall("POST", RelayUrl(), body,
                    {"Content-Type: application/json", "Authorization: " + dbt::SignBody(body, kSecret)});
  }

  std::string Payload(const std::string& event_type = "job.run.completed", int code = 10, const std::string& event_id = "",
                      const std::string& job_id = "123") {
    dbt::PayloadSpec spec;
    spec.event_type = event_type;
    spec.run_status_code = code;
    spec.event_id = event_id;
    spec.job_id = job_id;
    return dbt::BuildPayload(spec, rng_);
  }

  // The start calls the fake received, as JSON objects.
  std::vector<json::object> Starts() {
    std::vector<json::object> out;
    auto r = HttpCall("GET", FakeUrl("/_fake/calls"));
    if (r.status != 200) return out;
    json::value calls = json::parse(r.body);
    for (const auto& c : calls.at("calls").as_array()) {
      if (c.at("endpoint").as_string() == "start") out.push_back(c.as_object());
    }
    return out;
  }
  size_t SuccessfulStarts() {
    size_t n = 0;
    for (const auto& s : Starts()) n += s.at("status").as_int64() == 200;
    return n;
  }

  void InjectFault(const std::string& fault_json) {
    ASSERT_EQ(HttpCall("POST", FakeUrl("/_fake/faults"), fault_json).status, 200);
  }

  std::unique_ptr<store::Store> OpenStore() { return std::move(store::OpenStore("sqlite://" + dir_.File("relay.db"))).value(); }
  std::vector<store::Trigger> Triggers() { return *OpenStore()->ListTriggers("", 1000); }

  testing::TempDir dir_;
  std::mt19937_64 rng_{42};
  std::unique_ptr<Process> fake_, relay_;
  int fake_port_ = 0, relay_port_ = 0;
};

TEST_F(RelayIntegrationTest, SignedSuccessWebhookStartsExactlyOneSyncWithTheRightRequest) {
  auto r = PostSigned(Payload());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"status\":\"accepted\""), std::string::npos);
  // Durable before the 200: the event is in the database the moment the answer arrives.
  EXPECT_EQ(*OpenStore()->CountEvents(), 1);
  ASSERT_TRUE(Eventually([&] { return SuccessfulStarts() == 1; }));
  auto start = Starts().at(0);
  EXPECT_EQ(start.at("path").as_string(), "/v2/retl-connections/conn_main/start");
  EXPECT_EQ(start.at("authorization").as_string(), std::string("Bearer ") + kToken);
  EXPECT_EQ(start.at("content_type").as_string(), "application/json");
  EXPECT_EQ(start.at("body").as_string(), R"({"syncType":"incremental"})");
  ASSERT_TRUE(Eventually([&] { return Triggers().size() == 1 && Triggers()[0].state == "succeeded"; }));
  EXPECT_EQ(Triggers()[0].sync_id, "sync_1");
  auto syncs = *OpenStore()->ListSyncs("conn_main", 10);
  ASSERT_EQ(syncs.size(), 1u);
  EXPECT_EQ(syncs[0].status, "succeeded");
  EXPECT_EQ(syncs[0].succeeded, 10);
}

TEST_F(RelayIntegrationTest, ErroredRunStartsNothing) {
  ASSERT_EQ(PostSigned(Payload("job.run.errored", 20)).status, 200);
  ASSERT_EQ(PostSigned(Payload("job.run.completed", 20)).status, 200);
  ASSERT_EQ(PostSigned(Payload("job.run.started", 3)).status, 200);
  ASSERT_EQ(PostSigned(Payload("job.run.completed", 10, "", "999")).status, 200);  // unrouted job
  // A later routed success is delivered; if the earlier ones had triggered, they would be first.
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] { return SuccessfulStarts() == 1; }));
  EXPECT_EQ(Starts().size(), 1u);
  EXPECT_EQ(*OpenStore()->CountEvents(), 5);
  EXPECT_EQ(Triggers().size(), 1u);
}

TEST_F(RelayIntegrationTest, SameEventIdTwiceStartsOnce) {
  std::string body = Payload("job.run.completed", 10, "wev_duplicate_delivery_000000000");
  auto first = PostSigned(body);
  auto second = PostSigned(body);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.body, R"({"status":"duplicate","event_id":"wev_duplicate_delivery_000000000"})");
  ASSERT_TRUE(Eventually([&] { return SuccessfulStarts() == 1; }));
  EXPECT_EQ(Triggers().size(), 1u);
}

TEST_F(RelayIntegrationTest, BadSignatureIs401AndStoresNothing) {
  std::string body = Payload();
  auto wrong = HttpCall("POST", RelayUrl(), body, {"Authorization: " + dbt::SignBody(body, "not-the-secret")});
  auto missing = HttpCall("POST", RelayUrl(), body);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(wrong.body.front(), '{');
  EXPECT_EQ(*OpenStore()->CountEvents(), 0);
}

TEST_F(RelayIntegrationTest, MalformedIs400AndOversizeIs413) {
  auto bad = PostSigned("{\"eventId\":\"e\"}");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, R"({"error":"eventType: missing"})");
  std::string big(5000, 'x');
  auto large = PostSigned(big);
  EXPECT_EQ(large.status, 413);
  EXPECT_NE(large.body.find("\"error\""), std::string::npos);
  auto unknown = HttpCall("GET", RelayUrl("/nope"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body.front(), '{');
  EXPECT_EQ(HttpCall("GET", RelayUrl()).status, 405);
  EXPECT_EQ(*OpenStore()->CountEvents(), 0);
  // The relay still serves after all that.
  EXPECT_EQ(PostSigned(Payload()).status, 200);
}

TEST_F(RelayIntegrationTest, TwoServerErrorsThenSuccessGiveOneSync) {
  InjectFault(R"({"endpoint":"start","status":500,"times":2})");
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] { return SuccessfulStarts() == 1; }));
  auto starts = Starts();
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_EQ(starts[0].at("status").as_int64(), 500);
  EXPECT_EQ(starts[1].at("status").as_int64(), 500);
  EXPECT_EQ(starts[2].at("status").as_int64(), 200);
  ASSERT_TRUE(Eventually([&] { return Triggers()[0].state == "succeeded"; }));
}

TEST_F(RelayIntegrationTest, NotFoundKillsTheTriggerWithTheReason) {
  InjectFault(R"({"endpoint":"start","status":404,"times":1})");
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] { return !Triggers().empty() && Triggers()[0].state == "dead"; }));
  EXPECT_NE(Triggers()[0].last_error.find("HTTP 404"), std::string::npos) << Triggers()[0].last_error;
  EXPECT_EQ(Starts().size(), 1u) << "a permanent error is not retried";
}

TEST_F(RelayIntegrationTest, PendingTriggersSurviveSigkill) {
  InjectFault(R"({"endpoint":"start","status":503,"times":100000})");
  constexpr int kWebhooks = 5;
  for (int i = 0; i < kWebhooks; ++i) ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] { return !Starts().empty(); }));
  EXPECT_EQ(relay_->Stop(SIGKILL), 128 + SIGKILL);
  // RudderStack recovers while the relay is down; the relay comes back on the same database.
  ASSERT_EQ(HttpCall("POST", FakeUrl("/_fake/reset")).status, 200);
  StartRelay();
  ASSERT_TRUE(Eventually([&] {
    auto t = Triggers();
    return t.size() == kWebhooks && std::all_of(t.begin(), t.end(), [](auto& x) { return x.state == "succeeded"; });
  })) << testing::ReadFileBytes(dir_.File("relay.log"));
  EXPECT_EQ(SuccessfulStarts(), 1u) << "the pending triggers of one connection share one start";
}

// The fake carries out the start but answers 500 / drops the connection / answers too late:
// the relay must find and adopt that sync, never send a second start.
TEST_F(RelayIntegrationTest, PerformedStartAnswered500IsAdoptedNotResent) {
  InjectFault(R"({"endpoint":"start","status":500,"perform":true})");
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] { return !Triggers().empty() && Triggers()[0].state == "succeeded"; }));
  auto starts = Starts();
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].at("status").as_int64(), 500);
  EXPECT_EQ(starts[0].at("real_status").as_int64(), 200);
  EXPECT_EQ(Triggers()[0].sync_id, "sync_1");
  EXPECT_EQ((*OpenStore()->ListSyncs("conn_main", 10))[0].origin, "adopted");
}

TEST_F(RelayIntegrationTest, PerformedStartWithDroppedConnectionIsAdoptedNotResent) {
  InjectFault(R"({"endpoint":"start","drop":true,"perform":true})");
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] { return !Triggers().empty() && Triggers()[0].state == "succeeded"; }));
  auto starts = Starts();
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].at("status").as_int64(), 0) << "no answer was sent";
  EXPECT_EQ(Triggers()[0].sync_id, "sync_1");
}

TEST_F(RelayIntegrationTest, SigkillRightAfterSendingStartNeverStartsTwice) {
  // The start is carried out at once but answered only after 3 s; the relay dies meanwhile.
  InjectFault(R"({"endpoint":"start","perform":true,"latency_ms":3000})");
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] { return Starts().size() == 1; }));
  EXPECT_EQ(relay_->Stop(SIGKILL), 128 + SIGKILL);
  StartRelay();
  ASSERT_TRUE(Eventually([&] { return Triggers()[0].state == "succeeded"; }))
      << testing::ReadFileBytes(dir_.File("relay.log"));
  EXPECT_EQ(Starts().size(), 1u) << "the sync started before the crash was adopted";
  EXPECT_EQ(Triggers()[0].sync_id, "sync_1");
}

TEST_F(RelayIntegrationTest, ExternalSyncRunningQueuesOneStartAfterIt) {
  ASSERT_EQ(HttpCall("POST", FakeUrl("/_fake/connections/conn_main/external")).status, 200);
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] { return !Triggers().empty() && Triggers()[0].state == "succeeded"; }));
  auto starts = Starts();
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].at("status").as_int64(), 409);
  EXPECT_EQ(starts[1].at("status").as_int64(), 200);
  EXPECT_EQ(Triggers()[0].sync_id, "sync_2") << "not the external sync_1";
}

TEST_F(RelayIntegrationTest, SigtermExitsCleanly) {
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  EXPECT_EQ(relay_->Stop(SIGTERM), 0);
  EXPECT_EQ(*OpenStore()->CountEvents(), 1);
}

TEST(RelayZeroConfigTest, SeedVariablesAloneNeedASecretOrExplicitUnsigned) {
  testing::TempDir dir;
  Process relay({RelayBinary(), "serve", "--listen", "127.0.0.1:0"},
                {{"RUDDERSTACK_API_TOKEN", "t"}, {"RETL_CONNECTION_ID", "c"}, {"RETL_RELAY_STORE_URL", "sqlite://" + dir.File("z.db")}},
                dir.File("relay.log"));
  EXPECT_EQ(relay.Wait(std::chrono::seconds(10)), 1);
  EXPECT_NE(testing::ReadFileBytes(dir.File("relay.log")).find("dbt.webhook_secret"), std::string::npos);
}

TEST(RelayZeroConfigTest, SeedVariablesStartTheConnection) {
  testing::TempDir dir;
  Process fake({RelayBinary(), "fake-rudderstack", "--port-file", dir.File("fake.port")}, {{"RUDDERSTACK_API_TOKEN", "t"}},
               dir.File("fake.log"));
  int fake_port = testing::WaitForPortFile(dir.File("fake.port"));
  ASSERT_GT(fake_port, 0);
  Process relay({RelayBinary(), "serve", "--listen", "127.0.0.1:0", "--port-file", dir.File("relay.port")},
                {{"RUDDERSTACK_API_TOKEN", "t"}, {"RETL_CONNECTION_ID", "2seedconn"}, {"DBT_WEBHOOK_SECRET", "s"},
                 {"RUDDERSTACK_API_BASE", "http://127.0.0.1:" + std::to_string(fake_port)},
                 {"RETL_RELAY_STORE_URL", "sqlite://" + dir.File("z.db")}},
                dir.File("relay.log"));
  int port = testing::WaitForPortFile(dir.File("relay.port"));
  ASSERT_GT(port, 0) << testing::ReadFileBytes(dir.File("relay.log"));
  std::string body = testing::ReadFileBytes(testing::TestdataPath("completed.body"));
  auto r = HttpCall("POST", "http://127.0.0.1:" + std::to_string(port) + "/webhook", body,
                    {"Authorization: " + dbt::SignBody(body, "s")});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(Eventually([&] {
    auto calls = HttpCall("GET", "http://127.0.0.1:" + std::to_string(fake_port) + "/_fake/calls");
    return calls.body.find("/v2/retl-connections/2seedconn/start") != std::string::npos;
  }));
}

}  // namespace
}  // namespace relay
