// Running where the guide's users run, black-box with real binaries on loopback:
//   - `retl-relay lambda` driven by a fake Lambda Runtime API (test/support/fake_lambda_runtime.h)
//     on a private PostgreSQL database (skipped without RELAY_TEST_PG_URL): signed payload 2.0
//     and 1.0 events, base64 bodies, a bad signature, probes and the admin API, a scheduled
//     event following a sync to its outcome, two lambda processes taking interleaved
//     invocations on one database with no duplicate start, and the init error on SQLite;
//   - `retl-relay doctor` against the fake RudderStack: all good, a bad token, an unknown
//     connection, an unreachable store, a taken listen address;
//   - `retl-relay probe`.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "../support/fake_lambda_runtime.h"
#include "../support/pg.h"
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
using testing::FakeLambdaRuntime;
using testing::HttpCall;
using testing::Process;
using testing::RelayBinary;
using testing::RunCommand;

constexpr char kSecret[] = "deploy-test-secret";
constexpr char kToken[] = "deploy-test-token";

std::string Base64(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t n = uint8_t(bytes[i]) << 16;
    out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

// An API Gateway HTTP API / function URL event (payload 2.0).
std::string EventV2(const std::string& method, const std::string& path, const std::string& body,
                    const std::map<std::string, std::string>& headers, bool base64 = false) {
  json::object h;
  for (const auto& [k, v] : headers) h[k] = v;
  json::object ev{{"version", "2.0"},
                  {"routeKey", "$default"},
                  {"rawPath", path},
                  {"rawQueryString", ""},
                  {"headers", std::move(h)},
                  {"requestContext", json::object{{"http", json::object{{"method", method}, {"path", path}}},
                                                  {"requestId", "abc"}}},
                  {"isBase64Encoded", base64}};
  if (!body.empty()) ev["body"] = base64 ? Base64(body) : body;
  return json::serialize(ev);
}

// An API Gateway REST API event (payload 1.0): headers keep the client's case.
std::string EventV1(const std::string& method, const std::string& path, const std::string& body,
                    const std::map<std::string, std::string>& headers, bool base64 = false) {
  json::object h, mh;
  for (const auto& [k, v] : headers) {
    h[k] = v;
    mh[k] = json::array{json::value(v)};
  }
  json::object ev{{"resource", "/{proxy+}"},
                  {"path", path},
                  {"httpMethod", method},
                  {"headers", std::move(h)},
                  {"multiValueHeaders", std::move(mh)},
                  {"queryStringParameters", nullptr},
                  {"requestContext", json::object{{"httpMethod", method}, {"stage", "prod"}}},
                  {"body", base64 ? Base64(body) : body},
                  {"isBase64Encoded", base64}};
  return json::serialize(ev);
}

constexpr char kScheduled[] =
    R"({"version":"0","id":"s1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",)"
    R"("time":"2026-11-30T06:00:00Z","region":"eu-west-1","resources":[],"detail":{}})";

class LambdaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!pg_.available()) GTEST_SKIP() << "no PostgreSQL (RELAY_TEST_PG_URL) " << pg_.error();
    fake_ = std::make_unique<Process>(
        std::vector<std::string>{RelayBinary(), "fake-rudderstack", "--port-file", dir_.File("fake.port"),
                                 "--sync-duration", "300ms", "--log-level", "warn"},
        std::map<std::string, std::string>{{"RUDDERSTACK_API_TOKEN", kToken}}, dir_.File("fake.log"));
    fake_port_ = testing::WaitForPortFile(dir_.File("fake.port"));
    ASSERT_GT(fake_port_, 0);
    std::ofstream out(dir_.File("relay.toml"));
    out << "[store]\nurl = \"" << pg_.url() << "\"\n"
        << "[dbt]\nwebhook_secret = \"" << kSecret << "\"\n"
        << "[rudderstack]\napi_base = \"http://127.0.0.1:" << fake_port_ << "\"\ntoken = \"" << kToken
        << "\"\nrequest_timeout = \"2s\"\n"
        << "[admin]\ntoken = \"admin-token\"\n"
        << "[dispatch]\nretry_initial = \"50ms\"\nretry_max = \"500ms\"\nlease = \"5s\"\nsync_poll_interval = \"100ms\"\n";
    for (int c = 0; c < 5; ++c) {
      out << "[[route]]\nname = \"r" << c << "\"\njob_ids = [\"" << 100 + c << "\"]\nconnections = [\"conn_" << c
          << "\"]\n";
    }
  }

  void StartLambda(int i, const std::string& config = "") {
    lambdas_[i] = std::make_unique<Process>(
        std::vector<std::string>{RelayBinary(), "lambda", "--config", config.empty() ? dir_.File("relay.toml") : config,
                                 "--deadline-margin", "1s", "--log-level", "warn"},
        std::map<std::string, std::string>{{"AWS_LAMBDA_RUNTIME_API", runtime_.endpoint()}},
        dir_.File("lambda" + std::to_string(i) + ".log"));
  }
  std::string Log(int i) { return testing::ReadFileBytes(dir_.File("lambda" + std::to_string(i) + ".log")); }

  std::string Webhook(const std::string& job, std::mt19937_64& rng) {
    dbt::PayloadSpec spec;
    spec.job_id = job;
    return dbt::BuildPayload(spec, rng);
  }

  // Invokes and waits for the answer; the proxy response parsed.
  json::object Call(const std::string& event) {
    const std::string id = runtime_.Invoke(event);
    auto answer = runtime_.Await(id);
    EXPECT_TRUE(answer.has_value()) << "no answer; log:\n" << Log(0);
    if (!answer) return {};
    EXPECT_EQ(answer->kind, "response") << answer->body;
    return json::parse(answer->body).as_object();
  }

  json::array FakeCalls() {
    return json::parse(HttpCall("GET", "http://127.0.0.1:" + std::to_string(fake_port_) + "/_fake/calls").body)
        .at("calls")
        .as_array();
  }
  int Starts(const std::string& connection) {
    int n = 0;
    for (const auto& c : FakeCalls()) {
      if (c.at("endpoint").as_string() == "start" && c.at("path").as_string().find("/" + connection + "/") != json::string::npos) {
        ++n;
      }
    }
    return n;
  }

  std::unique_ptr<store::Store> Store() { return std::move(store::OpenStore(pg_.url())).value(); }

  testing::TempPgDatabase pg_;
  testing::TempDir dir_;
  FakeLambdaRuntime runtime_;
  std::unique_ptr<Process> fake_;
  int fake_port_ = 0;
  std::unique_ptr<Process> lambdas_[2];
};

