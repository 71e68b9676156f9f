#include "store/batch_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

namespace relay::store {
namespace {

using namespace std::chrono_literals;

struct FakeConn {
  int commits = 0;     // only the writer thread touches it
  bool wrote = false;  // a job of the current transaction wrote
};

// Jobs: one that writes, one that only reads.
Status Write(FakeConn& c) {
  c.wrote = true;
  return Status::Ok();
}
Status Read(FakeConn&) { return Status::Ok(); }

// A sync that blocks until the test opens the gate, so the test can see what happens meanwhile.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  Status result;
  std::atomic<int> syncs{0};
  std::atomic<int> commits_at_first_sync{-1};
};

BatchExecutor<FakeConn>::Dialect PipelinedDialect(Gate& gate, std::atomic<int>& commits) {
  BatchExecutor<FakeConn>::Dialect d{[](FakeConn&) { return Status::Ok(); },
                                     [](FakeConn&) { return InternalError("the pipelined executor must not use commit"); },
                                     [](FakeConn&) {},
                                     [](FakeConn&) { return Status::Ok(); },
                                     [](FakeConn&) {},
                                     [](FakeConn&) {},
                                     [](FakeConn&) { return true; }};
  d.commit_unsynced = [&commits](FakeConn& c) -> StatusOr<bool> {
    ++c.commits;
    ++commits;
    return std::exchange(c.wrote, false);
  };
  d.sync = [&gate, &commits]() {
    int expected = -1;
    gate.commits_at_first_sync.compare_exchange_strong(expected, commits.load());
    std::unique_lock<std::mutex> lock(gate.mu);
    gate.cv.wait(lock, [&] { return gate.open; });
    ++gate.syncs;
    return gate.result;
  };
  return d;
}

std::vector<std::unique_ptr<FakeConn>> OneConn() {
  std::vector<std::unique_ptr<FakeConn>> v;
  v.push_back(std::make_unique<FakeConn>());
  return v;
}

void OpenGate(Gate& gate, Status result = Status::Ok()) {
  {
    std::lock_guard<std::mutex> lock(gate.mu);
    gate.result = std::move(result);
    gate.open = true;
  }
  gate.cv.notify_all();
}

TEST(BatchExecutorTest, PipelinedCommitsAnswerOnlyAfterTheSyncAndKeepCommittingMeanwhile) {
  Gate gate;
  std::atomic<int> commits{0};
  std::promise<Status> first_done;
  std::promise<Status> second_done;
  {
    BatchExecutor<FakeConn> exec(OneConn(), PipelinedDialect(gate, commits), 16);
    exec.Submit(Write, [&](const Status& s) { first_done.set_value(s); });
    auto first = first_done.get_future();
    // The first batch is committed and its sync is under way (held at the gate)...
    ASSERT_EQ(first.wait_for(200ms), std::future_status::timeout) << "answered before its sync";
    EXPECT_EQ(commits.load(), 1);
    // ...and the writer is not held up by it: a second batch commits while the sync waits.
    exec.Submit(Write, [&](const Status& s) { second_done.set_value(s); });
    for (int i = 0; i < 200 && commits.load() < 2; ++i) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(commits.load(), 2) << "the second commit waited for the first one's sync";
    auto second = second_done.get_future();
    EXPECT_EQ(second.wait_for(50ms), std::future_status::timeout);
    OpenGate(gate);
    ASSERT_EQ(first.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(first.get().ok());
    ASSERT_EQ(second.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(second.get().ok());
  }
  EXPECT_EQ(gate.commits_at_first_sync.load(), 1);
  EXPECT_LE(gate.syncs.load(), 2);
}

TEST(BatchExecutorTest, AFailedSyncFailsEveryCommitItCovered) {
  Gate gate;
  std::atomic<int> commits{0};
  std::vector<std::promise<Status>> done(3);
  {
    BatchExecutor<FakeConn> exec(OneConn(), PipelinedDialect(gate, commits), 16);
    for (auto& p : done) exec.Submit(Write, [&p](const Status& s) { p.set_value(s); });
    OpenGate(gate, UnavailableError("fdatasync failed"));
  }  // the destructor drains: every callback has run
  for (auto& p : done) {
    Status s = p.get_future().get();
    EXPECT_EQ(s.code(), StatusCode::kUnavailable);
    EXPECT_NE(s.message().find("fdatasync"), std::string::npos);
  }
}

TEST(BatchExecutorTest, AJobErrorStaysWithItsJobAfterTheSync) {
  Gate gate;
  std::atomic<int> commits{0};
  std::promise<Status> ok, bad;
  OpenGate(gate);
  {
    BatchExecutor<FakeConn> exec(OneConn(), PipelinedDialect(gate, commits), 16);
    exec.Submit([](FakeConn& c) {
      c.wrote = true;
      return InvalidArgumentError("no such trigger");
    }, [&](const Status& s) { bad.set_value(s); });
    exec.Submit(Write, [&](const Status& s) { ok.set_value(s); });
  }
  EXPECT_EQ(bad.get_future().get().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ok.get_future().get().ok());
}


TEST(BatchExecutorTest, AReadOnlyBatchCostsNoSyncButWaitsForTheWritesBeforeIt) {
  Gate gate;
  std::atomic<int> commits{0};
  std::promise<Status> read_alone, write_done, read_after;
  {
    BatchExecutor<FakeConn> exec(OneConn(), PipelinedDialect(gate, commits), 16);
    // Nothing written yet: a read is answered with the gate closed, so without a sync.
    exec.Submit(Read, [&](const Status& s) { read_alone.set_value(s); });
    auto alone = read_alone.get_future();
    ASSERT_EQ(alone.wait_for(5s), std::future_status::ready) << "a read-only batch waited for a sync";
    EXPECT_TRUE(alone.get().ok());
    // A write whose sync is held, then a read that may have seen it: the read waits too.
    exec.Submit(Write, [&](const Status& s) { write_done.set_value(s); });
    for (int i = 0; i < 200 && commits.load() < 2; ++i) std::this_thread::sleep_for(5ms);
    exec.Submit(Read, [&](const Status& s) { read_after.set_value(s); });
    for (int i = 0; i < 200 && commits.load() < 3; ++i) std::this_thread::sleep_for(5ms);
    auto after = read_after.get_future();
    EXPECT_EQ(after.wait_for(100ms), std::future_status::timeout) << "answered before the write it follows was durable";
    OpenGate(gate);
    ASSERT_EQ(after.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(after.get().ok());
    EXPECT_TRUE(write_done.get_future().get().ok());
  }
  EXPECT_EQ(gate.syncs.load(), 1) << "only the write was synced";
}

// A job that throws fails alone with an InternalError; its neighbours and the writer thread go
// on (before, the exception ended the process from the store's thread).
TEST(BatchExecutorTest, AJobThatThrowsFailsAloneAndTheWriterGoesOn) {
  Gate gate;
  std::atomic<int> commits{0};
  OpenGate(gate);
  BatchExecutor<FakeConn> exec(OneConn(), PipelinedDialect(gate, commits), 16);
  Status thrown = exec.RunSync([](FakeConn&) -> Status { throw std::runtime_error("boom"); });
  EXPECT_EQ(thrown.code(), StatusCode::kInternal);
  EXPECT_NE(thrown.message().find("boom"), std::string::npos) << thrown.message();
  EXPECT_TRUE(exec.RunSync(Write).ok());
}

// A connection with a transaction and savepoints, to see what a batch leaves committed.
struct TxConn {
  std::vector<int> committed, pending;
  size_t mark = 0;
  int savepoints = 0;
};

BatchExecutor<TxConn>::Dialect TxDialect() {
  return {[](TxConn& c) {
            c.pending.clear();
            return Status::Ok();
          },
          [](TxConn& c) {
            c.committed.insert(c.committed.end(), c.pending.begin(), c.pending.end());
            c.pending.clear();
            return Status::Ok();
          },
          [](TxConn& c) { c.pending.clear(); },
          [](TxConn& c) {
            ++c.savepoints;
            c.mark = c.pending.size();
            return Status::Ok();
          },
          [](TxConn& c) { c.pending.resize(c.mark); },
          [](TxConn&) {},
          [](TxConn&) { return false; }};
}

// Webhooks are rerunnable jobs: a batch of them runs with no savepoint (SQLite copied every
// page a job touched into its statement journal, which cost more than the jobs). One failing
// job still fails alone: the batch runs again, savepoint by savepoint.
TEST(BatchExecutorTest, RerunnableJobsNeedNoSavepointsAndAFailureStillFailsAlone) {
  auto conns = std::vector<std::unique_ptr<TxConn>>();
  conns.push_back(std::make_unique<TxConn>());
  TxConn* conn = conns[0].get();
  BatchExecutor<TxConn> exec(std::move(conns), TxDialect(), 16);
  auto push = [](int v) {
    return [v](TxConn& c) {
      c.pending.push_back(v);
      return Status::Ok();
    };
  };
  // All succeed: one transaction, no savepoint.
  std::promise<void> go;
  std::shared_future<void> gate = go.get_future().share();
  std::promise<Status> first_done;
  std::promise<void> holding;
  exec.Submit([gate, &holding](TxConn&) {  // holds the writer so that the next jobs form one batch
    holding.set_value();
    gate.wait();
    return Status::Ok();
  }, [&](const Status& s) { first_done.set_value(s); });
  holding.get_future().wait();
  std::promise<Status> a, b, c;
  std::atomic<int> runs_of_a{0};
  exec.Submit([&runs_of_a](TxConn& conn) {
    ++runs_of_a;
    conn.pending.push_back(1);
    return Status::Ok();
  }, [&](const Status& s) { a.set_value(s); }, true);
  exec.Submit([](TxConn& conn) {
    conn.pending.push_back(2);
    return InvalidArgumentError("bad job");
  }, [&](const Status& s) { b.set_value(s); }, true);
  exec.Submit(push(3), [&](const Status& s) { c.set_value(s); }, true);
  go.set_value();
  EXPECT_TRUE(first_done.get_future().get().ok());
  EXPECT_TRUE(a.get_future().get().ok());
  EXPECT_EQ(b.get_future().get().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(c.get_future().get().ok());
  EXPECT_EQ(runs_of_a.load(), 2) << "run once optimistically, once more under its savepoint";
  std::vector<int> committed;
  int savepoints = 0;
  ASSERT_TRUE(exec.RunSync([&](TxConn&) {
    committed = conn->committed;
    savepoints = conn->savepoints;
    return Status::Ok();
  }).ok());
  EXPECT_EQ(committed, (std::vector<int>{1, 3})) << "the failed job's write was undone, and only it";
  // A batch of rerunnable jobs that all succeed takes no savepoint.
  const int before = savepoints;
  std::promise<void> go2;
  std::shared_future<void> gate2 = go2.get_future().share();
  std::promise<void> holding2;
  exec.Submit([gate2, &holding2](TxConn&) {
    holding2.set_value();
    gate2.wait();
    return Status::Ok();
  }, [](const Status&) {});
  holding2.get_future().wait();
  std::promise<Status> d, e;
  exec.Submit(push(4), [&](const Status& s) { d.set_value(s); }, true);
  exec.Submit(push(5), [&](const Status& s) { e.set_value(s); }, true);
  go2.set_value();
  EXPECT_TRUE(d.get_future().get().ok());
  EXPECT_TRUE(e.get_future().get().ok());
  ASSERT_TRUE(exec.RunSync([&](TxConn&) {
    committed = conn->committed;
    savepoints = conn->savepoints;
    return Status::Ok();
  }).ok());
  EXPECT_EQ(committed, (std::vector<int>{1, 3, 4, 5}));
  EXPECT_EQ(savepoints, before + 2) << "only the holding job and the RunSync that read the result took one";
}

// HealthStore::LastCommit: a write that could not be made durable is remembered until a write
// commits again; the failures of reads, and reads that succeed, change nothing.
TEST(BatchExecutorTest, TheLastWriteFailureLastsUntilAWriteCommits) {
  std::atomic<bool> full{false};
  BatchExecutor<FakeConn>::Dialect d{[](FakeConn&) { return Status::Ok(); },
                                     [&full](FakeConn&) { return full ? UnavailableError("disk full") : Status::Ok(); },
                                     [](FakeConn&) {},
                                     [](FakeConn&) { return Status::Ok(); },
                                     [](FakeConn&) {},
                                     [](FakeConn&) {},
                                     [](FakeConn&) { return true; }};
  BatchExecutor<FakeConn> exec(OneConn(), d, 16);
  EXPECT_TRUE(exec.RunSync(Write, /*rerunnable=*/true).ok());
  EXPECT_TRUE(exec.LastWriteFailure().ok());
  EXPECT_FALSE(exec.RunSync([](FakeConn&) { return InternalError("bad read"); }).ok());
  EXPECT_TRUE(exec.LastWriteFailure().ok()) << "a read's own failure says nothing about the store";
  full = true;
  EXPECT_FALSE(exec.RunSync(Write, /*rerunnable=*/true).ok());
  EXPECT_EQ(exec.LastWriteFailure().message(), "disk full");
  full = false;
  EXPECT_TRUE(exec.RunSync(Read).ok());
  EXPECT_FALSE(exec.LastWriteFailure().ok()) << "a read that commits proves nothing";
  EXPECT_TRUE(exec.RunSync(Write, /*rerunnable=*/true).ok());
  EXPECT_TRUE(exec.LastWriteFailure().ok());
}

}  // namespace
}  // namespace relay::store
