// Several relay processes on one PostgreSQL database (scripts/with-postgres.sh provides the
// server; skipped without RELAY_TEST_PG_URL). Traffic is loopback only and bounded.
//
// Invariants checked after every scenario:
//   - one stored event per eventId, whichever instance got it and however often;
//   - every trigger ends covered by a sync that succeeded;
//   - every sync RudderStack really started (the fake's record) is known to the store, and
//     covers at least one trigger: no start was sent twice for the same triggers.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

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
using testing::HttpCall;
using testing::Process;
using testing::RelayBinary;

constexpr char kSecret[] = "multi-instance-secret";
constexpr char kToken[] = "multi-instance-token";
constexpr int kConnections = 5;

class MultiInstanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!pg_.available()) GTEST_SKIP() << "no PostgreSQL (RELAY_TEST_PG_URL) " << pg_.error();
    fake_ = std::make_unique<Process>(
        std::vector<std::string>{RelayBinary(), "fake-rudderstack", "--port-file", dir_.File("fake.port"),
                                 "--sync-duration", "100ms", "--log-level", "warn"},
        std::map<std::string, std::string>{{"RUDDERSTACK_API_TOKEN", kToken}}, dir_.File("fake.log"));
    fake_port_ = testing::WaitForPortFile(dir_.File("fake.port"));
    ASSERT_GT(fake_port_, 0);
    std::ofstream out(dir_.File("relay.toml"));
    out << "[server]\nlisten = \"127.0.0.1:0\"\n[store]\nurl = \"" << pg_.url() << "\"\n"
        << "[dbt]\nwebhook_secret = \"" << kSecret << "\"\n"
        << "[rudderstack]\napi_base = \"http://127.0.0.1:" << fake_port_ << "\"\ntoken = \"" << kToken
        << "\"\nrequest_timeout = \"2s\"\n"
        << "[dispatch]\nworkers = 2\npoll_interval = \"50ms\"\nretry_initial = \"50ms\"\nretry_max = \"500ms\"\n"
        << "lease = \"2s\"\nsync_poll_interval = \"100ms\"\n";
    for (int c = 0; c < kConnections; ++c) {
      out << "[[route]]\nname = \"r" << c << "\"\njob_ids = [\"" << 100 + c << "\"]\nconnections = [\"conn_" << c
          << "\"]\n";
    }
  }

  void StartRelay(int i) {
    std::string port_file = dir_.File("relay" + std::to_string(i) + ".port");
    std::remove(port_file.c_str());
    relays_[i] = std::make_unique<Process>(
        std::vector<std::string>{RelayBinary(), "serve", "--config", dir_.File("relay.toml"), "--port-file", port_file,
                                 "--log-level", "warn"},
        std::map<std::string, std::string>{}, dir_.File("relay" + std::to_string(i) + ".log"));
    ports_[i] = testing::WaitForPortFile(port_file);
    ASSERT_GT(ports_[i], 0) << testing::ReadFileBytes(dir_.File("relay" + std::to_string(i) + ".log"));
  }

  std::string Url(int i, const std::string& path = "/webhooks/dbt") const {
    return "http://127.0.0.1:" + std::to_string(ports_[i]) + path;
  }

  // Distinct signed webhooks, job ids spread over the routes.
  std::vector<std::string> Bodies(int n) {
    std::vector<std::string> bodies;
    std::mt19937_64 rng(7);
    for (int i = 0; i < n; ++i) {
      dbt::PayloadSpec spec;
      spec.job_id = std::to_string(100 + i % kConnections);
      bodies.push_back(dbt::BuildPayload(spec, rng));
    }
    return bodies;
  }

  long Post(int instance, const std::string& body) {
    return HttpCall("POST", Url(instance), body, {"Authorization: " + dbt::SignBody(body, kSecret)}).status;
  }

  // Reconciliation passes instance `i` has made, ok or not (its /metrics): each has looked at
  // dbt Cloud's runs list since the one before.
  double Passes(int i) {
    const std::string text = HttpCall("GET", Url(i, "/metrics")).body;
    double n = 0;
    for (const char* series : {R"(retl_relay_reconcile_passes_total{result="ok"})",
                               R"(retl_relay_reconcile_passes_total{result="error"})"}) {
      n += std::max(0.0, testing::MetricValue(text, series));
    }
    return n;
  }
  bool BothPassedAgain(int times) {
    const double a = Passes(0), b = Passes(1);
    return Eventually([&] { return Passes(0) >= a + times && Passes(1) >= b + times; }, std::chrono::seconds(20));
  }

  std::unique_ptr<store::Store> Store() { return std::move(store::OpenStore(pg_.url())).value(); }

  void ExpectInvariants(int events) {
    auto store = Store();
    EXPECT_EQ(*store->CountEvents(), events) << "one stored event per eventId";
    ASSERT_TRUE(Eventually(
        [&] {
          auto t = *store->ListTriggers("", 100000);
          return static_cast<int>(t.size()) == events &&
                 std::all_of(t.begin(), t.end(), [](const auto& x) { return x.state == "succeeded"; });
        },
        std::chrono::seconds(60)))
        << "every trigger covered by a succeeded sync";
    // What RudderStack really started, from the fake's record.
    auto calls = json::parse(HttpCall("GET", "http://127.0.0.1:" + std::to_string(fake_port_) + "/_fake/calls").body);
    std::map<std::string, int> started_per_connection;
    int performed = 0;
    for (const auto& c : calls.at("calls").as_array()) {
      if (c.at("endpoint").as_string() == "start" && c.at("real_status").as_int64() == 200) ++performed;
    }
    std::set<std::string> store_syncs, covering;
    // Named first: a range-for over `*temporary` would outlive the temporary.
    const std::vector<store::Sync> syncs = *store->ListSyncs("", 100000);
    const std::vector<store::Trigger> triggers = *store->ListTriggers("", 100000);
    for (const auto& s : syncs) {
      if (s.origin != "external") store_syncs.insert(s.connection_id + "/" + s.sync_id);
    }
    for (const auto& t : triggers) covering.insert(t.connection_id + "/" + t.sync_id);
    EXPECT_EQ(static_cast<int>(store_syncs.size()), performed) << "no sync unknown to the store";
    EXPECT_EQ(covering, store_syncs) << "every started sync covers triggers: none was started twice";
  }

  testing::TempPgDatabase pg_;
  testing::TempDir dir_;
  std::unique_ptr<Process> fake_, dbt_;
  int fake_port_ = 0;
  std::unique_ptr<Process> relays_[3];
  int ports_[3] = {0, 0, 0};
};