TEST_F(LambdaTest, SignedEventsOfBothFormatsAreAnsweredAsServeAndStartTheSyncInTheSameInvocation) {
  StartLambda(0);
  ASSERT_TRUE(Eventually([&] { return runtime_.Waiting() == 1; })) << Log(0);
  std::mt19937_64 rng(1);
  // Payload 2.0 (function URL), plain body: accepted, and the sync started before the
  // runtime asked for the next invocation (when the sandbox would be frozen).
  const std::string body = Webhook("100", rng);
  const int asks = runtime_.Asks();
  json::object res = Call(EventV2("POST", "/webhooks/dbt", body,
                                  {{"authorization", dbt::SignBody(body, kSecret)}, {"content-type", "application/json"}}));
  ASSERT_EQ(res.at("statusCode").as_int64(), 200) << json::serialize(res) << Log(0);
  EXPECT_EQ(res.at("isBase64Encoded").as_bool(), false);
  EXPECT_EQ(res.at("headers").at("Content-Type").as_string(), "application/json");
  json::value answer = json::parse(res.at("body").as_string());
  EXPECT_EQ(answer.at("status").as_string(), "accepted");
  ASSERT_TRUE(Eventually([&] { return runtime_.Asks() == asks + 1; })) << Log(0);
  EXPECT_EQ(Starts("conn_0"), 1) << "started within the webhook's own invocation";

  // Payload 1.0 (REST API), base64 body, header names in the client's case: the signature is
  // over the decoded bytes.
  const std::string body1 = Webhook("101", rng);
  res = Call(EventV1("POST", "/webhooks/dbt", body1, {{"Authorization", dbt::SignBody(body1, kSecret)}}, true));
  ASSERT_EQ(res.at("statusCode").as_int64(), 200) << json::serialize(res);
  EXPECT_TRUE(Eventually([&] { return Starts("conn_1") == 1; }));

  // Payload 2.0 with a base64 body.
  const std::string body2 = Webhook("102", rng);
  res = Call(EventV2("POST", "/webhooks/dbt", body2, {{"authorization", dbt::SignBody(body2, kSecret)}}, true));
  ASSERT_EQ(res.at("statusCode").as_int64(), 200) << json::serialize(res);
  EXPECT_TRUE(Eventually([&] { return Starts("conn_2") == 1; }));

  // The same delivery again (dbt retries): a duplicate, nothing started.
  res = Call(EventV2("POST", "/webhooks/dbt", body, {{"authorization", dbt::SignBody(body, kSecret)}}));
  EXPECT_EQ(json::parse(res.at("body").as_string()).at("status").as_string(), "duplicate");
  EXPECT_EQ(Starts("conn_0"), 1);

  // Probes and the admin API answer as serve does.
  res = Call(EventV2("GET", "/healthz", "", {}));
  EXPECT_EQ(res.at("statusCode").as_int64(), 200);
  EXPECT_EQ(res.at("body").as_string(), R"({"status":"ok"})");
  res = Call(EventV2("GET", "/readyz", "", {}));
  EXPECT_EQ(res.at("statusCode").as_int64(), 200) << json::serialize(res);
  res = Call(EventV1("GET", "/api/v1/status", "", {{"Authorization", "Bearer admin-token"}}));
  EXPECT_EQ(res.at("statusCode").as_int64(), 200) << json::serialize(res);
  res = Call(EventV2("GET", "/api/v1/status", "", {}));
  EXPECT_EQ(res.at("statusCode").as_int64(), 401);
  res = Call(EventV2("GET", "/nowhere", "", {}));
  EXPECT_EQ(res.at("statusCode").as_int64(), 404);
  EXPECT_EQ(*Store()->CountEvents(), 3);
}

