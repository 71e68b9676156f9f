// Black-box tests: the real `retl-relay serve` on 127.0.0.1, port 0, against the real
// `retl-relay fake-rudderstack`. Only loopback traffic.

#include <gtest/gtest.h>

#include <cctype>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

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
using testing::MetricValue;
using testing::Process;
using testing::RelayBinary;

constexpr char kSecret[] = "dbt_test_webhook_secret_0123456789abcdef";
constexpr char kToken[] = "rs-test-token";
constexpr char kAdminToken[] = "admin-test-token-0123456789";
constexpr char kDbtToken[] = "dbt-cloud-test-token";

class RelayIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<Process>(
        std::vector<std::string>{RelayBinary(), "fake-rudderstack", "--port-file", dir_.File("fake.port"),
                                 "--sync-duration", "200ms", "--outcome", fake_outcome_},
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
        << "[admin]\ntoken = \"${ADMIN_TOKEN}\"\n"
        << "[[route]]\nname = \"main\"\njob_ids = [\"123\"]\nconnections = [\"conn_main\"]\n" << extra_route
        << extra_config_;
  }

  void StartRelay() {
    std::remove(dir_.File("relay.port").c_str());
    relay_ = std::make_unique<Process>(
        std::vector<std::string>{RelayBinary(), "serve", "--config", dir_.File("relay.toml"), "--port-file",
                                 dir_.File("relay.port")},
        Env(), dir_.File("relay.log"));
    relay_port_ = testing::WaitForPortFile(dir_.File("relay.port"));
    ASSERT_GT(relay_port_, 0) << "relay did not start; log: " << testing::ReadFileBytes(dir_.File("relay.log"));
  }

  static std::map<std::string, std::string> Env() {
    return {{"DBT_WEBHOOK_SECRET", kSecret},
            {"RUDDERSTACK_API_TOKEN", kToken},
            {"ADMIN_TOKEN", kAdminToken},
            {"DBT_CLOUD_API_TOKEN", kDbtToken}};
  }
  testing::HttpResult Admin(const std::string& method, const std::string& path, const std::string& body = "") {
    return HttpCall(method, RelayUrl("/api/v1/" + path), body, {std::string("Authorization: Bearer ") + kAdminToken});
  }
  testing::CommandResult Cli(std::vector<std::string> args) {
    args.push_back("--config");
    args.push_back(dir_.File("relay.toml"));
    return testing::RunCommand(args, Env());
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
  // The value of one series on the relay's /metrics, or -1 when absent.
  double Metric(const std::string& series) {
    return MetricValue(
        HttpCall("GET", RelayUrl("/metrics"), "", {std::string("Authorization: Bearer ") + kAdminToken}).body, series);
  }
  // Waits until the counters named `series` (summed; an absent one counts 0) have grown by `n`
  // from now: the relay's own word that it made `n` more passes, for tests that assert that
  // nothing more happened.
  bool WaitForMore(const std::vector<std::string>& series, double n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto sum = [&] {
      double total = 0;
      for (const std::string& one : series) total += std::max(0.0, Metric(one));
      return total;
    };
    const double from = sum();
    return Eventually([&] { return sum() >= from + n; }, timeout);
  }
  // `n` more reconciliation passes, each of which has looked at dbt Cloud's runs since.
  bool WaitForReconcilePasses(int n) {
    return WaitForMore({R"(retl_relay_reconcile_passes_total{result="ok"})", R"(retl_relay_reconcile_passes_total{result="error"})"}, n);
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
  std::string extra_config_;  // appended to relay.toml (a [dbt_cloud] section, say)
  std::string fake_outcome_ = "succeeded";  // how the fake's syncs end
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

// libcurl re-sends a request whose reused keep-alive connection died before any answer. For
// POST /start that is a second start (found by the crash harness as a 409 right after a
// dropped start): starts must go out on a fresh connection.
TEST_F(RelayIntegrationTest, DroppedStartOnAReusedConnectionIsNotResentByTheHttpClient) {
  // One worker, so the second start goes out on the same curl handle as the first calls.
  ASSERT_EQ(relay_->Stop(SIGTERM), 0);
  std::string config = testing::ReadFileBytes(dir_.File("relay.toml"));
  config.replace(config.find("[dispatch]\n"), 11, "[dispatch]\nworkers = 1\n");
  std::ofstream(dir_.File("relay.toml")) << config;
  StartRelay();
  ASSERT_EQ(PostSigned(Payload()).status, 200);  // a first sync leaves a kept-alive connection
  ASSERT_TRUE(Eventually([&] { return !Triggers().empty() && Triggers()[0].state == "succeeded"; }));
  InjectFault(R"({"endpoint":"start","drop":true,"perform":true})");
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] {
    auto triggers = Triggers();
    return triggers.size() == 2 && triggers[0].state == "succeeded" && triggers[1].state == "succeeded";
  }));
  auto starts = Starts();
  ASSERT_EQ(starts.size(), 2u) << "the dropped start was sent again";
  EXPECT_EQ(starts[1].at("status").as_int64(), 0);
  for (const auto& t : Triggers()) EXPECT_FALSE(t.sync_id.empty());
  EXPECT_NE(Triggers()[0].sync_id, Triggers()[1].sync_id);
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

