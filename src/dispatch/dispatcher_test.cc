// The per-connection sync lifecycle, driven step by step on a FakeClock against an in-memory
// RudderStack and a real SQLite store. No sleeps.

#include "dispatch/dispatcher.h"

#include <gtest/gtest.h>

#include "../../test/support/memory_rudderstack.h"
#include "../../test/support/temp_dir.h"
#include "common/metrics.h"

namespace relay::dispatch {
namespace {

using relay::testing::MemoryRudderstack;
using relay::testing::TempDir;
using std::chrono::minutes;
using std::chrono::seconds;

// The store under test, with KnownSync failing on demand (a database error at the worst time).
class FlakyKnownSyncStore : public store::Store {
 public:
  explicit FlakyKnownSyncStore(std::unique_ptr<store::Store> inner) : inner_(std::move(inner)) {}
  bool fail_known_sync = false;

  StatusOr<bool> KnownSync(const std::string& c, const std::string& s) override {
    if (fail_known_sync) return Status(StatusCode::kUnavailable, "database is locked");
    return inner_->KnownSync(c, s);
  }
  void AppendAsync(store::NewEvent e, std::vector<store::NewTrigger> t, AppendCallback done) override {
    inner_->AppendAsync(std::move(e), std::move(t), std::move(done));
  }
  StatusOr<std::optional<store::Claim>> ClaimConnection(const std::string& o, TimePoint n, Duration l) override {
    return inner_->ClaimConnection(o, n, l);
  }
  Status RenewLease(const std::string& c, const std::string& o, TimePoint u) override { return inner_->RenewLease(c, o, u); }
  Status Commit(store::Transition& t) override { return inner_->Commit(t); }
  StatusOr<TimePoint> Watermark(const std::string& scope, TimePoint now) override { return inner_->Watermark(scope, now); }
  StatusOr<std::vector<RunOutcome>> KnownRuns(const std::vector<RunOutcome>& r) override { return inner_->KnownRuns(r); }
  StatusOr<std::vector<store::PendingVerification>> DueVerifications(TimePoint now, int limit) override {
    return inner_->DueVerifications(now, limit);
  }
  StatusOr<store::AppendResult> ResolveVerification(const std::string& e, std::string_view st, const std::string& note,
                                                    int code, const std::vector<store::NewTrigger>& t,
                                                    const std::vector<store::FanInStep>& f, TimePoint now) override {
    return inner_->ResolveVerification(e, st, note, code, t, f, now);
  }
  Status PostponeVerification(const std::string& e, TimePoint next, const std::string& note) override {
    return inner_->PostponeVerification(e, next, note);
  }
  StatusOr<Aged> FindAged(const std::string& c, int64_t lo, int64_t hi, TimePoint cut) override {
    return inner_->FindAged(c, lo, hi, cut);
  }
  StatusOr<std::vector<store::Start>> ListStarts(const std::string& c, int l) override { return inner_->ListStarts(c, l); }
  StatusOr<std::vector<store::Trigger>> ListTriggers(const std::string& f, int l) override {
    return inner_->ListTriggers(f, l);
  }
  StatusOr<std::optional<store::StoredEvent>> GetEvent(const std::string& e) override { return inner_->GetEvent(e); }
  StatusOr<int64_t> CountEvents() override { return inner_->CountEvents(); }
  StatusOr<std::vector<store::Attempt>> ListAttempts(const std::string& c, int l) override {
    return inner_->ListAttempts(c, l);
  }
  StatusOr<std::vector<store::Sync>> ListSyncs(const std::string& c, int l) override { return inner_->ListSyncs(c, l); }
  StatusOr<std::optional<store::Sync>> GetSync(const std::string& c, const std::string& s) override {
    return inner_->GetSync(c, s);
  }
  StatusOr<std::optional<store::Connection>> GetConnection(const std::string& c) override {
    return inner_->GetConnection(c);
  }
  StatusOr<std::vector<store::StoredEvent>> ListEvents(const store::EventFilter& f) override {
    return inner_->ListEvents(f);
  }
  StatusOr<std::vector<store::Trigger>> EventTriggers(const std::string& e) override { return inner_->EventTriggers(e); }
  StatusOr<std::optional<store::Trigger>> GetTrigger(int64_t id) override { return inner_->GetTrigger(id); }
  StatusOr<std::vector<store::Attempt>> TriggerAttempts(const store::Trigger& t) override {
    return inner_->TriggerAttempts(t);
  }
  StatusOr<std::vector<store::ConnectionStatus>> ListConnections() override { return inner_->ListConnections(); }
  StatusOr<store::Activity> ReadActivity(TimePoint since) override { return inner_->ReadActivity(since); }
  StatusOr<std::vector<int64_t>> AddTriggers(const std::string& e, const std::vector<store::NewTrigger>& t,
                                             TimePoint n) override {
    return inner_->AddTriggers(e, t, n);
  }
  StatusOr<std::vector<int64_t>> RetryDead(const std::vector<int64_t>& ids, TimePoint n) override {
    return inner_->RetryDead(ids, n);
  }
  StatusOr<store::PruneCounts> Prune(TimePoint c, int b, bool d) override { return inner_->Prune(c, b, d); }
  StatusOr<std::vector<store::FanInRun>> ListFanInProgress() override { return inner_->ListFanInProgress(); }
  StatusOr<int> AddAlerts(const std::vector<store::NewAlert>& a) override { return inner_->AddAlerts(a); }
  StatusOr<std::optional<store::AlertSinkState>> ClaimAlertSink(const std::string& n, const std::string& o, TimePoint t,
                                                               Duration l) override {
    return inner_->ClaimAlertSink(n, o, t, l);
  }
  StatusOr<std::vector<store::StoredAlert>> AlertsAfter(int64_t a, int l) override { return inner_->AlertsAfter(a, l); }
  Status SaveAlertSink(const store::AlertSinkState& s, const std::string& o) override { return inner_->SaveAlertSink(s, o); }
  StatusOr<std::vector<store::AlertSinkState>> ListAlertSinks() override { return inner_->ListAlertSinks(); }
  StatusOr<StartRuns> RunsOfStart(const std::string& c, int64_t s, int l) override { return inner_->RunsOfStart(c, s, l); }
  Status Ping() override { return inner_->Ping(); }
  Status LastCommit() override { return inner_->LastCommit(); }
  StatusOr<store::Gauges> ReadGauges() override { return inner_->ReadGauges(); }