TEST_F(LambdaTest, ABadSignatureIs401AndStoresNothing) {
  StartLambda(0);
  std::mt19937_64 rng(2);
  const std::string body = Webhook("100", rng);
  json::object res = Call(EventV2("POST", "/webhooks/dbt", body, {{"authorization", dbt::SignBody(body, "wrong")}}));
  EXPECT_EQ(res.at("statusCode").as_int64(), 401);
  // Base64 of other bytes than were signed: rejected too.
  res = Call(EventV2("POST", "/webhooks/dbt", body + " ", {{"authorization", dbt::SignBody(body, kSecret)}}, true));
  EXPECT_EQ(res.at("statusCode").as_int64(), 401);
  EXPECT_EQ(*Store()->CountEvents(), 0);
  EXPECT_EQ(Starts("conn_0"), 0);
}

TEST_F(LambdaTest, AScheduledEventFollowsARunningSyncToItsOutcome) {
  // The first poll is due 2 s after the start: no invocation before it can finish the sync.
  std::string config = testing::ReadFileBytes(dir_.File("relay.toml"));
  config.replace(config.find("sync_poll_interval = \"100ms\""), 28, "sync_poll_interval = \"2s\"");
  std::ofstream(dir_.File("relay.toml")) << config;
  StartLambda(0);
  std::mt19937_64 rng(3);
  const std::string body = Webhook("100", rng);
  json::object res = Call(EventV2("POST", "/webhooks/dbt", body, {{"authorization", dbt::SignBody(body, kSecret)}}));
  ASSERT_EQ(res.at("statusCode").as_int64(), 200);
  ASSERT_TRUE(Eventually([&] { return Starts("conn_0") == 1; }));
  // Between invocations nothing runs: the trigger stays "running" until a scheduled event,
  // though the fake's sync ended after 300 ms and the poll is due.
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  auto store = Store();
  EXPECT_EQ(store->ListTriggers("", 10)->at(0).state, "running");
  const std::string id = runtime_.Invoke(kScheduled);
  auto answer = runtime_.Await(id);
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(answer->kind, "response") << answer->body;
  json::value summary = json::parse(answer->body);
  EXPECT_GE(summary.at("dispatch_steps").as_int64(), 1);
  EXPECT_TRUE(summary.at("dispatch_done").as_bool());
  EXPECT_EQ(store->ListTriggers("", 10)->at(0).state, "succeeded") << Log(0);
}