TEST_F(MultiInstanceTest, ThreeInstancesOneDatabaseThousandWebhooks) {
  for (int i = 0; i < 3; ++i) StartRelay(i);
  auto bodies = Bodies(1000);
  std::atomic<int> non200{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < bodies.size(); i += 4) {
        if (Post(static_cast<int>(i % 3), bodies[i]) != 200) ++non200;
        // Every tenth is delivered again, to another instance (dbt's retries land anywhere).
        if (i % 10 == 0 && Post(static_cast<int>((i + 1) % 3), bodies[i]) != 200) ++non200;
      }
    });
  }
  for (auto& s : senders) s.join();
  EXPECT_EQ(non200.load(), 0);
  ExpectInvariants(1000);
}

TEST_F(MultiInstanceTest, SigkilledInstanceIsTakenOver) {
  for (int i = 0; i < 3; ++i) StartRelay(i);
  auto bodies = Bodies(600);
  std::map<long, int> non200;  // status → count, for the failure message
  for (size_t i = 0; i < bodies.size(); ++i) {
    if (i == 300) {
      EXPECT_EQ(relays_[1]->Stop(SIGKILL), 128 + SIGKILL);
    }
    int instance = static_cast<int>(i % 3);
    if (i >= 300 && instance == 1) instance = 2;  // the load balancer stops sending to the dead one
    if (long status = Post(instance, bodies[i]); status != 200) ++non200[status];
  }
  EXPECT_TRUE(non200.empty()) << "first non-200: " << (non200.empty() ? 0 : non200.begin()->first) << " ×"
                              << (non200.empty() ? 0 : non200.begin()->second) << "\n"
                              << testing::ReadFileBytes(dir_.File("relay0.log")).substr(0, 3000);
  ExpectInvariants(600);
}