 private:
  std::unique_ptr<store::Store> inner_;
};

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : api_(clock_) {
    auto flaky = std::make_unique<FlakyKnownSyncStore>(std::move(store::OpenStore("sqlite://" + dir_.File("relay.db"))).value());
    flaky_ = flaky.get();
    store_ = std::move(flaky);
    options_.retry_initial = seconds(1);
    options_.retry_max = seconds(60);
    options_.max_age = std::chrono::hours(1);
    options_.lease = seconds(60);
    options_.sync_poll_interval = seconds(10);
    options_.outcome_timeout = std::chrono::hours(24);
    options_.start_skew = seconds(30);
    dispatcher_ = std::make_unique<Dispatcher>(*store_, api_, clock_, options_, "test", [] { return 0.5; });
  }

  // One webhook → one trigger for `connection`.
  void AddTrigger(const std::string& connection, const std::string& sync_type = "incremental",
                  const std::string& if_running = "queue") {
    std::string id = "e" + std::to_string(++events_);
    store::NewEvent ev{id, "job.run.completed", 1, 1, events_, 10, "{}", clock_.Now()};
    ASSERT_TRUE(store_->Append(ev, {{"r", connection, sync_type, if_running, id + connection}}).ok());
  }

  // Runs steps until nothing is due now.
  int Drain() {
    int steps = 0;
    while (steps < 100) {
      StatusOr<bool> did = dispatcher_->RunOnce("w");
      EXPECT_TRUE(did.ok()) << did.status().ToString();
      if (!did.ok() || !*did) break;
      ++steps;
    }
    return steps;
  }
  // Advances the clock in poll-sized ticks, draining after each.
  void RunFor(Duration d) {
    for (Duration t{0}; t < d; t += seconds(10)) {
      clock_.Advance(seconds(10));
      Drain();
    }
  }

  std::vector<store::Trigger> Triggers() { return *store_->ListTriggers("", 100); }
  std::map<std::string, int> States() {
    std::map<std::string, int> m;
    for (const auto& t : Triggers()) ++m[t.state];
    return m;
  }
  store::Connection Conn(const std::string& id) { return **store_->GetConnection(id); }
  // A worker of a process about to die: it claims `connection`, commits "starting at T" for its
  // first trigger, sends the start (RudderStack carries it out) and dies before recording the
  // answer. Its lease stays live for options_.lease.
  void StartByDyingOwner(const std::string& connection) {
    auto claim = *store_->ClaimConnection("dead-process/w0", clock_.Now(), options_.lease);
    ASSERT_TRUE(claim.has_value());
    store::Transition t;
    t.owner = "dead-process/w0";
    t.now = clock_.Now();
    t.connection = claim->connection;
    t.connection.phase = store::Phase::kStarting;
    t.connection.start_attempted_at = clock_.Now();
    t.connection.sync_type = "incremental";
    t.connection.next_check_at = clock_.Now() + options_.lease;
    store::Start start;  // its first trigger only
    start.seq_lo = claim->connection.covered;
    start.seq_hi = t.connection.covered = start.seq_lo + 1;
    start.triggers = 1;
    start.policies = store::kPolicyQueue;
    start.oldest = *claim->backlog.oldest;
    start.attempted_at = clock_.Now();
    t.starts.push_back(start);
    ASSERT_TRUE(store_->Commit(t).ok());
    ASSERT_TRUE(api_.StartSync(connection, "incremental", nullptr).ok());
  }