// A RudderStack call that outlives the invocation is abandoned a second before the deadline:
// the runtime gets the sandbox back in time, and a later scheduled pass resolves the ambiguous
// start without starting a second sync.
TEST_F(LambdaTest, TheDeadlineAbandonsASlowStartWhichALaterPassResolves) {
  // A request timeout longer than the invocation: only the deadline can cut the call short.
  std::string config = testing::ReadFileBytes(dir_.File("relay.toml"));
  config.replace(config.find("request_timeout = \"2s\""), 22, "request_timeout = \"20s\"");
  std::ofstream(dir_.File("relay.toml")) << config;
  StartLambda(0);
  const std::string fake = "http://127.0.0.1:" + std::to_string(fake_port_);
  ASSERT_EQ(HttpCall("POST", fake + "/_fake/faults", R"({"endpoint":"start","status":0,"times":1,"latency_ms":6000})").status,
            200);
  std::mt19937_64 rng(5);
  const std::string body = Webhook("100", rng);
  const std::string id = runtime_.Invoke(
      EventV2("POST", "/webhooks/dbt", body, {{"authorization", dbt::SignBody(body, kSecret)}}), std::chrono::milliseconds(2500));
  auto answer = runtime_.Await(id);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(json::parse(answer->body).at("statusCode").as_int64(), 200);
  // The sandbox asks for the next invocation well before the slow call would have ended.
  SystemClock clock;
  const auto asked = clock.SteadyNow();
  auto health = runtime_.Await(runtime_.Invoke(EventV2("GET", "/healthz", "", {})), std::chrono::seconds(10));
  ASSERT_TRUE(health.has_value());
  EXPECT_LT(clock.SteadyNow() - asked, std::chrono::milliseconds(4000)) << "the invocation outlived its deadline";
  auto store = Store();
  ASSERT_TRUE(Eventually(
      [&] {
        runtime_.Await(runtime_.Invoke(kScheduled));
        auto t = *store->ListTriggers("", 10);
        return t.size() == 1 && t[0].state == "succeeded";
      },
      std::chrono::seconds(30)))
      << Log(0);
  int performed = 0;
  for (const auto& c : FakeCalls()) {
    if (c.at("endpoint").as_string() == "start" && c.at("real_status").as_int64() == 200) ++performed;
  }
  EXPECT_EQ(performed, static_cast<int>(store->ListSyncs("", 10)->size())) << "no sync unknown to the store";
}