TEST_F(RelayIntegrationTest, AdminApiRequiresTheToken) {
  EXPECT_EQ(HttpCall("GET", RelayUrl("/api/v1/status")).status, 401);
  EXPECT_EQ(HttpCall("GET", RelayUrl("/api/v1/status"), "", {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(HttpCall("GET", RelayUrl("/api/v1/status"), "", {std::string("Authorization: ") + kAdminToken}).status, 401)
      << "the Bearer scheme is required";
  auto ok = Admin("GET", "status");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body.find(kAdminToken), std::string::npos);
}

TEST_F(RelayIntegrationTest, AdminApiEndpoints) {
  std::string body = Payload("job.run.completed", 10, "wev_admin_api_0000000000000000");
  ASSERT_EQ(PostSigned(body).status, 200);
  ASSERT_TRUE(Eventually([&] { return !Triggers().empty() && Triggers()[0].state == "succeeded"; }));

  auto status = json::parse(Admin("GET", "status").body);
  EXPECT_EQ(status.at("connections").at(0).at("last_outcome").as_string(), "succeeded");
  auto events = json::parse(Admin("GET", "events?limit=5&job=123").body);
  EXPECT_EQ(events.at("events").as_array().size(), 1u);
  EXPECT_EQ(Admin("GET", "events?since=not-a-time").status, 400);
  auto trail = json::parse(Admin("GET", "events/wev_admin_api_0000000000000000").body);
  EXPECT_EQ(trail.at("triggers").at(0).at("sync").at("status").as_string(), "succeeded");
  EXPECT_EQ(Admin("GET", "events/wev_unknown").status, 404);
  auto trigger = json::parse(Admin("GET", "triggers/1").body);
  EXPECT_EQ(trigger.at("state").as_string(), "succeeded");
  EXPECT_TRUE(trigger.at("final").as_bool());
  EXPECT_EQ(Admin("GET", "triggers/x").status, 400);

  auto replay = json::parse(Admin("POST", "events/wev_admin_api_0000000000000000/replay").body);
  ASSERT_EQ(replay.at("triggers").as_array().size(), 1u);
  auto manual = Admin("POST", "connections/conn_main/trigger", R"({"full":true})");
  ASSERT_EQ(manual.status, 200) << manual.body;
  EXPECT_EQ(json::parse(manual.body).at("sync_type").as_string(), "full");
  EXPECT_EQ(Admin("POST", "connections/conn_main/trigger", R"({"full":"yes"})").status, 400);
  ASSERT_TRUE(Eventually([&] {
    auto t = Triggers();
    return t.size() == 3 && t[1].state == "succeeded" && t[2].state == "succeeded";
  }));
  const size_t syncs_started = Triggers()[1].sync_id == Triggers()[2].sync_id ? 2 : 3;  // coalesced or not

  auto syncs = json::parse(Admin("GET", "connections/conn_main/syncs?limit=10").body);
  EXPECT_EQ(syncs.at("syncs").as_array().size(), syncs_started);
  auto one = json::parse(Admin("GET", "connections/conn_main/syncs/sync_1").body);
  EXPECT_EQ(one.at("status").as_string(), "succeeded");
  EXPECT_EQ(Admin("GET", "connections/conn_main/syncs/sync_99").status, 404);
  EXPECT_EQ(json::parse(Admin("POST", "connections/conn_main/stop").body).at("stop").as_string(), "requested");

  InjectFault(R"({"endpoint":"start","status":404,"times":1})");
  ASSERT_EQ(Admin("POST", "connections/conn_main/trigger").status, 200);
  ASSERT_TRUE(Eventually([&] { return json::parse(Admin("GET", "dead").body).at("triggers").as_array().size() == 1; }));
  auto retried = json::parse(Admin("POST", "triggers/4/retry").body);
  EXPECT_EQ(retried.at("retried").as_array().size(), 1u);
  ASSERT_TRUE(Eventually([&] { return Triggers()[3].state == "succeeded"; }));
  EXPECT_EQ(json::parse(Admin("POST", "dead/retry").body).at("retried").as_array().size(), 0u);
  EXPECT_EQ(Admin("DELETE", "status").status, 405);
}

// Round-3 probe: an accepted eventId with '<', '"', a space or U+202E could not be opened or
// replayed (404): the admin API did not decode path segments, while the page encodes them.
TEST_F(RelayIntegrationTest, AnEventIdWithAnyAcceptedCharactersCanBeOpenedAndReplayed) {
  const std::string id = "wev_<\"odd id\xE2\x80\xAE>%41";
  ASSERT_EQ(PostSigned(Payload("job.run.completed", 10, id)).status, 200);
  std::string encoded;
  for (unsigned char c : id) {
    static const char* kHex = "0123456789ABCDEF";
    if (std::isalnum(c) || c == '_' || c == '-') {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 15];
    }
  }
  auto trail = Admin("GET", "events/" + encoded);
  ASSERT_EQ(trail.status, 200) << trail.body;
  EXPECT_EQ(json::parse(trail.body).at("event_id").as_string(), id);
  auto listed = Admin("GET", "events?limit=5&job=%31%323");
  ASSERT_EQ(listed.status, 200) << "query values are decoded too";
  EXPECT_EQ(json::parse(listed.body).at("events").as_array().size(), 1u);
  ASSERT_TRUE(Eventually([&] { return !Triggers().empty() && Triggers()[0].state == "succeeded"; }));
  EXPECT_EQ(Admin("GET", "events/%FF%FE").status, 400) << "decoded bytes that are not UTF-8 are refused";
  auto replay = Admin("POST", "events/" + encoded + "/replay");
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(json::parse(replay.body).at("triggers").as_array().size(), 1u);
}

// Review findings on the admin API (issue 18, 19): each of these failed before its fix.
TEST_F(RelayIntegrationTest, AdminApiRefusesBadInputWithoutEndingTheRelay) {
  // An authenticated GET /api/v1 threw std::out_of_range on a pool thread: std::terminate.
  for (std::string path : {"/api/v1", "/api/v1/", "/api/v1?x=1"}) {
    auto r = HttpCall("GET", RelayUrl(path), "", {std::string("Authorization: Bearer ") + kAdminToken});
    EXPECT_EQ(r.status, 404) << path << ": " << r.body;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
  }
  ASSERT_EQ(Admin("GET", "status").status, 200) << "the relay is still up";

  // Wrong method on a known path: 405 with Allow; HEAD works where GET does, without a body.
  auto del = Admin("DELETE", "dead");
  EXPECT_EQ(del.status, 405);
  EXPECT_NE(del.headers.find("Allow: GET, HEAD"), std::string::npos) << del.headers;
  EXPECT_NE(Admin("GET", "events/x/replay").headers.find("Allow: POST"), std::string::npos);
  auto head = Admin("HEAD", "status");  // (that no body follows is server_test's raw-socket check)
  EXPECT_EQ(head.status, 200);
  EXPECT_NE(head.headers.find("Content-Length: "), std::string::npos) << head.headers;
  // A POST to a GET-only RudderStack path is a 405, not a call that takes an upstream slot.
  EXPECT_EQ(Admin("POST", "connections/conn_main/syncs").status, 405);

  // The trigger body is checked like the config: {"sync_type":"full"} started an incremental
  // sync and answered 200.
  auto full = Admin("POST", "connections/conn_main/trigger", R"({"sync_type":"full"})");
  ASSERT_EQ(full.status, 200) << full.body;
  EXPECT_EQ(json::parse(full.body).at("sync_type").as_string(), "full");
  for (auto [body, key] : std::vector<std::pair<std::string, std::string>>{
           {R"({"synctype":"full"})", "body.synctype"},
           {R"({"sync_type":"fast"})", "sync_type"},
           {R"({"sync_type":1})", "sync_type"},
           {R"({"full":"yes"})", "full"},
           {R"({"full":true,"sync_type":"incremental"})", "sync_type"},
           {R"([1])", "body"}}) {
    auto r = Admin("POST", "connections/conn_main/trigger", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find("\"" + key + ":"), std::string::npos) << body << " → " << r.body;
  }

  // Connection ids: one alphabet, checked before anything is stored or sent upstream.
  const size_t triggers_before = Triggers().size();
  for (std::string id : std::vector<std::string>{"..%2Fsyncs", "a'b", "a%20b", std::string(300, 'c'), "%2e%2e"}) {
    auto r = Admin("POST", "connections/" + id + "/trigger");
    EXPECT_EQ(r.status, 400) << id;
    EXPECT_NE(r.body.find("connection_id:"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Triggers().size(), triggers_before) << "nothing stored for a bad id";
  // "/connections/../syncs" reached GET /v2/syncs with the RudderStack token.
  auto climb = Admin("GET", "connections/../syncs");
  EXPECT_EQ(climb.status, 400) << climb.body;
  EXPECT_EQ(Admin("GET", "connections/conn_main/syncs/..").status, 400);
  EXPECT_EQ(Admin("GET", "connections/conn_main/syncs?status=running%26x%3D1").status, 400);
  auto calls = json::parse(HttpCall("GET", FakeUrl("/_fake/calls")).body);
  for (const auto& c : calls.at("calls").as_array()) {
    const std::string path(c.at("path").as_string());
    EXPECT_TRUE(path.starts_with("/v2/retl-connections/conn_main/")) << path;
  }

  // `since` is parsed strictly: these were accepted, and dates after 2262 returned everything.
  for (std::string since : {"9999-99-99T99:99:99Z", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z",
                            "2026-11-27T24:00:00Z", "2300-01-01T00:00:00Z", "1900-01-01T00:00:00Z"}) {
    EXPECT_EQ(Admin("GET", "events?since=" + since).status, 400) << since;
  }
  EXPECT_EQ(Admin("GET", "events?since=2024-02-29T00:00:00Z").status, 200) << "a leap day exists";
}

// With RudderStack slow, two admin calls to it took the pool readiness and metrics shared:
// /readyz timed out and Kubernetes would have pulled the instance. Now they never wait.
TEST_F(RelayIntegrationTest, ReadinessAndMetricsNeverWaitBehindRudderStackCalls) {
  InjectFault(R"({"endpoint":"list","latency_ms":1800,"times":5})");
  std::vector<std::thread> slow;
  std::atomic<int> slow_ok{0};
  for (int i = 0; i < 2; ++i) {
    slow.emplace_back([&] { slow_ok += Admin("GET", "connections/conn_main/syncs").status == 200; });
  }
  ASSERT_TRUE(Eventually([&] {
    auto calls = json::parse(HttpCall("GET", FakeUrl("/_fake/calls")).body).at("calls").as_array();
    return std::count_if(calls.begin(), calls.end(), [](const json::value& c) {
             return c.at("endpoint").as_string() == "list";
           }) == 2;
  }));
  for (std::string path : {"/readyz", "/metrics", "/api/v1/status"}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = HttpCall("GET", RelayUrl(path), "", {std::string("Authorization: Bearer ") + kAdminToken});
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_LT(took, std::chrono::milliseconds(1000)) << path << " waited behind the RudderStack calls";
  }
  // A third RudderStack call while two hang: a clear 503, at once.
  auto third = Admin("GET", "connections/conn_main/syncs");
  EXPECT_EQ(third.status, 503) << third.body;
  EXPECT_NE(third.body.find("RudderStack calls in progress"), std::string::npos) << third.body;
  EXPECT_NE(third.headers.find("Retry-After:"), std::string::npos);
  for (auto& t : slow) t.join();
  EXPECT_EQ(slow_ok.load(), 2);
  EXPECT_EQ(Admin("GET", "connections/conn_main/syncs").status, 200) << "the bound frees up";
}

// [admin] listen: /metrics and /api/v1/ only on the private listener; the public one serves
// the webhook paths and the probes, nothing else.
TEST_F(RelayIntegrationTest, APrivateAdminListenerTakesTheAdminSurfaceOffThePublicPort) {
  relay_->Stop();
  {
    std::ifstream in(dir_.File("relay.toml"));
    std::stringstream text;
    text << in.rdbuf();
    std::string config = text.str();
    const std::string admin = "[admin]\ntoken = \"${ADMIN_TOKEN}\"\n";
    ASSERT_NE(config.find(admin), std::string::npos);
    config.replace(config.find(admin), admin.size(), admin + "listen = \"127.0.0.1:0\"\n");
    std::ofstream(dir_.File("relay.toml")) << config;
  }
  std::remove(dir_.File("relay.port").c_str());
  relay_ = std::make_unique<Process>(
      std::vector<std::string>{RelayBinary(), "serve", "--config", dir_.File("relay.toml"), "--port-file",
                               dir_.File("relay.port"), "--admin-port-file", dir_.File("admin.port")},
      Env(), dir_.File("relay.log"));
  relay_port_ = testing::WaitForPortFile(dir_.File("relay.port"));
  ASSERT_GT(relay_port_, 0) << testing::ReadFileBytes(dir_.File("relay.log"));
  const int admin_port = testing::WaitForPortFile(dir_.File("admin.port"));
  ASSERT_GT(admin_port, 0);
  ASSERT_NE(admin_port, relay_port_);
  const std::string auth = std::string("Authorization: Bearer ") + kAdminToken;
  auto admin_url = [&](const std::string& path) { return "http://127.0.0.1:" + std::to_string(admin_port) + path; };

  // Public: webhooks and probes only.
  EXPECT_EQ(PostSigned(Payload()).status, 200);
  EXPECT_EQ(HttpCall("GET", RelayUrl("/healthz")).status, 200);
  EXPECT_EQ(HttpCall("GET", RelayUrl("/readyz")).status, 200);
  EXPECT_EQ(HttpCall("GET", RelayUrl("/metrics")).status, 404);
  EXPECT_EQ(HttpCall("GET", RelayUrl("/api/v1/status"), "", {auth}).status, 404);
  // Admin: the API, metrics and probes; no webhooks.
  EXPECT_EQ(HttpCall("GET", admin_url("/api/v1/status"), "", {auth}).status, 200);
  EXPECT_EQ(HttpCall("GET", admin_url("/api/v1/status")).status, 401) << "the token still applies";
  auto metrics = HttpCall("GET", admin_url("/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("retl_relay_webhooks_total{result=\"accepted\"} 1"), std::string::npos);
  EXPECT_EQ(HttpCall("GET", admin_url("/readyz")).status, 200);
  EXPECT_EQ(HttpCall("POST", admin_url("/webhooks/dbt"), Payload()).status, 404);
  ASSERT_TRUE(Eventually([&] { return SuccessfulStarts() == 1; }));
}

// store.retention: the running relay removes old, finished history by itself, and keeps what
// is recent.
TEST_F(RelayIntegrationTest, TheRelayPrunesHistoryOlderThanTheRetention) {
  relay_->Stop();
  {
    auto store = OpenStore();
    store::NewEvent old{"wev_from_2020", "job.run.completed", 1, 123, 42, 10, "{}", *ParseIso8601("2020-01-01T00:00:00Z")};
    ASSERT_TRUE(store->Append(old, {}).ok());
  }
  {
    std::ifstream in(dir_.File("relay.toml"));
    std::stringstream text;
    text << in.rdbuf();
    std::string config = text.str();
    const std::string store_section = "[store]\n";
    config.replace(config.find(store_section), store_section.size(),
                   store_section + "retention = \"30d\"\nretention_interval = \"1s\"\n");
    std::ofstream(dir_.File("relay.toml")) << config;
  }
  StartRelay();
  ASSERT_EQ(PostSigned(Payload("job.run.completed", 10, "wev_recent_000000000000000000")).status, 200);
  ASSERT_TRUE(Eventually([&] { return !OpenStore()->GetEvent("wev_from_2020")->has_value(); },
                         std::chrono::seconds(10)))
      << testing::ReadFileBytes(dir_.File("relay.log"));
  EXPECT_TRUE(OpenStore()->GetEvent("wev_recent_000000000000000000")->has_value());
  ASSERT_TRUE(Eventually([&] { return !Triggers().empty() && Triggers()[0].state == "succeeded"; }));
  EXPECT_TRUE(Eventually([&] {  // counted once the pass has ended
    return HttpCall("GET", RelayUrl("/metrics")).body.find("retl_relay_pruned_total{kind=\"events\"} 1") != std::string::npos;
  }));
}

TEST_F(RelayIntegrationTest, CliTalksToRudderStackAndFollowsAManualTrigger) {
  auto waited = Cli({"trigger", "conn_main", "--wait", "--timeout", "20s"});
  EXPECT_EQ(waited.exit_code, 0) << waited.err;
  EXPECT_NE(waited.out.find("succeeded, sync sync_1"), std::string::npos) << waited.out;
  auto syncs = Cli({"syncs", "conn_main", "--json"});
  ASSERT_EQ(syncs.exit_code, 0) << syncs.err;
  EXPECT_EQ(json::parse(syncs.out).at("syncs").as_array().size(), 1u);
  auto one = Cli({"sync", "conn_main", "sync_1"});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("status: succeeded"), std::string::npos) << one.out;
  EXPECT_EQ(Cli({"sync", "conn_main", "sync_404"}).exit_code, 1);
  auto stop = Cli({"stop", "conn_main"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_NE(stop.out.find("stop requested for conn_main"), std::string::npos);
  // A failing sync: --wait exits 1.
  InjectFault(R"({"endpoint":"start","status":400,"times":1})");
  auto failed = Cli({"trigger", "conn_main", "--wait", "--timeout", "20s"});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_NE(failed.out.find("dead"), std::string::npos) << failed.out;
}

TEST_F(RelayIntegrationTest, MetricsMoveWithAScriptedFlowAndPassPromtool) {
  std::string body = Payload();
  ASSERT_EQ(PostSigned(body).status, 200);
  ASSERT_EQ(PostSigned(body).status, 200);  // duplicate
  ASSERT_EQ(HttpCall("POST", RelayUrl(), body, {"Authorization: " + std::string(64, '0')}).status, 401);
  ASSERT_EQ(PostSigned("{}").status, 400);
  ASSERT_EQ(PostSigned(std::string(5000, 'x')).status, 413);
  ASSERT_TRUE(Eventually([&] { return Triggers()[0].state == "succeeded"; }));
  auto m = HttpCall("GET", RelayUrl("/metrics"));
  ASSERT_EQ(m.status, 200);
  const std::string& t = m.body;
  EXPECT_EQ(MetricValue(t, R"(retl_relay_webhooks_total{result="accepted"})"), 1);
  EXPECT_EQ(MetricValue(t, R"(retl_relay_webhooks_total{result="duplicate"})"), 1);
  EXPECT_EQ(MetricValue(t, R"(retl_relay_webhooks_total{result="unauthorized"})"), 1);
  EXPECT_EQ(MetricValue(t, R"(retl_relay_webhooks_total{result="bad_request"})"), 1);
  EXPECT_EQ(MetricValue(t, R"(retl_relay_webhooks_total{result="too_large"})"), 1);
  EXPECT_EQ(MetricValue(t, R"(retl_relay_rudderstack_requests_total{endpoint="start",status_class="2xx"})"), 1);
  EXPECT_EQ(MetricValue(t, R"(retl_relay_syncs_total{outcome="succeeded"})"), 1);
  EXPECT_EQ(MetricValue(t, R"(retl_relay_triggers_total{state="succeeded"})"), 1);
  EXPECT_EQ(MetricValue(t, "retl_relay_webhook_ack_seconds_count"), 2);
  EXPECT_EQ(MetricValue(t, "retl_relay_trigger_start_seconds_count"), 1);
  EXPECT_EQ(MetricValue(t, "retl_relay_triggers_pending"), 0);
  EXPECT_EQ(MetricValue(t, R"(retl_relay_connections{phase="idle"})"), 1);
  EXPECT_EQ(t.find(kToken), std::string::npos);
  EXPECT_EQ(t.find(kSecret), std::string::npos);

  if (system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "promtool not installed (scripts/install-deps.sh --test)";
  std::ofstream(dir_.File("metrics.txt")) << t;
  const std::string cmd = "promtool check metrics < " + dir_.File("metrics.txt") + " > " + dir_.File("promtool.out") + " 2>&1";
  EXPECT_EQ(system(cmd.c_str()), 0) << testing::ReadFileBytes(dir_.File("promtool.out"));
}

TEST_F(RelayIntegrationTest, ReadyzFollowsTheStore) {
  EXPECT_EQ(HttpCall("GET", RelayUrl("/readyz")).status, 200);
  EXPECT_EQ(HttpCall("GET", RelayUrl("/healthz")).body, R"({"status":"ok"})");
  // Another process holds the database's write lock: the relay cannot commit, so it is not ready.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.File("relay.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto locked = HttpCall("GET", RelayUrl("/readyz"));
  EXPECT_EQ(locked.status, 503);
  EXPECT_NE(locked.body.find("store: "), std::string::npos) << locked.body;
  EXPECT_EQ(PostSigned(Payload()).status, 503) << "never 200 without a commit";
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(HttpCall("GET", RelayUrl("/readyz")).status, 200);
  EXPECT_EQ(PostSigned(Payload()).status, 200);
}

TEST_F(RelayIntegrationTest, LogsAreJsonWithIdsAndNoSecrets) {
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_EQ(HttpCall("POST", RelayUrl(), Payload(), {"Authorization: " + std::string(64, 'a')}).status, 401);
  ASSERT_TRUE(Eventually([&] { return Triggers()[0].state == "succeeded"; }));
  ASSERT_EQ(Admin("GET", "status").status, 200);
  EXPECT_EQ(relay_->Stop(SIGTERM), 0);
  const std::string logs = testing::ReadFileBytes(dir_.File("relay.log"));
  std::istringstream in(logs);
  std::string line;
  std::set<std::string> messages;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    ASSERT_TRUE(v.is_object());
    for (const char* key : {"ts", "level", "msg"}) ASSERT_TRUE(v.as_object().contains(key)) << line;
    const std::string msg(v.at("msg").as_string());
    messages.insert(msg);
    if (msg == "webhook accepted") {
      for (const char* key : {"event_id", "run_id", "job_id"}) EXPECT_TRUE(v.as_object().contains(key)) << line;
    }
    if (msg == "sync started" || msg == "sync succeeded") {
      for (const char* key : {"connection_id", "sync_id"}) EXPECT_TRUE(v.as_object().contains(key)) << line;
    }
    if (msg == "sync started" || msg == "start succeeded") {
      for (const char* key : {"start_id", "triggers", "seq"}) EXPECT_TRUE(v.as_object().contains(key)) << line;
    }
  }
  EXPECT_GT(lines, 5);
  for (const char* m : {"webhook accepted", "webhook rejected: bad signature", "sync started", "sync succeeded",
                        "start succeeded", "connection phase", "shutting down"}) {
    EXPECT_TRUE(messages.count(m)) << "missing log line: " << m;
  }
  for (const char* secret : {kSecret, kToken, kAdminToken}) EXPECT_EQ(logs.find(secret), std::string::npos) << secret;
}

TEST_F(RelayIntegrationTest, SigtermExitsCleanly) {
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  EXPECT_EQ(relay_->Stop(SIGTERM), 0);
  EXPECT_EQ(*OpenStore()->CountEvents(), 1);
}

// An orchestrator may stop the relay the moment it looks started (the port file is written):
// that SIGTERM must give a clean exit, not the default action's 143 (seen once in CI).
TEST_F(RelayIntegrationTest, SigtermRightAfterThePortFileExitsCleanly) {
  ASSERT_EQ(relay_->Stop(SIGTERM), 0);
  for (int i = 0; i < 10; ++i) {
    const std::string port_file = dir_.File("early.port");
    std::remove(port_file.c_str());
    Process relay({RelayBinary(), "serve", "--config", dir_.File("relay.toml"), "--port-file", port_file}, Env(),
                  dir_.File("early.log"));
    // Poll far tighter than WaitForPortFile so the signal lands right after the file appears.
    bool written = false;
    for (int spins = 0; spins < 50000 && !written; ++spins) {
      written = !testing::ReadFileBytes(port_file).empty();
      if (!written) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    ASSERT_TRUE(written) << testing::ReadFileBytes(dir_.File("early.log"));
    EXPECT_EQ(relay.Stop(SIGTERM), 0) << "round " << i << "; log: " << testing::ReadFileBytes(dir_.File("early.log"));
  }
}

// SIGTERM under load, with the dispatcher stuck in a slow /start that RudderStack performed:
// the relay stops accepting, answers what it read, abandons the call, exits 0 quickly, and
// after a restart every acknowledged webhook is stored, the abandoned start is adopted (not
// sent again) and every trigger ends.
TEST_F(RelayIntegrationTest, GracefulShutdownUnderLoadLosesNothingAndStartsNothingTwice) {
  // A request timeout far above the bound asserted below: only the shutdown abort can meet it.
  ASSERT_EQ(relay_->Stop(SIGTERM), 0);
  std::string config = testing::ReadFileBytes(dir_.File("relay.toml"));
  const std::string old_timeout = "request_timeout = \"2s\"";
  config.replace(config.find(old_timeout), old_timeout.size(), "request_timeout = \"30s\"");
  std::ofstream(dir_.File("relay.toml")) << config;
  StartRelay();
  InjectFault(R"({"endpoint":"start","status":200,"perform":true,"latency_ms":10000})");
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] { return Starts().size() == 1; }));  // the slow start is in progress
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<bool> done{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (int i = 0; !done; ++i) {
        dbt::PayloadSpec spec;
        spec.event_id = "wev_shutdown_" + std::to_string(t) + "_" + std::to_string(i);
        std::string body = dbt::BuildPayload(spec, rng);
        auto r = HttpCall("POST", RelayUrl(), body, {"Authorization: " + dbt::SignBody(body, kSecret)});
        if (r.status == 200) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.push_back(spec.event_id);
        }
        if (r.status == 0) return;  // the listener is gone
      }
    });
  }
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return acknowledged.size() >= 20;
  })) << "load before the signal";
  const auto stop_at = std::chrono::steady_clock::now();
  EXPECT_EQ(relay_->Stop(SIGTERM, std::chrono::seconds(15)), 0);
  const auto took = std::chrono::steady_clock::now() - stop_at;
  // Not the 10 s the fake holds the call, nor the 30 s request timeout: the call is abandoned
  // within about a second (slack for sanitizer builds on a busy machine).
  EXPECT_LT(took, std::chrono::milliseconds(4000));
  done = true;
  for (std::thread& t : senders) t.join();
  EXPECT_GT(acknowledged.size(), 10u);
  EXPECT_EQ(HttpCall("POST", RelayUrl(), Payload()).status, 0) << "still accepting after exit";

  StartRelay();
  auto store = OpenStore();
  for (const std::string& id : acknowledged) EXPECT_TRUE(store->GetEvent(id)->has_value()) << id;
  ASSERT_TRUE(Eventually(
      [&] {
        auto triggers = Triggers();
        for (const auto& t : triggers) {
          if (t.state != "succeeded") return false;
        }
        return !triggers.empty();
      },
      std::chrono::seconds(20)));
  // Every start RudderStack performed is a sync the store knows, and the first one (abandoned
  // at shutdown) was adopted rather than started again.
  std::set<std::string> known;
  for (const auto& t : Triggers()) known.insert(t.sync_id);
  size_t performed = 0;
  for (const auto& s : Starts()) {
    if (!s.at("performed").as_bool() || s.at("real_status").as_int64() != 200) continue;
    ++performed;
  }
  EXPECT_EQ(performed, known.size());
  EXPECT_TRUE(known.count("sync_1"));
}