  TempDir dir_;
  FakeClock clock_;
  MemoryRudderstack api_;
  std::unique_ptr<store::Store> store_;
  FlakyKnownSyncStore* flaky_ = nullptr;  // store_, seen as what it is
  config::DispatchConfig options_;
  std::unique_ptr<Dispatcher> dispatcher_;
  int64_t events_ = 0;
};

TEST_F(DispatcherTest, StartsAndFollowsASyncToSuccessWithMetrics) {
  AddTrigger("c1");
  Drain();
  ASSERT_EQ(api_.performed_starts(), 1);
  EXPECT_EQ(Triggers()[0].state, "running");
  EXPECT_EQ(Triggers()[0].sync_id, "sync_1");
  EXPECT_EQ(store::ToString(Conn("c1").phase), "running");
  RunFor(minutes(5));
  EXPECT_EQ(Triggers()[0].state, "succeeded");
  EXPECT_EQ(store::ToString(Conn("c1").phase), "idle");
  auto syncs = *store_->ListSyncs("c1", 10);
  ASSERT_EQ(syncs.size(), 1u);
  EXPECT_EQ(syncs[0].status, "succeeded");
  EXPECT_EQ(syncs[0].origin, "relay");
  EXPECT_EQ(syncs[0].succeeded, 40);
  EXPECT_EQ(syncs[0].total, 43);
  EXPECT_FALSE(syncs[0].finished_at.empty());
  EXPECT_EQ(api_.count("get"), 30) << "one poll per 10 s for 5 minutes";
}

// Every RudderStack call is counted in retl_relay_rudderstack_requests_total; the audit trail
// keeps the calls that changed something, not the 30 polls that found the sync still running.
TEST_F(DispatcherTest, EveryPollIsCountedAndTheTrailKeepsTheCallsThatMattered) {
  auto polls = [] {
    return metrics::Default()
        .GetCounter("retl_relay_rudderstack_requests_total", "calls to the RudderStack API, by endpoint and status class",
                    {{"endpoint", "get_sync"}, {"status_class", "2xx"}})
        .value();
  };
  const uint64_t before = polls();
  AddTrigger("c1");
  Drain();
  RunFor(minutes(5));
  ASSERT_EQ(Triggers()[0].state, "succeeded");
  EXPECT_EQ(polls() - before, static_cast<uint64_t>(api_.count("get"))) << "every poll counted";
  StatusOr<std::vector<store::Attempt>> attempts = store_->ListAttempts("c1", 100);
  ASSERT_TRUE(attempts.ok());
  std::vector<std::string> kinds;
  for (const store::Attempt& a : *attempts) kinds.push_back(a.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"start", "get_sync"})) << "the start, and the poll that saw the outcome";
  EXPECT_EQ(store_->TriggerAttempts(Triggers()[0])->size(), 2u);
}

TEST_F(DispatcherTest, SyncFailureStoresErrorAndMetrics) {
  api_.outcome = "failed";
  AddTrigger("c1");
  Drain();
  RunFor(minutes(5));
  EXPECT_EQ(Triggers()[0].state, "failed");
  EXPECT_EQ(Triggers()[0].last_error, "destination rejected 3 records");
  auto sync = (*store_->ListSyncs("c1", 10))[0];
  EXPECT_EQ(sync.status, "failed");
  EXPECT_EQ(sync.error, "destination rejected 3 records");
  EXPECT_EQ(sync.failed, 3);
}

TEST_F(DispatcherTest, TenTriggersWhileRunningGiveExactlyOneFollowUp) {
  AddTrigger("c1");
  Drain();
  ASSERT_EQ(api_.performed_starts(), 1);
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(std::chrono::milliseconds(100));
    AddTrigger("c1");
    Drain();
  }
  EXPECT_EQ(api_.count("start"), 1) << "nothing is started while the first sync runs";
  RunFor(minutes(11));
  EXPECT_EQ(api_.count("start"), 2);
  EXPECT_EQ(api_.performed_starts(), 2);
  auto t = Triggers();
  ASSERT_EQ(t.size(), 11u);
  EXPECT_EQ(t[0].sync_id, "sync_1");
  for (size_t i = 1; i < t.size(); ++i) {
    EXPECT_EQ(t[i].state, "succeeded");
    EXPECT_EQ(t[i].sync_id, "sync_2") << "trigger " << i;
  }
}