TEST_F(LambdaTest, TwoLambdaProcessesOnOneDatabaseNeverStartTwice) {
  StartLambda(0);
  StartLambda(1);
  ASSERT_TRUE(Eventually([&] { return runtime_.Waiting() == 2; })) << Log(0) << Log(1);
  std::mt19937_64 rng(4);
  constexpr int kWebhooks = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < kWebhooks; ++i) {
    const std::string body = Webhook(std::to_string(100 + i % 5), rng);
    ids.push_back(runtime_.Invoke(EventV2("POST", "/webhooks/dbt", body, {{"authorization", dbt::SignBody(body, kSecret)}})));
    if (i % 4 == 3) ids.push_back(runtime_.Invoke(kScheduled));
  }
  std::set<std::string> instances;  // which process answered each scheduled event
  for (const std::string& id : ids) {
    auto a = runtime_.Await(id);
    ASSERT_TRUE(a.has_value()) << Log(0) << Log(1);
    ASSERT_EQ(a->kind, "response") << a->body;
    json::value v = json::parse(a->body);
    if (v.as_object().contains("instance")) instances.insert(std::string(v.at("instance").as_string()));
  }
  EXPECT_EQ(runtime_.Taken(), static_cast<int>(ids.size()));
  EXPECT_EQ(instances.size(), 2u) << "both processes took invocations";
  // Scheduled passes until every trigger's sync has finished.
  auto store = Store();
  ASSERT_TRUE(Eventually(
      [&] {
        runtime_.Await(runtime_.Invoke(kScheduled));
        auto t = *store->ListTriggers("", 1000);
        return static_cast<int>(t.size()) == kWebhooks &&
               std::all_of(t.begin(), t.end(), [](const auto& x) { return x.state == "succeeded"; });
      },
      std::chrono::seconds(60)))
      << Log(0) << Log(1);
  int performed = 0;
  for (const auto& c : FakeCalls()) {
    if (c.at("endpoint").as_string() == "start" && c.at("real_status").as_int64() == 200) ++performed;
  }
  std::set<std::string> store_syncs, covering;
  const std::vector<store::Sync> syncs = *store->ListSyncs("", 1000);
  const std::vector<store::Trigger> triggers = *store->ListTriggers("", 1000);
  for (const auto& s : syncs) store_syncs.insert(s.connection_id + "/" + s.sync_id);
  for (const auto& t : triggers) covering.insert(t.connection_id + "/" + t.sync_id);
  EXPECT_EQ(static_cast<int>(store_syncs.size()), performed) << "no sync unknown to the store";
  EXPECT_EQ(covering, store_syncs) << "every started sync covers triggers: none was started twice";
}

TEST_F(LambdaTest, AnUnsupportedEventIsAnInvocationError) {
  StartLambda(0);
  const std::string id = runtime_.Invoke(R"({"Records":[{"eventSource":"aws:s3"}]})");
  auto a = runtime_.Await(id);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->kind, "error");
  EXPECT_EQ(a->error_type, "Relay.UnsupportedEvent");
  EXPECT_NE(json::parse(a->body).at("errorMessage").as_string().find("unsupported event"), json::string::npos);
  // A header too large for any HTTP server: 431, as serve answers it.
  EXPECT_EQ(Call(EventV2("POST", "/webhooks/dbt", "{}", {{"x-big", std::string(70000, 'a')}})).at("statusCode").as_int64(),
            431);
  // A HEAD has the headers of the GET and no body.
  json::object head = Call(EventV2("HEAD", "/healthz", "", {}));
  EXPECT_EQ(head.at("statusCode").as_int64(), 200);
  EXPECT_EQ(head.at("body").as_string(), "");
  // The process goes on serving.
  EXPECT_EQ(Call(EventV2("GET", "/healthz", "", {})).at("statusCode").as_int64(), 200);
}