TEST(RelayZeroConfigTest, SeedVariablesAloneNeedASecretOrExplicitUnsigned) {
  testing::TempDir dir;
  Process relay({RelayBinary(), "serve", "--listen", "127.0.0.1:0"},
                {{"RUDDERSTACK_API_TOKEN", "test-token"}, {"RETL_CONNECTION_ID", "c"}, {"RETL_RELAY_STORE_URL", "sqlite://" + dir.File("z.db")}},
                dir.File("relay.log"));
  EXPECT_EQ(relay.Wait(std::chrono::seconds(10)), 1);
  EXPECT_NE(testing::ReadFileBytes(dir.File("relay.log")).find("dbt.webhook_secret"), std::string::npos);
}

TEST(SandboxTest, WebhookInSyncSucceededLineOut) {
  testing::TempDir dir;
  Process sandbox({RelayBinary(), "sandbox", "--port", "0", "--port-file", dir.File("port"), "--sync-duration", "300ms"},
                  {}, dir.File("out"));
  ASSERT_GT(testing::WaitForPortFile(dir.File("port")), 0) << testing::ReadFileBytes(dir.File("out"));
  std::string out;
  ASSERT_TRUE(Eventually([&] {
    out = testing::ReadFileBytes(dir.File("out"));
    return out.find("send-test --url") != std::string::npos;
  }));
  // The printed command, as a user would paste it: DBT_WEBHOOK_SECRET=… BIN send-test --url URL
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(DBT_WEBHOOK_SECRET=(\S+) (\S+) send-test --url (\S+))"))) << out;
  auto sent = testing::RunCommand({"send-test", "--url", m[3].str()}, {{"DBT_WEBHOOK_SECRET", m[1].str()}});
  ASSERT_EQ(sent.exit_code, 0) << sent.out << sent.err;
  EXPECT_NE(sent.out.find("HTTP 200"), std::string::npos);
  ASSERT_TRUE(Eventually([&] {
    return testing::ReadFileBytes(dir.File("out")).find("trigger 1 → sandbox_connection: succeeded (sync sync_1)") !=
           std::string::npos;
  })) << testing::ReadFileBytes(dir.File("out"));
  EXPECT_EQ(sandbox.Stop(SIGTERM), 0);
}