TEST_F(DispatcherTest, FullAndIncrementalCoalesceIntoOneFullStart) {
  AddTrigger("c1", "incremental");
  AddTrigger("c1", "full");
  AddTrigger("c1", "incremental");
  Drain();
  auto calls = api_.calls();
  ASSERT_EQ(api_.count("start"), 1);
  EXPECT_EQ(calls[0].detail, "full");
  for (const auto& t : Triggers()) EXPECT_EQ(t.sync_id, "sync_1");
}

TEST_F(DispatcherTest, QueueWaitsForAnExternalSyncThenStartsOnce) {
  std::string external = api_.StartExternal("c1", minutes(2));
  AddTrigger("c1", "incremental", "queue");
  Drain();
  EXPECT_EQ(api_.performed_starts(), 0);
  EXPECT_EQ(store::ToString(Conn("c1").phase), "waiting");
  EXPECT_EQ(Conn("c1").sync_id, external);
  EXPECT_EQ(Triggers()[0].state, "pending");
  RunFor(seconds(110));
  EXPECT_EQ(api_.count("start"), 1) << "no start while the external sync runs";
  RunFor(seconds(20));
  EXPECT_EQ(api_.count("start"), 2);
  EXPECT_EQ(api_.performed_starts(), 1);
  EXPECT_EQ(Triggers()[0].state, "running");
  EXPECT_NE(Triggers()[0].sync_id, external);
}

TEST_F(DispatcherTest, SkipRecordsTheRunningSyncAndStartsNothing) {
  std::string external = api_.StartExternal("c1", minutes(2));
  AddTrigger("c1", "incremental", "skip");
  Drain();
  RunFor(minutes(5));
  EXPECT_EQ(api_.performed_starts(), 0);
  EXPECT_EQ(Triggers()[0].state, "skipped");
  EXPECT_EQ(Triggers()[0].sync_id, external);
  auto syncs = *store_->ListSyncs("c1", 10);
  ASSERT_EQ(syncs.size(), 1u);
  EXPECT_EQ(syncs[0].origin, "external");
}

TEST_F(DispatcherTest, RestartStopsTheRunningSyncThenStarts) {
  api_.StartExternal("c1", std::chrono::hours(1));
  AddTrigger("c1", "incremental", "restart");
  Drain();
  EXPECT_EQ(api_.count("stop"), 1);
  EXPECT_EQ(store::ToString(Conn("c1").phase), "stopping");
  RunFor(seconds(20));
  auto calls = api_.calls();
  std::vector<std::string> order;
  for (const auto& c : calls) {
    if (c.endpoint == "start" || c.endpoint == "stop") order.push_back(c.endpoint + (c.performed ? "+" : "-"));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"start-", "stop+", "start+"}));
  EXPECT_EQ(Triggers()[0].state, "running");
}

// Found by the fault harness: the sync to be stopped must be known to the store before the stop
// is sent, or a crash in between lets the next owner adopt it as the result of its own start.
TEST_F(DispatcherTest, RestartCommitsTheStopBeforeSendingIt) {
  std::string external = api_.StartExternal("c1", std::chrono::hours(1));
  AddTrigger("c1", "incremental", "restart");
  bool known_before_stop = false;
  std::string phase_before_stop;
  api_.before_stop = [&] {
    known_before_stop = *store_->KnownSync("c1", external);
    phase_before_stop = std::string(store::ToString(Conn("c1").phase));
  };
  Drain();
  ASSERT_EQ(api_.count("stop"), 1);
  EXPECT_TRUE(known_before_stop);
  EXPECT_EQ(phase_before_stop, "stopping");
}

TEST_F(DispatcherTest, PerformedStartAnswered500IsAdoptedNotResent) {
  api_.Fail("start", Status(StatusCode::kUnavailable, "HTTP 500"), /*perform=*/true);
  AddTrigger("c1");
  Drain();
  EXPECT_EQ(store::ToString(Conn("c1").phase), "starting");
  EXPECT_EQ(Triggers()[0].state, "starting");
  clock_.Advance(seconds(1));
  Drain();
  EXPECT_EQ(api_.count("start"), 1) << "the ambiguous start is resolved, not re-sent";
  EXPECT_EQ(Triggers()[0].state, "running");
  EXPECT_EQ(Triggers()[0].sync_id, "sync_1");
  EXPECT_EQ((*store_->ListSyncs("c1", 10))[0].origin, "adopted");
  RunFor(minutes(5));
  EXPECT_EQ(Triggers()[0].state, "succeeded");
}

TEST_F(DispatcherTest, UnperformedStartIsResentAfterCheckingNothingStarted) {
  api_.Fail("start", Status(StatusCode::kDeadlineExceeded, "timed out"), /*perform=*/false);
  AddTrigger("c1");
  Drain();
  clock_.Advance(seconds(1));
  Drain();
  EXPECT_EQ(api_.count("start"), 2);
  EXPECT_EQ(api_.performed_starts(), 1);
  EXPECT_EQ(api_.count("list"), 1) << "recent syncs were checked first";
  EXPECT_EQ(Triggers()[0].state, "running");
}