TEST_F(MultiInstanceTest, PostgresRestartGives503ThenRecoversWithNothingLost) {
  const char* stop = std::getenv("RELAY_TEST_PG_STOP");
  const char* start = std::getenv("RELAY_TEST_PG_START");
  if (stop == nullptr || start == nullptr) GTEST_SKIP() << "RELAY_TEST_PG_STOP/START not set";
  StartRelay(0);
  auto bodies = Bodies(60);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Post(0, bodies[i]), 200) << testing::ReadFileBytes(dir_.File("relay0.log"));
  ASSERT_EQ(system((std::string(stop) + " >/dev/null 2>&1").c_str()), 0);
  int answered_200 = 0, answered_503 = 0;
  for (int i = 20; i < 40; ++i) {
    long status = Post(0, bodies[i]);
    answered_200 += status == 200;
    answered_503 += status == 503;
  }
  EXPECT_EQ(answered_200, 0) << "never 200 without a commit";
  EXPECT_EQ(answered_503, 20);
  EXPECT_EQ(HttpCall("GET", Url(0, "/readyz")).status, 503);
  ASSERT_EQ(system((std::string(start) + " >/dev/null 2>&1").c_str()), 0);
  ASSERT_TRUE(Eventually([&] { return HttpCall("GET", Url(0, "/readyz")).status == 200; }, std::chrono::seconds(30)));
  // dbt redelivers what was refused; everything acknowledged before is still there.
  for (int i = 20; i < 60; ++i) ASSERT_EQ(Post(0, bodies[i]), 200);
  ExpectInvariants(60);
}

// Two instances reconcile the same runs list: each missed run becomes one event (and one
// trigger), whichever instance stores it first, and a run whose webhook arrived gets none.
TEST_F(MultiInstanceTest, TwoInstancesReconcileEachMissedRunOnce) {
  dbt_ = std::make_unique<Process>(
      std::vector<std::string>{RelayBinary(), "fake-dbt-cloud", "--port-file", dir_.File("dbt.port"), "--log-level",
                               "warn"},
      std::map<std::string, std::string>{{"DBT_CLOUD_API_TOKEN", "dbt-token"}}, dir_.File("dbt.log"));
  const int dbt_port = testing::WaitForPortFile(dir_.File("dbt.port"));
  ASSERT_GT(dbt_port, 0);
  {
    std::ofstream out(dir_.File("relay.toml"), std::ios::app);
    out << "[dbt_cloud]\napi_base = \"http://127.0.0.1:" << dbt_port
        << "\"\naccount_id = \"1\"\ntoken = \"dbt-token\"\nreconcile_interval = \"1s\"\ngrace = \"0s\"\n";
  }
  StartRelay(0);
  StartRelay(1);
  ASSERT_TRUE(Eventually([&] { return Passes(0) >= 1 && Passes(1) >= 1; }, std::chrono::seconds(20)))
      << "both passed once: watermarks set";
  const std::string runs_url = "http://127.0.0.1:" + std::to_string(dbt_port) + "/_fake/runs";
  std::mt19937_64 rng(11);
  for (int i = 0; i < 40; ++i) {
    const int job = 100 + i % kConnections;
    auto r = HttpCall("POST", runs_url, "{\"job_id\":" + std::to_string(job) + ",\"status\":10}");
    ASSERT_EQ(r.status, 200) << r.body;
    if (i % 4 == 0) {  // this run's webhook did arrive, at one instance or the other
      dbt::PayloadSpec spec;
      spec.job_id = std::to_string(job);
      spec.run_id = std::to_string(json::parse(r.body).at("id").as_int64());
      ASSERT_EQ(Post(i % 2, dbt::BuildPayload(spec, rng)), 200);
    }
  }
  auto store = Store();
  ASSERT_TRUE(Eventually([&] { return *store->CountEvents() >= 40; }, std::chrono::seconds(20)));
  ASSERT_TRUE(BothPassedAgain(2)) << "more passes: nothing more";
  ExpectInvariants(40);
  store::EventFilter all;
  all.limit = 100;
  int reconciled = 0;
  const std::vector<store::StoredEvent> events = *store->ListEvents(all);
  for (const auto& e : events) reconciled += e.source == "reconcile";
  EXPECT_EQ(reconciled, 30);
}

}  // namespace
}  // namespace relay