// Needs no PostgreSQL: the SQLite store is refused before anything is opened.
TEST(LambdaInitTest, ASqliteStoreIsAnInitErrorThatSaysWhy) {
  testing::TempDir dir;
  FakeLambdaRuntime runtime;
  std::ofstream(dir.File("relay.toml")) << "[store]\nurl = \"sqlite://" << dir.File("relay.db") << "\"\n"
                                        << "[dbt]\nwebhook_secret = \"test-secret\"\n[rudderstack]\ntoken = \"test-token\"\n"
                                        << "[[route]]\nname = \"r\"\nconnections = [\"c1\"]\n";
  auto r = RunCommand({"lambda", "--config", dir.File("relay.toml")}, {{"AWS_LAMBDA_RUNTIME_API", runtime.endpoint()}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("PostgreSQL"), std::string::npos) << r.err;
  auto init = runtime.InitError();
  ASSERT_TRUE(init.has_value());
  EXPECT_EQ(init->error_type, "Runtime.InvalidConfig");
  EXPECT_NE(json::parse(init->body).at("errorMessage").as_string().find("PostgreSQL"), json::string::npos);
  EXPECT_FALSE(std::ifstream(dir.File("relay.db")).good()) << "nothing created";
  // Outside Lambda it says where it belongs.
  auto outside = RunCommand({"lambda", "--config", dir.File("relay.toml")});
  EXPECT_EQ(outside.exit_code, 2);
  EXPECT_NE(outside.err.find("AWS_LAMBDA_RUNTIME_API"), std::string::npos);
}

class DoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<Process>(
        std::vector<std::string>{RelayBinary(), "fake-rudderstack", "--port-file", dir_.File("fake.port"),
                                 "--connections", "conn_a,conn_b", "--log-level", "warn"},
        std::map<std::string, std::string>{{"RUDDERSTACK_API_TOKEN", kToken}}, dir_.File("fake.log"));
    fake_port_ = testing::WaitForPortFile(dir_.File("fake.port"));
    ASSERT_GT(fake_port_, 0);
  }
  void WriteConfig(const std::string& connections, const std::string& listen = "127.0.0.1:0") {
    std::ofstream(dir_.File("relay.toml"))
        << "[server]\nlisten = \"" << listen << "\"\n"
        << "[store]\nurl = \"sqlite://" << dir_.File("state/relay.db") << "\"\n"
        << "[dbt]\nwebhook_secret = \"${SECRET}\"\n"
        << "[rudderstack]\napi_base = \"http://127.0.0.1:" << fake_port_ << "\"\ntoken = \"${TOKEN}\"\n"
        << "[[route]]\nname = \"r\"\nconnections = [" << connections << "]\n";
  }
  testing::CommandResult Doctor(const std::string& token, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"doctor", "--config", dir_.File("relay.toml")};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCommand(args, {{"SECRET", kSecret}, {"TOKEN", token}});
  }
  testing::TempDir dir_;
  std::unique_ptr<Process> fake_;
  int fake_port_ = 0;
};