TEST_F(DispatcherTest, StartSentBeforeACrashIsAdoptedByTheNextOwner) {
  AddTrigger("c1");
  ASSERT_NO_FATAL_FAILURE(StartByDyingOwner("c1"));

  Drain();
  EXPECT_EQ(api_.count("list"), 0) << "the dead owner's lease is still live";
  clock_.Advance(options_.lease);
  Drain();
  EXPECT_EQ(api_.count("start"), 1) << "no second start";
  EXPECT_EQ(Triggers()[0].state, "running");
  EXPECT_EQ(Triggers()[0].sync_id, "sync_1");
  RunFor(minutes(5));
  EXPECT_EQ(Triggers()[0].state, "succeeded");
}

// Found by the crash harness: our start ran and finished before the next owner looked, and
// someone else started a sync meanwhile. The next owner must adopt its own (finished) sync,
// not the newer external one, or our sync would be unknown to the store.
TEST_F(DispatcherTest, AmbiguousStartAdoptsItsOwnFinishedSyncNotANewerExternalOne) {
  api_.sync_duration = seconds(1);
  AddTrigger("c1");
  ASSERT_NO_FATAL_FAILURE(StartByDyingOwner("c1"));  // ours: sync_1, answer lost
  clock_.Advance(seconds(5));                                       // sync_1 has finished
  std::string external = api_.StartExternal("c1", minutes(10));    // sync_2, running
  clock_.Advance(options_.lease);
  Drain();
  EXPECT_EQ(Triggers()[0].sync_id, "sync_1");
  EXPECT_EQ(Triggers()[0].state, "succeeded");
  EXPECT_EQ(api_.performed_starts(), 1) << "no second start";
}

TEST_F(DispatcherTest, PermanentErrorKillsTriggersWithTheReason) {
  api_.Fail("start", Status(StatusCode::kNotFound, "HTTP 404 connection not found"));
  AddTrigger("c1");
  Drain();
  EXPECT_EQ(Triggers()[0].state, "dead");
  EXPECT_NE(Triggers()[0].last_error.find("HTTP 404"), std::string::npos);
  EXPECT_EQ(store::ToString(Conn("c1").phase), "idle");
  RunFor(minutes(1));
  EXPECT_EQ(api_.count("start"), 1);
}

TEST_F(DispatcherTest, TriggersOlderThanMaxAgeGoDeadWithTheLastError) {
  api_.StartExternal("c1", std::chrono::hours(5));
  AddTrigger("c1");
  Drain();
  ASSERT_EQ(store::ToString(Conn("c1").phase), "waiting");
  api_.Fail("list", Status(StatusCode::kUnavailable, "HTTP 503"));
  RunFor(std::chrono::minutes(61));
  EXPECT_EQ(Triggers()[0].state, "dead");
  EXPECT_NE(Triggers()[0].last_error.find("maximum age exceeded"), std::string::npos) << Triggers()[0].last_error;
  EXPECT_EQ(api_.performed_starts(), 0);
}

// max_age applied to pending triggers only: a connection whose /start kept failing with 5xx
// sent it again, for these triggers, forever.
TEST_F(DispatcherTest, StartingTriggersOlderThanMaxAgeGoDeadInsteadOfRetryingForever) {
  for (int i = 0; i < 500; ++i) api_.Fail("start", Status(StatusCode::kUnavailable, "HTTP 503"));
  AddTrigger("c1");
  Drain();
  ASSERT_EQ(Triggers()[0].state, "starting");
  RunFor(std::chrono::minutes(61));
  EXPECT_EQ(Triggers()[0].state, "dead");
  EXPECT_NE(Triggers()[0].last_error.find("maximum age exceeded; last error: UNAVAILABLE: HTTP 503"), std::string::npos)
      << Triggers()[0].last_error;
  EXPECT_EQ(store::ToString(Conn("c1").phase), "idle");
  const int starts = api_.count("start");
  RunFor(std::chrono::minutes(10));
  EXPECT_EQ(api_.count("start"), starts) << "nothing is sent for a dead trigger";
}

// A store error while resolving an ambiguous start was read as "this sync is not a candidate":
// with the sync already finished and nothing else running, the start was sent a second time.
TEST_F(DispatcherTest, StoreErrorWhileResolvingAStartNeverSendsItAgain) {
  api_.sync_duration = seconds(1);
  AddTrigger("c1");
  ASSERT_NO_FATAL_FAILURE(StartByDyingOwner("c1"));  // sync_1 runs; the answer is lost
  clock_.Advance(options_.lease);                    // sync_1 has finished; the lease is over
  flaky_->fail_known_sync = true;
  Drain();
  EXPECT_EQ(api_.count("start"), 1) << "no second start while the store cannot answer";
  EXPECT_EQ(store::ToString(Conn("c1").phase), "starting");
  EXPECT_NE(Conn("c1").last_error.find("database is locked"), std::string::npos) << Conn("c1").last_error;
  flaky_->fail_known_sync = false;
  RunFor(seconds(70));
  EXPECT_EQ(api_.count("start"), 1);
  EXPECT_EQ(Triggers()[0].sync_id, "sync_1");
  EXPECT_EQ(Triggers()[0].state, "succeeded");
}

