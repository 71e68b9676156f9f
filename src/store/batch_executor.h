#pragma once
// BatchExecutor: the store's writer threads. Each thread owns one database connection, takes
// whatever work is queued (up to `max_batch` jobs) and runs it as ONE transaction, each job
// under its own savepoint so a failing job does not undo its neighbours. Callbacks run after
// the commit, so "done" means durable — and N concurrent webhooks cost one commit (one fsync),
// not N. SQLite runs one such thread (it has one writer anyway); PostgreSQL runs several.
//
// Pipelined durability (when the dialect has commit_unsynced and sync): the writer commits a
// batch without waiting for the disk and goes on with the next one, while a syncer thread
// makes everything committed so far durable with one sync and only then runs the callbacks.
// The disk's latency then overlaps the next batch's work instead of adding to it, and one sync
// can cover several batches. "Done" still means durable.
// Private to the store module. Thread-safe.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/retry.h"
#include "common/status.h"
#include "common/thread_name.h"

namespace relay::store {

template <typename Conn>
class BatchExecutor {
 public:
  using Work = std::function<Status(Conn&)>;
  using Done = std::function<void(const Status&)>;

  // The transaction verbs of one database dialect.
  struct Dialect {
    std::function<Status(Conn&)> begin;     // also (re)connects when needed
    std::function<Status(Conn&)> commit;
    std::function<void(Conn&)> rollback;
    std::function<Status(Conn&)> savepoint;
    std::function<void(Conn&)> rollback_to_savepoint;
    std::function<void(Conn&)> release_savepoint;
    std::function<bool(Conn&)> healthy;  // the connection is up (a retry can succeed)
    // Optional, together (one writer thread only): commit without waiting for the disk
    // (returning whether the transaction wrote anything), and make every commit that returned
    // before the call durable. `sync` runs on the syncer thread, never concurrently with itself.
    std::function<StatusOr<bool>(Conn&)> commit_unsynced = nullptr;
    std::function<Status()> sync = nullptr;
  };
  static constexpr int kJobRetries = 3;

  BatchExecutor(std::vector<std::unique_ptr<Conn>> conns, Dialect dialect, size_t max_batch)
      : conns_(std::move(conns)), dialect_(std::move(dialect)), max_batch_(max_batch) {
    const bool pipelined = dialect_.commit_unsynced && dialect_.sync && conns_.size() == 1;
    if (pipelined) syncer_ = std::thread([this] { SyncLoop(); });
    for (auto& c : conns_) threads_.emplace_back([this, conn = c.get(), pipelined] { Loop(*conn, pipelined); });
  }

  // Runs everything already queued, then stops the threads.
  ~BatchExecutor() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    cv_.SignalAll();
    for (std::thread& t : threads_) t.join();
    if (syncer_.joinable()) {
      {
        MutexLock lock(sync_mu_);
        sync_stopping_ = true;
      }
      sync_cv_.SignalAll();
      syncer_.join();
    }
  }

  BatchExecutor(const BatchExecutor&) = delete;
  BatchExecutor& operator=(const BatchExecutor&) = delete;

  // `rerunnable`: the job resets its outputs on entry and has no effect outside its
  // transaction, so it may run again from the start. A batch of only such jobs runs without a
  // savepoint per job (see RunBatch).
  void Submit(Work work, Done done, bool rerunnable = false) {
    {
      MutexLock lock(mu_);
      queue_.push_back(Job{std::move(work), std::move(done), rerunnable});
    }
    cv_.Signal();
  }

  Status RunSync(Work work, bool rerunnable = false) {
    std::promise<Status> p;
    std::future<Status> f = p.get_future();
    Submit(std::move(work), [&p](const Status& s) { p.set_value(s); }, rerunnable);
    return f.get();
  }

  // Whether the store can make a write durable, as its writes last said: the failure of the
  // last batch that could not be made durable (a failed BEGIN, commit or sync, or a failed
  // rerunnable job — the webhooks' appends, HealthStore::Ping's probe — with a code IsTransient
  // or kInternal: a full disk, an I/O error, a lost connection), until a batch holding such a
  // write is committed (and synced) whole. Outcomes apply in the order the batches began. OK
  // otherwise. The other jobs' own failures (a lost lease, a read's bad input) change nothing.
  // Thread-safe, no I/O.
  Status LastWriteFailure() const {
    MutexLock lock(health_mu_);
    return write_failure_;
  }

 private:
  struct Job {
    Work work;
    Done done;
    bool rerunnable = false;
  };

