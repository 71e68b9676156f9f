#include "dispatch/dispatcher.h"

#include <gtest/gtest.h>

#include "../../test/support/scripted_client.h"
#include "../../test/support/temp_dir.h"

namespace relay::dispatch {
namespace {

using relay::testing::ScriptedClient;
using relay::testing::TempDir;

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() {
    auto s = store::OpenStore("sqlite://" + dir_.File("relay.db"));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    options_.retry_initial = std::chrono::seconds(1);
    options_.retry_max = std::chrono::seconds(60);
    options_.max_age = std::chrono::hours(1);
    dispatcher_ = std::make_unique<Dispatcher>(*store_, client_, clock_, options_, "test", [] { return 0.5; });
  }

  void AddTrigger(const std::string& event_id, const std::string& connection, const std::string& sync_type = "incremental") {
    store::NewEvent ev{event_id, "job.run.completed", 1, 1, 1, 10, "{}", clock_.Now()};
    ASSERT_TRUE(store_->Append(ev, {{"r", connection, sync_type, "queue", event_id + connection}}).ok());
  }

  std::vector<store::Trigger> Triggers() { return *store_->ListTriggers("", 100); }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  ScriptedClient client_;
  FakeClock clock_;
  config::DispatchConfig options_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, StartsOneSyncAndRecordsItsId) {
  AddTrigger("e1", "c1");
  client_.Then(std::string("sync_abc"));
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  ASSERT_EQ(client_.starts().size(), 1u);
  EXPECT_EQ(client_.starts()[0].connection_id, "c1");
  EXPECT_EQ(client_.starts()[0].sync_type, "incremental");
  EXPECT_EQ(Triggers()[0].state, "started");
  EXPECT_EQ(Triggers()[0].sync_id, "sync_abc");
  EXPECT_FALSE(*dispatcher_->RunOnce("w")) << "nothing left to do";
  auto attempts = *store_->ListAttempts("c1", 10);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].kind, "start");
  EXPECT_EQ(attempts[0].outcome, "ok");
}

TEST_F(DispatcherTest, PendingTriggersOfOneConnectionShareOneStartAndFullWins) {
  AddTrigger("e1", "c1");
  AddTrigger("e2", "c1", "full");
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  ASSERT_EQ(client_.starts().size(), 1u);
  EXPECT_EQ(client_.starts()[0].sync_type, "full");
  for (const auto& t : Triggers()) EXPECT_EQ(t.state, "started");
}

TEST_F(DispatcherTest, RetryableFailureBacksOffThenSucceeds) {
  AddTrigger("e1", "c1");
  client_.Then(Status(StatusCode::kUnavailable, "HTTP 500"));
  client_.Then(Status(StatusCode::kUnavailable, "HTTP 500"));
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  EXPECT_EQ(Triggers()[0].state, "pending");
  EXPECT_EQ(Triggers()[0].attempts, 1);
  EXPECT_FALSE(*dispatcher_->RunOnce("w")) << "backing off: 0.5 × 1 s";
  clock_.Advance(std::chrono::milliseconds(500));
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  EXPECT_FALSE(*dispatcher_->RunOnce("w")) << "second backoff: 0.5 × 2 s";
  clock_.Advance(std::chrono::milliseconds(1000));
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  EXPECT_EQ(client_.starts().size(), 3u);
  EXPECT_EQ(Triggers()[0].state, "started");
}

TEST_F(DispatcherTest, RetryAfterIsHonoured) {
  AddTrigger("e1", "c1");
  Status limited(StatusCode::kResourceExhausted, "HTTP 429");
  limited.set_retry_after(std::chrono::seconds(30));
  client_.Then(limited);
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  clock_.Advance(std::chrono::seconds(29));
  EXPECT_FALSE(*dispatcher_->RunOnce("w"));
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  EXPECT_EQ(Triggers()[0].state, "started");
}

TEST_F(DispatcherTest, PermanentFailureKillsTriggersWithTheReason) {
  AddTrigger("e1", "c1");
  client_.Then(Status(StatusCode::kNotFound, "rudderstack POST …/start: HTTP 404"));
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  auto t = Triggers()[0];
  EXPECT_EQ(t.state, "dead");
  EXPECT_NE(t.last_error.find("HTTP 404"), std::string::npos);
  EXPECT_FALSE(*dispatcher_->RunOnce("w"));
}

TEST_F(DispatcherTest, TriggersOlderThanMaxAgeGoDeadWithTheLastError) {
  AddTrigger("e1", "c1");
  client_.Then(Status(StatusCode::kUnavailable, "HTTP 503"));
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  clock_.Advance(std::chrono::hours(2));
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  EXPECT_EQ(client_.starts().size(), 1u) << "no start for an expired trigger";
  EXPECT_EQ(Triggers()[0].state, "dead");
  EXPECT_NE(Triggers()[0].last_error.find("maximum age exceeded; last error: UNAVAILABLE: HTTP 503"), std::string::npos)
      << Triggers()[0].last_error;
}

TEST_F(DispatcherTest, ConnectionsAreServedIndependently) {
  AddTrigger("e1", "c1");
  AddTrigger("e2", "c2");
  client_.Then(Status(StatusCode::kNotFound, "HTTP 404"));
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  EXPECT_TRUE(*dispatcher_->RunOnce("w"));
  auto t = Triggers();
  EXPECT_EQ(t[0].state, "dead");
  EXPECT_EQ(t[1].state, "started");
}

TEST_F(DispatcherTest, WorkerThreadsDeliverWhenNotified) {
  options_.workers = 2;
  options_.poll_interval = std::chrono::seconds(60);  // only Notify can wake them in time
  Dispatcher d(*store_, client_, clock_, options_, "threads", [] { return 0.0; });
  d.Start();
  AddTrigger("e1", "c1");
  d.Notify();
  for (int i = 0; i < 500 && Triggers()[0].state != "started"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  d.Stop();
  EXPECT_EQ(Triggers()[0].state, "started");
}

}  // namespace
}  // namespace relay::dispatch