TEST_F(DispatcherTest, RetryableErrorsBackOffAndHonourRetryAfter) {
  Status limited(StatusCode::kResourceExhausted, "HTTP 429");
  limited.set_retry_after(seconds(30));
  api_.Fail("start", limited);
  AddTrigger("c1");
  Drain();
  EXPECT_EQ(Conn("c1").attempts, 1);
  clock_.Advance(seconds(29));
  Drain();
  EXPECT_EQ(api_.count("list"), 0) << "Retry-After not over yet";
  clock_.Advance(seconds(1));
  Drain();
  EXPECT_EQ(Triggers()[0].state, "running");
}

TEST_F(DispatcherTest, OutcomeUnknownAfterTheLimitIsDeadNotFailed) {
  api_.sync_duration = std::chrono::hours(48);
  options_.outcome_timeout = std::chrono::hours(1);
  options_.max_age = std::chrono::hours(100);
  dispatcher_ = std::make_unique<Dispatcher>(*store_, api_, clock_, options_, "test", [] { return 0.5; });
  AddTrigger("c1");
  Drain();
  RunFor(std::chrono::minutes(61));
  EXPECT_EQ(Triggers()[0].state, "dead");
  EXPECT_NE(Triggers()[0].last_error.find("unknown after"), std::string::npos);
  EXPECT_EQ((*store_->ListSyncs("c1", 10))[0].status, "unknown");
}

TEST_F(DispatcherTest, PollErrorsAreRetriedAndAreNotSyncFailures) {
  AddTrigger("c1");
  Drain();
  api_.Fail("get", Status(StatusCode::kUnavailable, "HTTP 502"));
  api_.Fail("get", Status(StatusCode::kDeadlineExceeded, "timed out"));
  RunFor(minutes(6));
  EXPECT_EQ(Triggers()[0].state, "succeeded");
}

TEST_F(DispatcherTest, ConnectionsProgressIndependently) {
  api_.Fail("start", Status(StatusCode::kNotFound, "HTTP 404"));
  AddTrigger("c1");
  AddTrigger("c2");
  Drain();
  std::map<std::string, std::string> by_conn;
  for (const auto& t : Triggers()) by_conn[t.connection_id] = t.state;
  EXPECT_EQ(by_conn["c1"], "dead");
  EXPECT_EQ(by_conn["c2"], "running");
}