TEST(RelayZeroConfigTest, AdminApiIsOffWithoutAToken) {
  testing::TempDir dir;
  Process relay({RelayBinary(), "serve", "--listen", "127.0.0.1:0", "--port-file", dir.File("relay.port")},
                {{"RUDDERSTACK_API_TOKEN", "test-token"}, {"RETL_CONNECTION_ID", "c"}, {"DBT_WEBHOOK_SECRET", "test-secret"},
                 {"RETL_RELAY_STORE_URL", "sqlite://" + dir.File("z.db")}},
                dir.File("relay.log"));
  int port = testing::WaitForPortFile(dir.File("relay.port"));
  ASSERT_GT(port, 0);
  auto r = HttpCall("GET", "http://127.0.0.1:" + std::to_string(port) + "/api/v1/status", "", {"Authorization: Bearer x"});
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("admin API is off"), std::string::npos);
}

TEST(RelayZeroConfigTest, SeedVariablesStartTheConnection) {
  testing::TempDir dir;
  Process fake({RelayBinary(), "fake-rudderstack", "--port-file", dir.File("fake.port")}, {{"RUDDERSTACK_API_TOKEN", "test-token"}},
               dir.File("fake.log"));
  int fake_port = testing::WaitForPortFile(dir.File("fake.port"));
  ASSERT_GT(fake_port, 0);
  Process relay({RelayBinary(), "serve", "--listen", "127.0.0.1:0", "--port-file", dir.File("relay.port")},
                {{"RUDDERSTACK_API_TOKEN", "test-token"}, {"RETL_CONNECTION_ID", "2seedconn"}, {"DBT_WEBHOOK_SECRET", "test-secret"},
                 {"RUDDERSTACK_API_BASE", "http://127.0.0.1:" + std::to_string(fake_port)},
                 {"RETL_RELAY_STORE_URL", "sqlite://" + dir.File("z.db")}},
                dir.File("relay.log"));
  int port = testing::WaitForPortFile(dir.File("relay.port"));
  ASSERT_GT(port, 0) << testing::ReadFileBytes(dir.File("relay.log"));
  std::string body = testing::ReadFileBytes(testing::TestdataPath("completed.body"));
  auto r = HttpCall("POST", "http://127.0.0.1:" + std::to_string(port) + "/webhook", body,
                    {"Authorization: " + dbt::SignBody(body, "test-secret")});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(Eventually([&] {
    auto calls = HttpCall("GET", "http://127.0.0.1:" + std::to_string(fake_port) + "/_fake/calls");
    return calls.body.find("/v2/retl-connections/2seedconn/start") != std::string::npos;
  }));
}