TEST_F(DoctorTest, AllChecksPassOnAGoodDeployment) {
  WriteConfig(R"("conn_a", "conn_b")");
  auto r = Doctor(kToken);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* line : {"ok    config", "ok    secret", "ok    store", "ok    rudderstack connection conn_a: found",
                           "ok    rudderstack connection conn_b: found", "ok    listen", "all 6 checks passed"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
  EXPECT_FALSE(std::ifstream(dir_.File("state/relay.db")).good()) << "doctor creates nothing";
  EXPECT_EQ(r.out.find(kSecret), std::string::npos);
  EXPECT_EQ(r.out.find(kToken), std::string::npos);
}

TEST_F(DoctorTest, ABadTokenSaysTokenOrRole) {
  WriteConfig(R"("conn_a", "conn_b")");
  auto r = Doctor("not-the-token");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("FAIL  rudderstack token rejected"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fix: use a workspace Service Access Token"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("not-the-token"), std::string::npos) << "the token is never printed";
}

TEST_F(DoctorTest, AnUnknownConnectionSaysIdOrRegion) {
  WriteConfig(R"("conn_a", "conn_typo")");
  auto r = Doctor(kToken, {"--json"});
  EXPECT_EQ(r.exit_code, 1);
  json::value v = json::parse(r.out);
  EXPECT_FALSE(v.at("ok").as_bool());
  int failed = 0;
  for (const auto& c : v.at("checks").as_array()) {
    if (c.at("ok").as_bool()) continue;
    ++failed;
    EXPECT_EQ(c.at("check").as_string(), "rudderstack");
    EXPECT_NE(c.at("detail").as_string().find("conn_typo: not found"), json::string::npos);
    EXPECT_NE(c.at("fix").as_string().find("region"), json::string::npos);
  }
  EXPECT_EQ(failed, 1);
}

TEST_F(DoctorTest, AnUnreachableStoreFails) {
  WriteConfig(R"("conn_a")");
  auto r = Doctor(kToken, {"--store", "postgresql://relay:pw-secret@127.0.0.1:1/relay"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("FAIL  store       postgresql://relay:***@127.0.0.1:1/relay: postgres: connect:"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("pw-secret"), std::string::npos) << "the password is never printed";
}

TEST_F(DoctorTest, ListenAddressTakenByARelayOrBySomethingElse) {
  // The fake holds a port and is not a relay (its /healthz is a 404).
  WriteConfig(R"("conn_a")", "127.0.0.1:" + std::to_string(fake_port_));
  auto r = Doctor(kToken);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("in use by another program"), std::string::npos) << r.out;
  // A healthy relay on it passes: doctor run beside the running service.
  WriteConfig(R"("conn_a")", "127.0.0.1:0");
  Process relay({RelayBinary(), "serve", "--config", dir_.File("relay.toml"), "--port-file", dir_.File("relay.port"),
                 "--log-level", "warn"},
                {{"SECRET", kSecret}, {"TOKEN", kToken}}, dir_.File("relay.log"));
  const int port = testing::WaitForPortFile(dir_.File("relay.port"));
  ASSERT_GT(port, 0);
  WriteConfig(R"("conn_a")", "127.0.0.1:" + std::to_string(port));
  r = Doctor(kToken);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("in use by a healthy relay"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("schema current, writable"), std::string::npos) << r.out;
  // probe: what the image's HEALTHCHECK runs.
  auto ok = RunCommand({"probe", "http://127.0.0.1:" + std::to_string(port) + "/healthz"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  auto missing = RunCommand({"probe", "http://127.0.0.1:" + std::to_string(port) + "/nowhere"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("404"), std::string::npos);
  auto closed = RunCommand({"probe", "http://127.0.0.1:1/healthz", "--timeout", "1"});
  EXPECT_EQ(closed.exit_code, 1);
}

// With [dbt_cloud], the dbt Cloud token is checked too: 401 names the token, 404 the account.
TEST_F(DoctorTest, TheDbtCloudTokenAndAccountAreChecked) {
  Process dbt({RelayBinary(), "fake-dbt-cloud", "--port-file", dir_.File("dbt.port"), "--account-id", "7",
               "--log-level", "warn"},
              {{"DBT_CLOUD_API_TOKEN", "dbt-token"}}, dir_.File("dbt.log"));
  const int dbt_port = testing::WaitForPortFile(dir_.File("dbt.port"));
  ASSERT_GT(dbt_port, 0);
  auto with_dbt = [&](const std::string& account) {
    WriteConfig(R"("conn_a")");
    std::ofstream(dir_.File("relay.toml"), std::ios::app)
        << "[dbt_cloud]\napi_base = \"http://127.0.0.1:" << dbt_port << "\"\naccount_id = \"" << account
        << "\"\ntoken = \"${DBT_TOKEN}\"\n";
  };
  auto doctor = [&](const std::string& dbt_token) {
    return RunCommand({"doctor", "--config", dir_.File("relay.toml")},
                      {{"SECRET", kSecret}, {"TOKEN", kToken}, {"DBT_TOKEN", dbt_token}});
  };
  with_dbt("7");
  auto ok = doctor("dbt-token");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_NE(ok.out.find("ok    dbt_cloud   account 7"), std::string::npos) << ok.out;
  auto bad = doctor("stale-token");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("FAIL  dbt_cloud   account 7"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("token rejected"), std::string::npos) << bad.out;
  EXPECT_EQ(bad.out.find("stale-token"), std::string::npos) << "the token is never printed";
  with_dbt("8");
  auto wrong = doctor("dbt-token");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.out.find("account 8"), std::string::npos) << wrong.out;
  EXPECT_NE(wrong.out.find("fix: check dbt_cloud.account_id"), std::string::npos) << wrong.out;
}

TEST(DoctorConfigTest, AnInvalidConfigListsEveryProblem) {
  testing::TempDir dir;
  std::ofstream(dir.File("relay.toml")) << "[rudderstack]\ntoken = \"test-token\"\nregion = \"mars\"\n";
  auto r = RunCommand({"doctor", "--config", dir.File("relay.toml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("FAIL  config"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("- rudderstack.region"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 of 1 checks failed"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace relay