TEST_F(DispatcherTest, WorkerThreadsDeliverWhenNotified) {
  options_.workers = 2;
  options_.poll_interval = std::chrono::seconds(60);  // only Notify can wake them in time
  Dispatcher d(*store_, api_, clock_, options_, "threads", [] { return 0.0; });
  d.Start();
  AddTrigger("c1");
  d.Notify();
  for (int i = 0; i < 500 && Triggers()[0].state != "running"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  d.Stop();
  EXPECT_EQ(Triggers()[0].state, "running");
}

// The connection machine as a table: every phase that calls RudderStack, against every kind of
// answer, and where the connection and its trigger end up after one step (the machine
// carrying out connection_machine.h's table, which LifecycleTableTest checks against Decide).
struct Row {
  const char* phase;    // idle (POST …/start), starting (resolve: GET …/syncs), waiting and
                        // stopping (GET …/syncs?status=running), running (GET …/syncs/S)
  const char* outcome;  // 2xx, 409, 404, 401, 429, 5xx, timeout, refused
  const char* then_phase;
  const char* then_trigger;
};

Status Outcome(const std::string& outcome) {
  if (outcome == "404") return Status(StatusCode::kNotFound, "HTTP 404");
  if (outcome == "401") return Status(StatusCode::kUnauthenticated, "HTTP 401");
  if (outcome == "409") return Status(StatusCode::kConflict, "HTTP 409");
  if (outcome == "429") return Status(StatusCode::kResourceExhausted, "HTTP 429");
  if (outcome == "5xx") return Status(StatusCode::kUnavailable, "HTTP 503");
  if (outcome == "timeout") return Status(StatusCode::kDeadlineExceeded, "timed out (the server may have acted)");
  if (outcome == "refused") return Status(StatusCode::kUnavailable, "connection refused (request not sent)");
  return Status::Ok();
}

class MachineTableTest : public DispatcherTest, public ::testing::WithParamInterface<Row> {};

TEST_P(MachineTableTest, OneStepFromEachPhaseOnEachAnswer) {
  const Row row = GetParam();
  const std::string phase = row.phase, outcome = row.outcome;
  const Status answer = Outcome(outcome);
  if (phase == "idle") {
    if (outcome == "409") api_.StartExternal("c1", std::chrono::hours(1));  // a real 409
    else if (!answer.ok()) api_.Fail("start", answer);
    AddTrigger("c1");
    Drain();
  } else {
    if (phase == "waiting" || phase == "stopping") api_.StartExternal("c1", std::chrono::hours(1));
    if (phase == "starting") api_.Fail("start", Status(StatusCode::kDeadlineExceeded, "timed out"), /*perform=*/true);
    AddTrigger("c1", "incremental", phase == "stopping" ? "restart" : "queue");
    Drain();
    ASSERT_EQ(store::ToString(Conn("c1").phase), phase);
    const char* endpoint = phase == "running" ? "get" : "list";
    if (!answer.ok()) api_.Fail(endpoint, answer);
    clock_.Advance(seconds(10));  // past the poll interval and the first backoff
    Drain();
  }
  EXPECT_EQ(store::ToString(Conn("c1").phase), row.then_phase);
  EXPECT_EQ(Triggers()[0].state, row.then_trigger);
  if (std::string(row.then_trigger) == "dead") {
    EXPECT_FALSE(Triggers()[0].last_error.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    PhaseByAnswer, MachineTableTest,
    ::testing::Values(
        // idle: the start. Ambiguous answers leave it to be resolved, never sent blindly again.
        Row{"idle", "2xx", "running", "running"}, Row{"idle", "409", "waiting", "pending"},
        Row{"idle", "404", "idle", "dead"}, Row{"idle", "401", "idle", "dead"},
        Row{"idle", "429", "starting", "starting"}, Row{"idle", "5xx", "starting", "starting"},
        Row{"idle", "timeout", "starting", "starting"}, Row{"idle", "refused", "starting", "starting"},
        // starting: resolving a start whose answer was lost (RudderStack did start it).
        Row{"starting", "2xx", "running", "running"}, Row{"starting", "404", "idle", "dead"},
        Row{"starting", "401", "idle", "dead"}, Row{"starting", "409", "starting", "starting"}, Row{"starting", "429", "starting", "starting"},
        Row{"starting", "5xx", "starting", "starting"}, Row{"starting", "timeout", "starting", "starting"},
        Row{"starting", "refused", "starting", "starting"},
        // waiting behind another sync.
        Row{"waiting", "2xx", "waiting", "pending"}, Row{"waiting", "404", "idle", "dead"},
        Row{"waiting", "401", "idle", "dead"}, Row{"waiting", "409", "waiting", "pending"}, Row{"waiting", "429", "waiting", "pending"},
        Row{"waiting", "5xx", "waiting", "pending"}, Row{"waiting", "timeout", "waiting", "pending"},
        Row{"waiting", "refused", "waiting", "pending"},
        // stopping another sync (restart): the stop was sent; is it still running?
        // 2xx: the stop took, nothing runs, and the follow-up (its own start) is sent at once.
        Row{"stopping", "2xx", "running", "running"}, Row{"stopping", "404", "idle", "dead"},
        Row{"stopping", "401", "idle", "dead"}, Row{"stopping", "409", "stopping", "pending"}, Row{"stopping", "429", "stopping", "pending"},
        Row{"stopping", "5xx", "stopping", "pending"}, Row{"stopping", "timeout", "stopping", "pending"},
        Row{"stopping", "refused", "stopping", "pending"},
        // running: following our sync.
        Row{"running", "2xx", "running", "running"}, Row{"running", "404", "idle", "dead"},
        Row{"running", "401", "idle", "dead"}, Row{"running", "409", "running", "running"}, Row{"running", "429", "running", "running"},
        Row{"running", "5xx", "running", "running"}, Row{"running", "timeout", "running", "running"},
        Row{"running", "refused", "running", "running"}),
    [](const ::testing::TestParamInfo<Row>& info) {
      std::string name = std::string(info.param.phase) + "_" + info.param.outcome;
      return name;
    });

// A 409 for a start whose triggers mix policies: the most demanding one decides for all. Queue
// beats skip: the skip trigger rides on the follow-up (one sync either way) instead of being
// marked skipped.
TEST_F(DispatcherTest, MixedPoliciesOnA409FollowTheMostDemandingOne) {
  api_.StartExternal("c1", minutes(2));
  AddTrigger("c1", "incremental", "skip");
  AddTrigger("c1", "incremental", "queue");
  Drain();
  EXPECT_EQ(store::ToString(Conn("c1").phase), "waiting");
  EXPECT_EQ(States(), (std::map<std::string, int>{{"pending", 2}}));
  RunFor(minutes(3));
  EXPECT_EQ(api_.performed_starts(), 1) << "one follow-up for both";
  RunFor(minutes(6));
  EXPECT_EQ(States(), (std::map<std::string, int>{{"succeeded", 2}}));
  // Skip alone: skipped.
  api_.StartExternal("c2", minutes(2));
  AddTrigger("c2", "incremental", "skip");
  Drain();
  EXPECT_EQ(store::ToString(Conn("c2").phase), "idle");
  auto c2 = *store_->ListTriggers("skipped", 10);
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(c2[0].connection_id, "c2");
  EXPECT_FALSE(c2[0].sync_id.empty()) << "covered by the sync that was running";
}

// The backlog is counters and a range: 3,000 triggers waiting behind a running sync become ONE
// start, and the store holds one row per start, not per trigger.
TEST_F(DispatcherTest, ABacklogBehindARunningSyncIsOneStart) {
  AddTrigger("c1");
  Drain();
  ASSERT_EQ(store::ToString(Conn("c1").phase), "running");
  for (int i = 0; i < 3000; ++i) AddTrigger("c1", i == 1234 ? "full" : "incremental");
  RunFor(minutes(5));
  ASSERT_EQ(api_.performed_starts(), 2);
  EXPECT_EQ(api_.calls().back().endpoint == "start" ? api_.calls().back().detail : "full", "full");
  auto starts = *store_->ListStarts("c1", 10);
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].triggers, 3000);
  EXPECT_EQ(starts[0].sync_type, "full") << "one full trigger makes the follow-up full";
  EXPECT_EQ(starts[0].state, store::StartState::kRunning);
  EXPECT_EQ(store_->ListTriggers("running", 10000)->size(), 3000u);
  EXPECT_EQ(store_->ListTriggers("succeeded", 10000)->size(), 1u);
  EXPECT_TRUE(store_->ListTriggers("pending", 10000)->empty());
}

// Expiry takes the aged prefix of the backlog as one dead start; younger triggers still start.
TEST_F(DispatcherTest, ExpiryTakesTheAgedPrefixOnly) {
  api_.StartExternal("c1", minutes(80));
  AddTrigger("c1");
  AddTrigger("c1");
  Drain();
  ASSERT_EQ(store::ToString(Conn("c1").phase), "waiting");
  clock_.Advance(minutes(40));
  AddTrigger("c1");  // 40 minutes younger
  RunFor(minutes(25));  // the first two are now older than max_age (1 h); the third is not
  EXPECT_EQ(States(), (std::map<std::string, int>{{"dead", 2}, {"pending", 1}}));
  const auto dead = *store_->ListTriggers("dead", 10);
  EXPECT_NE(dead[0].last_error.find("maximum age exceeded"), std::string::npos);
  RunFor(minutes(20));  // the external sync ends at 80 min; the young one (40 min old) starts
  EXPECT_EQ(api_.performed_starts(), 1);
  EXPECT_EQ(States().count("pending"), 0u);
}

// While a start's outcome is unknown (RudderStack unreachable), its own triggers wait, but the
// pending ones behind it still expire; once resolved, the start is judged by its own age.
TEST_F(DispatcherTest, PendingTriggersExpireWhileAStartIsUnresolved) {
  api_.Fail("start", Status(StatusCode::kUnavailable, "HTTP 503"));  // not performed
  for (int i = 0; i < 1000; ++i) api_.Fail("list", Status(StatusCode::kUnavailable, "HTTP 503"));
  AddTrigger("c1");  // A: in the start
  Drain();
  ASSERT_EQ(store::ToString(Conn("c1").phase), "starting");
  clock_.Advance(seconds(1));
  AddTrigger("c1");  // B: pending behind it
  RunFor(minutes(62));
  auto by_id = [&] {
    std::map<int64_t, std::string> m;
    for (const auto& t : Triggers()) m[t.id] = t.state;
    return m;
  };
  EXPECT_EQ(by_id(), (std::map<int64_t, std::string>{{1, "starting"}, {2, "dead"}}));
  AddTrigger("c1");  // C: young
  api_.ClearFaults();
  RunFor(seconds(70));  // resolved: nothing started; A is too old to send, C starts
  EXPECT_EQ(by_id(), (std::map<int64_t, std::string>{{1, "dead"}, {2, "dead"}, {3, "running"}}));
  EXPECT_EQ(api_.performed_starts(), 1);
  auto starts = *store_->ListStarts("c1", 10);
  int64_t covered = 0;
  for (const auto& st : starts) covered += st.seq_hi - st.seq_lo;
  EXPECT_EQ(covered, 3) << "the starts tile the queue: each trigger in exactly one";
}

}  // namespace
}  // namespace relay::dispatch