// Reconciliation (#16) against the real `retl-relay fake-dbt-cloud`: reconcile_interval 1 s.
class ReconcileTest : public RelayIntegrationTest {
 protected:
  void SetUp() override {
    dbt_ = std::make_unique<Process>(
        std::vector<std::string>{RelayBinary(), "fake-dbt-cloud", "--port-file", dir_.File("dbt.port"), "--account-id",
                                 "1"},
        std::map<std::string, std::string>{{"DBT_CLOUD_API_TOKEN", kDbtToken}}, dir_.File("dbt.log"));
    dbt_port_ = testing::WaitForPortFile(dir_.File("dbt.port"));
    ASSERT_GT(dbt_port_, 0) << "fake dbt cloud did not start";
    extra_config_ = "[dbt_cloud]\napi_base = \"http://127.0.0.1:" + std::to_string(dbt_port_) +
                    "\"\naccount_id = \"1\"\nreconcile_interval = \"1s\"\ngrace = \"0s\"\n" + dbt_cloud_extra_;
    RelayIntegrationTest::SetUp();
    // The first pass sets the watermark: runs finished after it count.
    ASSERT_TRUE(Eventually([&] { return LogCount("watermark set") >= 1; })) << testing::ReadFileBytes(dir_.File("relay.log"));
  }
  std::string DbtUrl(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(dbt_port_) + path; }
  // A run of job 123 that finished now with `status` in the fake dbt Cloud; returns its id.
  std::string FinishRun(int status = 10) {
    auto r = HttpCall("POST", DbtUrl("/_fake/runs"), "{\"job_id\":123,\"status\":" + std::to_string(status) + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    return std::to_string(json::parse(r.body).at("id").as_int64());
  }
  std::string RunPayload(const std::string& run_id, int code = 10) {
    dbt::PayloadSpec spec;
    spec.run_status_code = code;
    spec.run_id = run_id;
    return dbt::BuildPayload(spec, rng_);
  }
  size_t LogCount(const std::string& needle) {
    const std::string log = testing::ReadFileBytes(dir_.File("relay.log"));
    size_t n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  }
  bool HasEvent(const std::string& id) { return OpenStore()->GetEvent(id)->has_value(); }

  std::string dbt_cloud_extra_;
  std::unique_ptr<Process> dbt_;
  int dbt_port_ = 0;
};

TEST_F(ReconcileTest, AMissedRunStartsItsSyncAndItsLateWebhookIsADuplicate) {
  const std::string run = FinishRun();
  const std::string event = "reconcile-" + run + "-10";
  ASSERT_TRUE(Eventually([&] { return HasEvent(event); }, std::chrono::seconds(5)))
      << testing::ReadFileBytes(dir_.File("relay.log"));
  ASSERT_TRUE(Eventually([&] { return SuccessfulStarts() == 1; })) << testing::ReadFileBytes(dir_.File("relay.log"));
  auto ev = Admin("GET", "events/" + event);
  ASSERT_EQ(ev.status, 200) << ev.body;
  EXPECT_EQ(json::parse(ev.body).at("source").as_string(), "reconcile");
  EXPECT_EQ(json::parse(ev.body).at("triggers").as_array().size(), 1u);
  // dbt's webhook for the same run arrives after all (its retries outlived the outage).
  auto late = PostSigned(RunPayload(run));
  ASSERT_EQ(late.status, 200) << late.body;
  EXPECT_NE(late.body.find("\"status\":\"duplicate\""), std::string::npos) << late.body;
  ASSERT_TRUE(WaitForReconcilePasses(2)) << "two passes that saw the run, after the late webhook";
  EXPECT_EQ(SuccessfulStarts(), 1u);
  EXPECT_EQ(Triggers().size(), 1u);
  auto listed = Cli({"events"});
  EXPECT_NE(listed.out.find("reconcile"), std::string::npos) << listed.out;
  auto checked = Cli({"check-config"});
  EXPECT_NE(checked.out.find("dbt cloud:"), std::string::npos) << checked.out;
  for (const std::string& out : {testing::ReadFileBytes(dir_.File("relay.log")), listed.out, checked.out, checked.err}) {
    EXPECT_EQ(out.find(kDbtToken), std::string::npos) << "the dbt Cloud token never shows";
  }
}

TEST_F(ReconcileTest, ARunWhoseWebhookArrivedIsNeverReconciled) {
  const std::string run = FinishRun();
  auto hook = PostSigned(RunPayload(run));  // within the same interval as the run's end
  ASSERT_EQ(hook.status, 200) << hook.body;
  ASSERT_TRUE(Eventually([&] { return SuccessfulStarts() == 1; }));
  ASSERT_TRUE(WaitForReconcilePasses(2)) << "two passes see the run";
  EXPECT_FALSE(HasEvent("reconcile-" + run + "-10"));
  EXPECT_EQ(*OpenStore()->CountEvents(), 1);
  EXPECT_EQ(SuccessfulStarts(), 1u);
}

TEST_F(ReconcileTest, A429And5xxStormBacksOffIsLoggedOncePerChangeAndTheRunIsCaughtAfter) {
  ASSERT_EQ(HttpCall("POST", DbtUrl("/_fake/faults"), R"({"endpoint":"list","status":429,"times":3,"retry_after":1})").status,
            200);
  ASSERT_EQ(HttpCall("POST", DbtUrl("/_fake/faults"), R"({"endpoint":"list","status":503,"times":2})").status, 200);
  const std::string run = FinishRun();
  // Webhooks are unaffected meanwhile.
  auto other = PostSigned(Payload());
  EXPECT_EQ(other.status, 200) << other.body;
  ASSERT_TRUE(Eventually([&] { return HasEvent("reconcile-" + run + "-10"); }, std::chrono::seconds(60)))
      << testing::ReadFileBytes(dir_.File("relay.log"));
  EXPECT_EQ(LogCount("reconcile pass failed"), 2u) << "each distinct failure (429, then 503) is logged once";
  // Logged once the pass that stored the event has returned: wait for it.
  EXPECT_TRUE(Eventually([&] { return LogCount("dbt Cloud answers again") == 1; }));
  auto metrics = HttpCall("GET", RelayUrl("/metrics"), "", {std::string("Authorization: Bearer ") + kAdminToken});
  EXPECT_NE(metrics.body.find(R"(retl_relay_dbt_cloud_requests_total{endpoint="runs_list",result="429"} 3)"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(R"(retl_relay_dbt_cloud_requests_total{endpoint="runs_list",result="5xx"} 2)"),
            std::string::npos);
  EXPECT_NE(metrics.body.find(R"(retl_relay_reconciled_events_total{triggered="true"} 1)"), std::string::npos);
}

TEST_F(ReconcileTest, ReconcileOnceByHandPrintsWhatItFound) {
  // Stop the relay's own passes: the CLI's pass must be the one that finds the run.
  relay_->Stop();
  const std::string run = FinishRun();
  auto r = Cli({"reconcile", "--once"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("reconcile-" + run + "-10"), std::string::npos) << r.out;
  auto again = Cli({"reconcile", "--once", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  json::value v = json::parse(again.out);
  EXPECT_TRUE(v.at("created").as_array().empty());
  EXPECT_EQ(v.at("already_recorded").as_int64(), 1);
  auto usage = Cli({"reconcile"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("--once"), std::string::npos);
}

class ReconcileBadTokenTest : public ReconcileTest {
 protected:
  void SetUp() override {
    // The fake accepts kDbtToken only; the relay sends another.
    dbt_cloud_extra_ = "token = \"not-the-token\"\n";
    ReconcileTest::SetUp();
  }
};

TEST_F(ReconcileBadTokenTest, ARefusedTokenIsReportedOnceWithTheFix) {
  FinishRun();
  ASSERT_TRUE(Eventually([&] { return LogCount("reconcile pass failed") >= 1; }, std::chrono::seconds(5)));
  ASSERT_TRUE(WaitForMore({R"(retl_relay_reconcile_passes_total{result="error"})"}, 2)) << "two more refused passes";
  EXPECT_EQ(LogCount("reconcile pass failed"), 1u);
  const std::string log = testing::ReadFileBytes(dir_.File("relay.log"));
  EXPECT_NE(log.find("DBT_CLOUD_API_TOKEN"), std::string::npos) << "the fix names the setting";
  EXPECT_EQ(log.find("not-the-token"), std::string::npos) << "the token never reaches the log";
  auto r = Cli({"reconcile", "--once"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("fix:"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("not-the-token"), std::string::npos);
}

class VerifyRunsTest : public ReconcileTest {
 protected:
  void SetUp() override {
    dbt_cloud_extra_ = "verify_runs = true\n";
    ReconcileTest::SetUp();
  }
};

TEST_F(VerifyRunsTest, AForgedButSignedSuccessStartsNothingAndARealOneStarts) {
  const std::string errored = FinishRun(20);
  auto forged = PostSigned(RunPayload(errored, 10));  // signed, but the run errored
  ASSERT_EQ(forged.status, 200) << forged.body;
  EXPECT_NE(forged.body.find("\"verification\":\"pending\""), std::string::npos) << forged.body;
  const std::string good = FinishRun(10);
  auto real = PostSigned(RunPayload(good, 10));
  ASSERT_EQ(real.status, 200) << real.body;
  ASSERT_TRUE(Eventually([&] { return SuccessfulStarts() == 1; })) << testing::ReadFileBytes(dir_.File("relay.log"));
  json::value v = json::parse(Admin("GET", "events?limit=10").body);
  std::map<std::string, std::string> states;
  for (const auto& e : v.at("events").as_array()) {
    if (e.at("verification").is_object()) {
      states[std::string(e.at("run_id").is_int64() ? std::to_string(e.at("run_id").as_int64()) : "")] =
          std::string(e.at("verification").at("state").as_string());
    }
  }
  EXPECT_EQ(states[errored], "corrected");
  EXPECT_EQ(states[good], "confirmed");
  ASSERT_TRUE(WaitForReconcilePasses(2));
  EXPECT_EQ(Triggers().size(), 1u) << "the forged success made no trigger";
  EXPECT_EQ(SuccessfulStarts(), 1u) << "the forged success started nothing";
  EXPECT_FALSE(HasEvent("reconcile-" + errored + "-20")) << "the corrected event records the run's real outcome";
  // Replaying the corrected event would act on the forged status: refused.
  std::string forged_id = std::string(json::parse(forged.body).at("event_id").as_string());
  auto replay = Cli({"replay", forged_id});
  EXPECT_EQ(replay.exit_code, 1);
  EXPECT_NE(replay.err.find("corrected"), std::string::npos) << replay.err;
}

}  // namespace
}  // namespace relay

namespace relay {
namespace {

// ---- alerts --------------------------------------------------------------------------------

constexpr char kAlertSecret[] = "alert-signing-secret-0123";

class AlertTest : public RelayIntegrationTest {
 protected:
  void SetUp() override {
    sink_ = std::make_unique<Process>(
        std::vector<std::string>{RelayBinary(), "fake-alert-sink", "--port-file", dir_.File("sink.port")},
        std::map<std::string, std::string>{}, dir_.File("sink.log"));
    sink_port_ = testing::WaitForPortFile(dir_.File("sink.port"));
    ASSERT_GT(sink_port_, 0) << "fake alert sink did not start";
    fake_outcome_ = "failed";
    extra_config_ = "[[alert]]\nname = \"ops-webhook\"\nkind = \"webhook\"\nurl = \"" + SinkUrl("/hooks/retl") + "\"\nsecret = \"" +
                    kAlertSecret + "\"\non = [" + webhook_on_ + "]\nmin_interval = \"" + min_interval_ +
                    "\"\n[[alert]]\nname = \"team-slack\"\nkind = \"slack\"\nurl = \"" +
                    SinkUrl("/services/T000/B000/SLACKTOKENXYZ") + "\"\non = [\"trigger_dead\"]\n" + alert_extra_;
    RelayIntegrationTest::SetUp();
  }
  std::string SinkUrl(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(sink_port_) + path; }
  // What the sink received on `path`, as parsed bodies with their signatures.
  std::vector<std::pair<json::object, std::string>> Received(const std::string& path) {
    std::vector<std::pair<json::object, std::string>> out;
    auto r = HttpCall("GET", SinkUrl("/_fake/received"));
    if (r.status != 200) return out;
    const json::value v = json::parse(r.body);  // named: the loop below refers into it
    for (const auto& e : v.at("received").as_array()) {
      if (e.at("path").as_string() != path) continue;
      const std::string body(e.at("body").as_string());
      EXPECT_EQ(std::string(e.at("signature").as_string()), path == "/hooks/retl" ? "sha256=" + dbt::SignBody(body, kAlertSecret) : "")
          << "signed with the sink's secret, over the exact body";
      out.emplace_back(json::parse(body).as_object(), std::string(e.at("signature").as_string()));
    }
    return out;
  }

  // True once both sinks have handled every alert stored (delivered it, or do not want it) and
  // are not retrying: a sink's position only moves forward, so nothing stored is sent again.
  bool AllHandled() {
    auto store = OpenStore();
    auto alerts = store->AlertsAfter(0, 1000);
    auto sinks = store->ListAlertSinks();
    if (!alerts.ok() || !sinks.ok() || alerts->empty() || sinks->size() != 2) return false;
    for (const store::AlertSinkState& sink : *sinks) {
      if (sink.last_alert_id < alerts->back().id || sink.attempts != 0) return false;
    }
    return true;
  }

  std::string min_interval_ = "1m";
  std::string webhook_on_ = "\"sync_failed\", \"trigger_dead\"";
  std::string alert_extra_;
  std::unique_ptr<Process> sink_;
  int sink_port_ = 0;
};

TEST_F(AlertTest, AFailedSyncSendsOneSignedAlertNamingTheRunAndTheSync) {
  const std::string body = Payload();
  auto hook = PostSigned(body);
  ASSERT_EQ(hook.status, 200) << hook.body;
  const std::string event_id(json::parse(hook.body).at("event_id").as_string());
  const std::string run_id(json::parse(body).at("data").at("runId").as_string());
  ASSERT_TRUE(Eventually([&] { return Received("/hooks/retl").size() == 1; }, std::chrono::seconds(10)))
      << testing::ReadFileBytes(dir_.File("relay.log"));
  const json::object a = Received("/hooks/retl")[0].first;
  EXPECT_EQ(a.at("kind").as_string(), "sync_failed");
  EXPECT_EQ(a.at("connection_id").as_string(), "conn_main");
  EXPECT_FALSE(a.at("sync_id").as_string().empty());
  EXPECT_FALSE(a.at("error").as_string().empty()) << "RudderStack's error";
  ASSERT_EQ(a.at("event_ids").as_array().size(), 1u);
  EXPECT_EQ(a.at("event_ids").as_array()[0].as_string(), event_id);
  EXPECT_EQ(a.at("run_ids").as_array()[0].as_string(), run_id);
  EXPECT_NE(a.at("summary").as_string().find("failed"), std::string::npos);
  EXPECT_FALSE(a.at("at").as_string().empty());
  ASSERT_TRUE(Eventually([&] { return AllHandled(); })) << "both sinks past the alert";
  EXPECT_EQ(Received("/hooks/retl").size(), 1u) << "delivered once";
  EXPECT_TRUE(Received("/services/T000/B000/SLACKTOKENXYZ").empty()) << "the Slack sink wants trigger_dead only";
  auto metrics = HttpCall("GET", RelayUrl("/metrics"), "", {std::string("Authorization: Bearer ") + kAdminToken});
  EXPECT_NE(metrics.body.find(R"(retl_relay_alerts_total{sink="ops-webhook",result="delivered"} 1)"), std::string::npos)
      << metrics.body;
}

TEST_F(AlertTest, ASinkAnswering500IsRetriedAndGetsTheAlertOnce) {
  ASSERT_EQ(HttpCall("POST", SinkUrl("/_fake/faults"), R"({"status":500,"times":1})").status, 200);
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] { return Received("/hooks/retl").size() == 1; }, std::chrono::seconds(20)))
      << testing::ReadFileBytes(dir_.File("relay.log"));
  ASSERT_TRUE(Eventually([&] { return AllHandled(); })) << "both sinks past the alert, the retry over";
  EXPECT_EQ(Received("/hooks/retl").size(), 1u);
  const std::string log = testing::ReadFileBytes(dir_.File("relay.log"));
  EXPECT_NE(log.find("alert sink did not answer; will retry"), std::string::npos) << log;
  EXPECT_EQ(log.find("SLACKTOKENXYZ"), std::string::npos) << "a Slack URL never reaches the log";
}

TEST_F(AlertTest, ADeadTriggerReachesSlackAsText) {
  // Both sinks fail their first try: the Slack URL must not show in the log nor in the stored error.
  ASSERT_EQ(HttpCall("POST", SinkUrl("/_fake/faults"), R"({"status":500,"times":2})").status, 200);
  InjectFault(R"({"endpoint":"start","status":404,"times":1})");
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  const std::string slack = "/services/T000/B000/SLACKTOKENXYZ";
  ASSERT_TRUE(Eventually([&] { return Received(slack).size() == 1; }, std::chrono::seconds(20)))
      << testing::ReadFileBytes(dir_.File("relay.log"));
  const std::string log = testing::ReadFileBytes(dir_.File("relay.log"));
  EXPECT_NE(log.find("alert sink did not answer; will retry"), std::string::npos) << log;
  EXPECT_EQ(log.find("SLACKTOKENXYZ"), std::string::npos) << log;
  const std::vector<store::AlertSinkState> sinks = *OpenStore()->ListAlertSinks();
  for (const store::AlertSinkState& st : sinks) {
    EXPECT_EQ(st.last_error.find("SLACKTOKENXYZ"), std::string::npos) << st.last_error;
  }
  const json::object m = Received(slack)[0].first;
  ASSERT_EQ(m.size(), 1u) << "Slack's incoming-webhook shape: {\"text\": …}";
  const std::string text(m.at("text").as_string());
  EXPECT_NE(text.find("trigger_dead"), std::string::npos) << text;
  EXPECT_NE(text.find("conn_main"), std::string::npos) << text;
  EXPECT_NE(text.find("404"), std::string::npos) << text;
  // The webhook sink wants trigger_dead too.
  ASSERT_TRUE(Eventually([&] { return Received("/hooks/retl").size() == 1; }, std::chrono::seconds(20)));
  EXPECT_EQ(Received("/hooks/retl")[0].first.at("kind").as_string(), "trigger_dead");
}

TEST_F(AlertTest, SendTestAlertReportsEachSinkAndRedactsItsUrl) {
  auto r = Cli({"send-test-alert"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ops-webhook"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("team-slack"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HTTP 200"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("SLACKTOKENXYZ"), std::string::npos) << "the Slack URL is a credential";
  ASSERT_EQ(Received("/hooks/retl").size(), 1u);
  EXPECT_EQ(Received("/hooks/retl")[0].first.at("kind").as_string(), "test");
  ASSERT_EQ(HttpCall("POST", SinkUrl("/_fake/faults"), R"({"status":404,"times":1})").status, 200);
  auto failed = Cli({"send-test-alert", "--json"});
  EXPECT_EQ(failed.exit_code, 1);
  json::value v = json::parse(failed.out);
  EXPECT_FALSE(v.at("ok").as_bool());
  auto checked = Cli({"check-config"});
  EXPECT_EQ(checked.out.find("SLACKTOKENXYZ"), std::string::npos) << checked.out;
  EXPECT_NE(checked.out.find("alert team-slack: slack http://127.0.0.1:"), std::string::npos) << checked.out;
}

class AlertStormTest : public AlertTest {
 protected:
  void SetUp() override {
    min_interval_ = "3s";
    // One route, fifty connections the fake does not know: fifty dead starts at once.
    alert_extra_ = "[[route]]\nname = \"storm\"\njob_ids = [\"777\"]\nconnections = [";
    for (int i = 0; i < 50; ++i) alert_extra_ += (i ? ", \"" : "\"") + std::string("conn_storm_") + std::to_string(i) + "\"";
    alert_extra_ += "]\n";
    AlertTest::SetUp();
  }
};

TEST_F(AlertStormTest, FiftyFailuresInAMinuteBecomeARateLimitedSummary) {
  InjectFault(R"({"endpoint":"start","status":404,"times":50})");
  ASSERT_EQ(PostSigned(Payload("job.run.completed", 10, "", "777")).status, 200);
  int64_t alerts = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        alerts = 0;
        for (const auto& [m, sig] : Received("/hooks/retl")) alerts += m.at("kind").as_string() == "summary" ? m.at("count").as_int64() : 1;
        return alerts == 50;
      },
      std::chrono::seconds(20)))
      << alerts << " alerts; " << testing::ReadFileBytes(dir_.File("relay.log"));
  const auto messages = Received("/hooks/retl");
  EXPECT_LE(messages.size(), 3u) << "a storm is a few messages, not fifty";
  bool summary = false;
  for (const auto& [m, sig] : messages) {
    if (m.at("kind").as_string() != "summary") continue;
    summary = true;
    EXPECT_EQ(m.at("counts").at("trigger_dead").as_int64(), m.at("count").as_int64());
    EXPECT_LE(m.at("alerts").as_array().size(), 20u);
    EXPECT_NE(m.at("summary").as_string().find("rate-limited"), std::string::npos);
  }
  EXPECT_TRUE(summary);
}

class AlertChecksTest : public AlertTest {
 protected:
  void SetUp() override {
    webhook_on_ = "\"signature_failures\", \"pending_too_long\"";
    min_interval_ = "0s";
    alert_extra_ = "[alerting]\ncheck_interval = \"200ms\"\nsignature_failures = 3\npending_too_long = \"1s\"\n";
    AlertTest::SetUp();
  }
};

TEST_F(AlertChecksTest, ABurstOfBadSignaturesAndATriggerPendingTooLongAreAlertedOnce) {
  for (int i = 0; i < 3; ++i) {
    auto bad = HttpCall("POST", RelayUrl(), Payload(), {"Content-Type: application/json", "Authorization: 00ff"});
    ASSERT_EQ(bad.status, 401);
  }
  auto kinds = [&] {
    std::map<std::string, int> n;
    for (const auto& [m, sig] : Received("/hooks/retl")) ++n[std::string(m.at("kind").as_string())];
    return n;
  };
  ASSERT_TRUE(Eventually([&] { return kinds()["signature_failures"] == 1; }, std::chrono::seconds(10)))
      << testing::ReadFileBytes(dir_.File("relay.log"));
  EXPECT_NE(Received("/hooks/retl")[0].first.at("summary").as_string().find("rotated"), std::string::npos);
  // RudderStack keeps failing: the trigger stays pending past pending_too_long.
  InjectFault(R"({"endpoint":"start","status":503,"times":1000})");
  ASSERT_EQ(PostSigned(Payload()).status, 200);
  ASSERT_TRUE(Eventually([&] { return kinds()["pending_too_long"] == 1; }, std::chrono::seconds(10)))
      << testing::ReadFileBytes(dir_.File("relay.log"));
  ASSERT_TRUE(WaitForMore({R"(retl_relay_alert_checks_total{result="ok"})"}, 2)) << "two more check passes";
  EXPECT_EQ(kinds()["pending_too_long"], 1) << "once per trigger that crosses the line";
  EXPECT_EQ(kinds()["signature_failures"], 1) << "no new burst, no new alert";
  for (const auto& [m, sig] : Received("/hooks/retl")) {
    if (m.at("kind").as_string() == "pending_too_long") {
      EXPECT_EQ(m.at("connection_id").as_string(), "conn_main");
    }
  }
}

// ---- fan-in --------------------------------------------------------------------------------

class FanInTest : public RelayIntegrationTest {
 protected:
  void SetUp() override {
    extra_config_ = "[[route]]\nname = \"customer_360\"\nafter_all = [\"201\", \"202\"]\nwithin = \"6h\"\n"
                    "connections = [\"conn_360\"]\n";
    RelayIntegrationTest::SetUp();
  }
  size_t StartsOf(const std::string& connection) {
    size_t n = 0;
    for (const auto& s : Starts()) n += s.at("status").as_int64() == 200 && s.at("path").as_string().find(connection) != std::string::npos;
    return n;
  }
};

TEST_F(FanInTest, ARunOfEachJobAcrossARestartStartsOneSyncThatRecordsBoth) {
  const std::string a = Payload("job.run.completed", 10, "", "201");
  auto first = PostSigned(a);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.body.find(R"("fan_in":[{"route":"customer_360","fired":false,"waiting_for_jobs":["202"]}])"),
            std::string::npos)
      << first.body;
  // Another run of the same job changes nothing but the progress.
  ASSERT_EQ(PostSigned(Payload("job.run.completed", 10, "", "201")).status, 200);
  EXPECT_TRUE(Triggers().empty()) << "decided at ingest: the route did not fire";
  EXPECT_EQ(StartsOf("conn_360"), 0u);
  auto status = Cli({"status"});
  EXPECT_NE(status.out.find("fan-in route customer_360"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("waiting for jobs 202"), std::string::npos) << status.out;
  std::ofstream(dir_.File("b.json")) << Payload("job.run.completed", 10, "", "202");
  auto explain = Cli({"explain", dir_.File("b.json")});
  EXPECT_NE(explain.out.find("would complete the set and fire the route"), std::string::npos) << explain.out;
  auto api = Admin("GET", "status");
  ASSERT_EQ(api.status, 200);
  EXPECT_EQ(json::parse(api.body).at("fan_in").as_array()[0].at("have").as_array().size(), 2u) << api.body;

  relay_->Stop();  // progress is durable
  StartRelay();
  auto second = PostSigned(testing::ReadFileBytes(dir_.File("b.json")));
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_NE(second.body.find(R"("fired":true)"), std::string::npos) << second.body;
  ASSERT_TRUE(Eventually([&] { return StartsOf("conn_360") == 1; })) << testing::ReadFileBytes(dir_.File("relay.log"));
  const std::string event_id(json::parse(second.body).at("event_id").as_string());
  json::value trail = json::parse(Admin("GET", "events/" + event_id).body);
  const auto& trigger = trail.at("triggers").as_array().at(0);
  EXPECT_EQ(trigger.at("route").as_string(), "customer_360");
  EXPECT_EQ(trigger.at("fan_in_runs").as_array().size(), 3u) << "two runs of 201 and the run of 202";
  auto shown = Cli({"event", event_id});
  EXPECT_NE(shown.out.find("after job 201 run"), std::string::npos) << shown.out;
  EXPECT_EQ(Triggers().size(), 1u) << "decided at ingest: one trigger, so one start";
  EXPECT_EQ(StartsOf("conn_360"), 1u);
  for (const store::Trigger& t : Triggers()) {
    EXPECT_EQ(t.connection_id, "conn_360") << "decided at ingest: the fan-in jobs are not job 123";
  }
  EXPECT_EQ(StartsOf("conn_main"), 0u) << "the fan-in jobs are not job 123";
}

}  // namespace
}  // namespace relay