  // The callbacks of a committed batch, waiting for the sync that makes it durable.
  struct Committed {
    std::vector<Done> done;
    std::vector<Status> results;
    bool wrote = true;  // false: a read-only batch, which needs no sync of its own
    bool writes = false;  // it holds rerunnable jobs (writes): see LastWriteFailure
    std::vector<bool> rerunnable;  // per job
    uint64_t seq = 0;              // RunBatch's order
  };

  static std::vector<bool> Rerunnable(const std::vector<Job>& batch) {
    std::vector<bool> out;
    for (const Job& j : batch) out.push_back(j.rerunnable);
    return out;
  }

  void Loop(Conn& conn, bool pipelined) {
    NameThisThread("retl-store");
    for (;;) {
      std::vector<Job> batch;
      {
        MutexLock lock(mu_);
        cv_.Wait(mu_, [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything queued has run
        while (!queue_.empty() && batch.size() < max_batch_) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      RunBatch(conn, batch, pipelined);
    }
  }

  void SyncLoop() {
    NameThisThread("retl-sync");
    Status synced;  // of the last sync (a failure is sticky in the dialect too)
    for (;;) {
      std::vector<Committed> ready;
      {
        MutexLock lock(sync_mu_);
        sync_cv_.Wait(sync_mu_, [this]() REQUIRES(sync_mu_) { return sync_stopping_ || !committed_.empty(); });
        if (committed_.empty()) return;  // stopping, and every commit has been synced
        ready.swap(committed_);
      }
      // Everything in `ready` returned from its commit before this call: one sync covers it all.
      // Batches that only read (a dispatcher's look that found nothing due, say) are answered
      // without one: every earlier batch was synced by an earlier turn of this loop, and they
      // may have read what those batches wrote, so they are answered in turn, not at once.
      if (std::any_of(ready.begin(), ready.end(), [](const Committed& c) { return c.wrote; })) {
        const auto began = Watch().SteadyNow();
        synced = dialect_.sync();
        SyncSeconds().Observe(std::chrono::duration<double>(Watch().SteadyNow() - began).count());
      }
      for (Committed& c : ready) {
        NoteWriteHealth(c.seq, synced, c.rerunnable, c.results, c.writes && c.wrote);
        for (size_t i = 0; i < c.done.size(); ++i) c.done[i](synced.ok() ? c.results[i] : synced);
      }
    }
  }

  // A job that throws fails alone, like one that returns an error: the writer thread, and so
  // the process, goes on.
  static Status RunJob(Job& job, Conn& conn) {
    try {
      return job.work(conn);
    } catch (const std::exception& e) {
      return InternalError(std::string("store job threw: ") + e.what());
    } catch (...) {
      return InternalError("store job threw a non-standard exception");
    }
  }

  // How long the writer held a transaction open, per batch (from BEGIN to the commit's return,
  // before any sync): what every webhook queued behind it waits for.
  static metrics::Histogram& TransactionSeconds() {
    static metrics::Histogram& h = metrics::Default().GetHistogram(
        "retl_relay_store_transaction_seconds", "time a store writer held one transaction (one batch of jobs) open",
        {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    return h;
  }

  // Runs the batch's jobs in one transaction, each under a savepoint so that a failing job
  // does not undo its neighbours.
  Status RunWithSavepoints(Conn& conn, std::vector<Job>& batch, std::vector<Status>& results) {
    Status tx = dialect_.begin(conn);
    if (!tx.ok()) return tx;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (Status s = dialect_.savepoint(conn); !s.ok()) {
        results[i] = s;
        continue;
      }
      // A transient failure (a deadlock with another instance's transaction, say) undoes
      // just this job; it runs again from its savepoint. Jobs reset their outputs on entry.
      for (int attempt = 0;; ++attempt) {
        results[i] = RunJob(batch[i], conn);
        if (results[i].ok()) break;
        dialect_.rollback_to_savepoint(conn);
        if (attempt >= kJobRetries || !IsTransient(results[i]) || !dialect_.healthy(conn)) break;
      }
      dialect_.release_savepoint(conn);
    }
    return Status::Ok();
  }

  // A batch of rerunnable jobs (webhooks, the bulk of the traffic) first runs with no savepoint
  // at all: a savepoint makes SQLite copy every page the job touches that the batch had already
  // touched (the tables' right edges, the connection's counters) into its statement journal,
  // which cost more than the jobs themselves, and costs PostgreSQL two round trips per job. Should
  // a job fail, the whole transaction is rolled back and the batch runs again, savepoint by
  // savepoint, with the outcome it would have had: rare, and the same result.
  Status RunOptimistically(Conn& conn, std::vector<Job>& batch, std::vector<Status>& results, bool* all_ok) {
    *all_ok = false;
    Status tx = dialect_.begin(conn);
    if (!tx.ok()) return tx;
    for (size_t i = 0; i < batch.size(); ++i) {
      results[i] = RunJob(batch[i], conn);
      if (!results[i].ok()) {
        dialect_.rollback(conn);
        return Status::Ok();
      }
    }
    *all_ok = true;
    return Status::Ok();
  }

  // The real monotonic clock, for the two histograms only (they measure; nothing decides on them).
  static Clock& Watch() {
    static SystemClock clock;
    return clock;
  }

  // How long one sync (fdatasync of SQLite's WAL) took: webhooks committed meanwhile wait for it.
  static metrics::Histogram& SyncSeconds() {
    static metrics::Histogram& h = metrics::Default().GetHistogram(
        "retl_relay_store_sync_seconds", "time one sync of committed store transactions to disk took",
        {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    return h;
  }

  void RunBatch(Conn& conn, std::vector<Job>& batch, bool pipelined) {
    const uint64_t seq = batch_seq_.fetch_add(1) + 1;  // the order for NoteWriteHealth
    std::vector<Status> results(batch.size());
    bool wrote = false;
    const auto began = Watch().SteadyNow();
    bool ran = false;
    Status tx;
    if (std::all_of(batch.begin(), batch.end(), [](const Job& j) { return j.rerunnable; })) {
      tx = RunOptimistically(conn, batch, results, &ran);
      ran = ran || !tx.ok();  // a failed BEGIN is the batch's outcome either way
    }
    if (!ran) tx = RunWithSavepoints(conn, batch, results);
    if (tx.ok()) {
      if (pipelined) {
        StatusOr<bool> committed = dialect_.commit_unsynced(conn);
        tx = committed.status();
        wrote = committed.ok() && *committed;
      } else {
        tx = dialect_.commit(conn);
      }
      if (!tx.ok()) dialect_.rollback(conn);
      TransactionSeconds().Observe(std::chrono::duration<double>(Watch().SteadyNow() - began).count());
    }
    const bool writes = std::any_of(batch.begin(), batch.end(), [](const Job& j) { return j.rerunnable; });
    if (pipelined && tx.ok()) {
      Committed c;
      c.wrote = wrote;
      c.writes = writes;
      c.seq = seq;
      c.rerunnable = Rerunnable(batch);
      c.results = std::move(results);
      for (Job& job : batch) c.done.push_back(std::move(job.done));
      {
        MutexLock lock(sync_mu_);
        committed_.push_back(std::move(c));
      }
      sync_cv_.Signal();
      return;
    }
    NoteWriteHealth(seq, tx, Rerunnable(batch), results, writes);
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done(tx.ok() ? results[i] : tx);
  }

  // The store's own failures: what a full disk, an I/O error or a lost server looks like.
  static bool StoreFailure(const Status& s) {
    return !s.ok() && (IsTransient(s) || s.code() == StatusCode::kInternal);
  }

  // See LastWriteFailure. `tx` is the batch's transaction (or sync), `results` its jobs';
  // `rerunnable[i]` says whether job i is a write whose failure speaks for the store.
  void NoteWriteHealth(uint64_t seq, const Status& tx, const std::vector<bool>& rerunnable,
                       const std::vector<Status>& results, bool writes) {
    Status failure = StoreFailure(tx) ? tx : Status::Ok();
    for (size_t i = 0; failure.ok() && tx.ok() && i < results.size(); ++i) {
      if (rerunnable[i] && StoreFailure(results[i])) failure = results[i];
    }
    const bool all_ok = tx.ok() && std::all_of(results.begin(), results.end(), [](const Status& r) { return r.ok(); });
    MutexLock lock(health_mu_);
    if (seq < health_seq_) return;  // a batch that began later has spoken already
    if (!failure.ok()) {
      write_failure_ = failure;
      health_seq_ = seq;
    } else if (all_ok && writes) {
      write_failure_ = Status::Ok();
      health_seq_ = seq;
    }
  }

  std::vector<std::unique_ptr<Conn>> conns_;
  const Dialect dialect_;
  const size_t max_batch_;
  Mutex mu_;
  CondVar cv_;
  std::deque<Job> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;

  std::atomic<uint64_t> batch_seq_{0};
  mutable Mutex health_mu_;
  Status write_failure_ GUARDED_BY(health_mu_);
  uint64_t health_seq_ GUARDED_BY(health_mu_) = 0;

  Mutex sync_mu_;
  CondVar sync_cv_;
  std::vector<Committed> committed_ GUARDED_BY(sync_mu_);
  bool sync_stopping_ GUARDED_BY(sync_mu_) = false;
  std::thread syncer_;
};

}  // namespace relay::store
