// The pruner's pass: batches until the store has nothing older than the retention left, at a
// cutoff taken from the injected clock, and stops at the first store error.

#include "store/pruner.h"

#include <gtest/gtest.h>

#include <vector>

namespace relay::store {
namespace {

// A retention store that answers each Prune with the next scripted batch (then nothing left).
class ScriptedRetention : public RetentionStore {
 public:
  explicit ScriptedRetention(std::vector<StatusOr<PruneCounts>> batches) : batches_(std::move(batches)) {}
  StatusOr<PruneCounts> Prune(TimePoint cutoff, int batch, bool dry_run) override {
    calls.push_back({cutoff, batch, dry_run});
    if (next_ >= batches_.size()) return PruneCounts{};
    return batches_[next_++];
  }
  struct Call {
    TimePoint cutoff;
    int batch;
    bool dry_run;
  };
  std::vector<Call> calls;

 private:
  std::vector<StatusOr<PruneCounts>> batches_;
  size_t next_ = 0;
};

PruneCounts Rows(int64_t events, int64_t triggers, int64_t attempts) {
  PruneCounts c;
  c.events = events;
  c.triggers = triggers;
  c.attempts = attempts;
  return c;
}

PrunerOptions Options() {
  PrunerOptions o;
  o.retention = std::chrono::hours(24 * 7);
  o.batch = 500;
  o.pause = Duration(0);
  return o;
}

TEST(PrunerTest, APassBatchesUntilNothingIsLeftAtTheRetentionCutoff) {
  FakeClock clock(FromUnixMillis(1'800'000'000'000));
  ScriptedRetention store({Rows(500, 500, 500), Rows(500, 120, 500), Rows(3, 3, 40)});
  Pruner pruner(store, clock, Options());
  StatusOr<PruneCounts> pass = pruner.RunPass();
  ASSERT_TRUE(pass.ok()) << pass.status().ToString();
  EXPECT_EQ(pass->events, 1003);
  EXPECT_EQ(pass->triggers, 623);
  EXPECT_EQ(pass->attempts, 1040);
  ASSERT_EQ(store.calls.size(), 4u) << "three batches with rows, then one that finds none";
  for (const auto& call : store.calls) {
    EXPECT_EQ(call.cutoff, clock.Now() - std::chrono::hours(24 * 7));
    EXPECT_EQ(call.batch, 500);
    EXPECT_FALSE(call.dry_run);
  }
}

TEST(PrunerTest, AStoreErrorEndsThePassWithIt) {
  FakeClock clock(FromUnixMillis(1'800'000'000'000));
  ScriptedRetention store({Rows(500, 0, 0), StatusOr<PruneCounts>(UnavailableError("disk full"))});
  Pruner pruner(store, clock, Options());
  StatusOr<PruneCounts> pass = pruner.RunPass();
  EXPECT_EQ(pass.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.calls.size(), 2u) << "nothing after the error";
}

}  // namespace
}  // namespace relay::store
