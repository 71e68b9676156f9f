#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>

#include "../../test/support/temp_dir.h"
#include "store/store.h"

namespace relay::store {
namespace {

using relay::testing::TempDir;

NewEvent Event(const std::string& id, int64_t run = 1, int code = 10) {
  return NewEvent{id, "job.run.completed", 1, 123, run, code, "{\"raw\":\"" + id + "\"}", FromUnixMillis(1'000'000)};
}

NewTrigger Trigger(const std::string& connection, const std::string& dedupe) {
  return NewTrigger{"route", connection, "incremental", "queue", dedupe};
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open() {
    auto s = OpenStore("sqlite://" + dir_.File("relay.db"));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  TempDir dir_;
};

TEST_F(SqliteStoreTest, AppendStoresEventAndTriggers) {
  auto store = Open();
  auto r = store->Append(Event("wev_1"), {Trigger("c1", "k1"), Trigger("c2", "k2")});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(r->created(), 2);
  auto ev = store->GetEvent("wev_1");
  ASSERT_TRUE(ev.ok() && ev->has_value());
  EXPECT_EQ((*ev)->raw_body, "{\"raw\":\"wev_1\"}");
  auto triggers = store->ListTriggers("pending", 10);
  ASSERT_TRUE(triggers.ok());
  ASSERT_EQ(triggers->size(), 2u);
  EXPECT_EQ((*triggers)[0].connection_id, "c1");
  EXPECT_EQ((*triggers)[0].event_id, "wev_1");
}

TEST_F(SqliteStoreTest, DuplicateEventIdWritesNothing) {
  auto store = Open();
  ASSERT_TRUE(store->Append(Event("wev_1"), {Trigger("c1", "k1")}).ok());
  auto again = store->Append(Event("wev_1"), {Trigger("c1", "k-other")});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->created(), 0);
  EXPECT_EQ(*store->CountEvents(), 1);
  EXPECT_EQ(store->ListTriggers("", 10)->size(), 1u);
}

TEST_F(SqliteStoreTest, SameDedupeKeyFromAnotherEventCreatesNoTrigger) {
  auto store = Open();
  ASSERT_TRUE(store->Append(Event("wev_errored", 7, 20), {Trigger("c1", "r|c1|1|7|20")}).ok());
  auto r = store->Append(Event("wev_completed", 7, 20), {Trigger("c1", "r|c1|1|7|20")});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(r->trigger_ids, std::vector<int64_t>{0});
  EXPECT_EQ(*store->CountEvents(), 2);  // both events are kept for the audit trail
  EXPECT_EQ(store->ListTriggers("", 10)->size(), 1u);
}

TEST_F(SqliteStoreTest, ConcurrentAppendsAllCommit) {
  auto store = Open();
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "wev_" + std::to_string(t) + "_" + std::to_string(i);
        if (store->Append(Event(id), {Trigger("c", id)}).ok()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(*store->CountEvents(), kThreads * kPerThread);
}

TEST_F(SqliteStoreTest, DataSurvivesCloseAndReopen) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Append(Event("wev_1"), {Trigger("c1", "k1")}).ok());
  }
  auto store = Open();
  EXPECT_EQ(*store->CountEvents(), 1);
  EXPECT_EQ(store->ListTriggers("pending", 10)->size(), 1u);
  EXPECT_TRUE(store->Append(Event("wev_1"), {})->duplicate);
}

TEST_F(SqliteStoreTest, DatabaseFileIsPrivate) {
  auto store = Open();
  struct stat st {};
  ASSERT_EQ(stat(dir_.File("relay.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
}

TEST_F(SqliteStoreTest, ClaimLeasesOneConnectionToOneOwner) {
  auto store = Open();
  ASSERT_TRUE(store->Append(Event("wev_1"), {Trigger("c1", "k1"), Trigger("c1", "k2")}).ok());
  const TimePoint now = FromUnixMillis(2'000'000);
  auto a = store->ClaimConnection("A", now, std::chrono::seconds(60));
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->connection_id, "c1");
  EXPECT_EQ((*a)->triggers.size(), 2u);
  auto b = store->ClaimConnection("B", now, std::chrono::seconds(60));
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->has_value()) << "c1 is leased to A";
  // The lease expires: B takes over.
  auto later = store->ClaimConnection("B", now + std::chrono::seconds(61), std::chrono::seconds(60));
  ASSERT_TRUE(later.ok() && later->has_value());
  EXPECT_EQ((*later)->connection_id, "c1");
}

TEST_F(SqliteStoreTest, ReleaseLetsOthersClaimAndRetryDelaysWork) {
  auto store = Open();
  ASSERT_TRUE(store->Append(Event("wev_1"), {Trigger("c1", "k1")}).ok());
  const TimePoint now = FromUnixMillis(2'000'000);
  auto a = store->ClaimConnection("A", now, std::chrono::seconds(60));
  ASSERT_TRUE(a.ok() && a->has_value());
  std::vector<int64_t> ids{(*a)->triggers[0].id};
  ASSERT_TRUE(store->MarkRetry(ids, now + std::chrono::seconds(5), "UNAVAILABLE: 503", now).ok());
  ASSERT_TRUE(store->ReleaseConnection("c1", "A").ok());
  EXPECT_FALSE(store->ClaimConnection("B", now, std::chrono::seconds(60))->has_value()) << "not due yet";
  auto due = store->ClaimConnection("B", now + std::chrono::seconds(5), std::chrono::seconds(60));
  ASSERT_TRUE(due.ok() && due->has_value());
  EXPECT_EQ((*due)->triggers[0].attempts, 1);
  EXPECT_EQ((*due)->triggers[0].last_error, "UNAVAILABLE: 503");
}

TEST_F(SqliteStoreTest, StartedAndDeadTriggersAreNotClaimedAgain) {
  auto store = Open();
  ASSERT_TRUE(store->Append(Event("wev_1"), {Trigger("c1", "k1"), Trigger("c2", "k2")}).ok());
  auto triggers = *store->ListTriggers("", 10);
  const TimePoint now = FromUnixMillis(2'000'000);
  ASSERT_TRUE(store->MarkStarted({triggers[0].id}, "sync_1", now).ok());
  ASSERT_TRUE(store->MarkDead({triggers[1].id}, "NOT_FOUND: 404", now).ok());
  EXPECT_FALSE(store->ClaimConnection("A", now, std::chrono::seconds(60))->has_value());
  auto all = *store->ListTriggers("", 10);
  EXPECT_EQ(all[0].state, "started");
  EXPECT_EQ(all[0].sync_id, "sync_1");
  EXPECT_EQ(all[1].state, "dead");
  EXPECT_EQ(all[1].last_error, "NOT_FOUND: 404");
}

TEST_F(SqliteStoreTest, UnsupportedUrlIsInvalidArgument) {
  auto s = OpenStore("mysql://x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, UnopenablePathIsUnavailable) {
  auto s = OpenStore("sqlite://" + dir_.File("no/such/dir/relay.db"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace relay::store
