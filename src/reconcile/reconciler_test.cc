#include "reconcile/reconciler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>

#include "../../test/support/temp_dir.h"
#include "common/mutex.h"
#include "reconcile/verifier.h"
#include "reconcile/watcher.h"
#include "store/store.h"

namespace relay::reconcile {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// dbt Cloud in memory: runs, the calls made, and errors to answer with.
class MemoryDbtCloud : public dbtcloud::Client {
 public:
  explicit MemoryDbtCloud(Clock& clock) : clock_(clock) {}

  // A run of `job` that finished `ago` before now with `status` (below 10: not finished).
  int64_t Finish(int64_t job, int status, Duration ago = Duration(0)) {
    dbtcloud::Run r;
    r.id = next_id_++;
    r.account_id = 1;
    r.job_id = job;
    r.project_id = 100 + job;
    r.environment_id = 7;
    r.status = status;
    r.is_complete = status >= 10;
    if (r.is_complete) {
      r.finished = clock_.Now() - ago;
      r.finished_at = FormatIso8601(*r.finished);
    }
    runs_.push_back(r);
    return r.id;
  }
  void Set(int64_t id, int status) {
    for (dbtcloud::Run& r : runs_) {
      if (r.id != id) continue;
      r.status = status;
      r.is_complete = status >= 10;
      r.finished = clock_.Now();
      r.finished_at = FormatIso8601(*r.finished);
    }
  }
  void Fail(Status s, int times) { errors_.insert(errors_.end(), static_cast<size_t>(times), s); }
  int list_calls = 0, get_calls = 0;
  bool ignore_limit = false;  // a hostile API: every page holds every run from the offset on

  StatusOr<std::vector<dbtcloud::Run>> ListRuns(const dbtcloud::RunsQuery& q) override {
    ++list_calls;
    if (!errors_.empty()) return Next();
    std::vector<dbtcloud::Run> match;
    for (const dbtcloud::Run& r : runs_) {
      if ((q.job_id && r.job_id != *q.job_id) || (q.project_id && r.project_id != *q.project_id)) continue;
      match.push_back(r);
    }
    std::stable_sort(match.begin(), match.end(), [](const dbtcloud::Run& a, const dbtcloud::Run& b) {
      if (a.finished.has_value() != b.finished.has_value()) return !a.finished.has_value();
      return a.finished && *a.finished > *b.finished;
    });
    std::vector<dbtcloud::Run> page;
    for (size_t i = static_cast<size_t>(q.offset);
         i < match.size() && (ignore_limit || page.size() < static_cast<size_t>(q.limit)); ++i) {
      page.push_back(match[i]);
    }
    return page;
  }
  StatusOr<dbtcloud::Run> GetRun(int64_t id) override {
    ++get_calls;
    if (!errors_.empty()) return Next();
    for (const dbtcloud::Run& r : runs_) {
      if (r.id == id) return r;
    }
    return NotFoundError("run " + std::to_string(id));
  }

 private:
  Status Next() {
    Status s = errors_.front();
    errors_.pop_front();
    return s;
  }
  Clock& clock_;
  int64_t next_id_ = 5000;
  std::vector<dbtcloud::Run> runs_;
  std::deque<Status> errors_;
};

config::Route JobRoute(const std::string& name, std::vector<int64_t> jobs, std::string connection,
                       std::vector<int> on = {10}) {
  config::Route r;
  r.name = name;
  r.job_ids = std::move(jobs);
  r.connections = {std::move(connection)};
  r.on_status_codes = std::move(on);
  return r;
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.dbt_cloud.account_id = "1";
    cfg_.dbt_cloud.token = "dbt-cloud-token";
    cfg_.dbt_cloud.lookback = hours(24);
    cfg_.dbt_cloud.grace = Duration(0);  // GraceLeavesFreshRunsToTheirWebhook tests it
    cfg_.routes = {JobRoute("orders", {123}, "conn_a")};
    store_ = std::move(store::OpenStore("sqlite://" + dir_.File("relay.db"))).value();
  }
  Reconciler Make() { return Reconciler(cfg_, api_, *store_, *store_, clock_, [this] { ++woken_; }); }
  int Triggers() { return static_cast<int>(store_->ListTriggers("", 1000)->size()); }

  relay::testing::TempDir dir_;
  FakeClock clock_;
  MemoryDbtCloud api_{clock_};
  config::Config cfg_;
  std::unique_ptr<store::Store> store_;
  int woken_ = 0;
};

TEST_F(ReconcilerTest, TheFirstPassSetsTheWatermarkAndTriggersNothingOlder) {
  api_.Finish(123, 10, minutes(30));  // finished before the relay first looked
  Reconciler r = Make();
  PassReport first = r.RunPass();
  ASSERT_TRUE(first.status.ok()) << first.status.ToString();
  EXPECT_EQ(first.new_scopes, 1);
  EXPECT_EQ(api_.list_calls, 0) << "nothing can have finished after a watermark set now";
  clock_.Advance(minutes(5));
  PassReport second = r.RunPass();
  EXPECT_EQ(second.new_scopes, 0);
  EXPECT_EQ(second.runs_listed, 1);
  EXPECT_EQ(second.in_window, 0);
  EXPECT_TRUE(second.created.empty());
  EXPECT_EQ(Triggers(), 0);
  EXPECT_EQ(*store_->CountEvents(), 0);
}

TEST_F(ReconcilerTest, AMissedRunBecomesAnEventRoutedAsTheWebhookWouldBe) {
  Reconciler r = Make();
  r.RunPass();
  clock_.Advance(minutes(5));
  const int64_t ok = api_.Finish(123, 10, minutes(1));
  const int64_t failed = api_.Finish(123, 20, minutes(2));
  api_.Finish(123, 3);     // running: not finished, skipped
  api_.Finish(999, 10);    // a job no route names: not listed
  PassReport p = r.RunPass();
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  ASSERT_EQ(p.created.size(), 2u);
  EXPECT_EQ(p.in_window, 2);
  EXPECT_EQ(woken_, 1);
  // The success triggers conn_a; the failure is recorded and triggers nothing (on = success).
  const std::string ok_id = "reconcile-" + std::to_string(ok) + "-10";
  auto ev = *store_->GetEvent(ok_id);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->source, "reconcile");
  EXPECT_EQ(ev->event_type, "job.run.completed");
  EXPECT_EQ(ev->job_id, 123);
  EXPECT_NE(ev->raw_body.find("\"reconciled\""), std::string::npos);
  auto triggers = *store_->EventTriggers(ok_id);
  ASSERT_EQ(triggers.size(), 1u);
  EXPECT_EQ(triggers[0].connection_id, "conn_a");
  auto err = *store_->GetEvent("reconcile-" + std::to_string(failed) + "-20");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->event_type, "job.run.errored");
  EXPECT_TRUE(store_->EventTriggers(err->event_id)->empty());
  // The next pass finds both recorded.
  PassReport again = r.RunPass();
  EXPECT_TRUE(again.created.empty());
  EXPECT_EQ(again.known, 2);
  EXPECT_EQ(Triggers(), 1);
}

TEST_F(ReconcilerTest, ARunSeenByWebhookIsNeverReconciledAndTheReverse) {
  Reconciler r = Make();
  r.RunPass();
  clock_.Advance(minutes(5));
  const int64_t run = api_.Finish(123, 10);
  // The webhook's event records the outcome first.
  store::NewEvent hook{"wev_1", "job.run.completed", 1, 123, run, 10, "{}", clock_.Now()};
  hook.records_outcome = true;
  ASSERT_FALSE(store_->Append(hook, {{"orders", "conn_a", "incremental", "queue", "k"}})->duplicate);
  PassReport p = r.RunPass();
  EXPECT_TRUE(p.created.empty());
  EXPECT_EQ(p.known, 1);
  EXPECT_EQ(Triggers(), 1);
  // The reverse: reconciled first, then the webhook is a duplicate (store test covers the rest).
  const int64_t next = api_.Finish(123, 10);
  ASSERT_EQ(r.RunPass().created.size(), 1u);
  store::NewEvent late{"wev_2", "job.run.completed", 1, 123, next, 10, "{}", clock_.Now()};
  late.records_outcome = true;
  auto dup = store_->Append(late, {{"orders", "conn_a", "incremental", "queue", "k2"}});
  EXPECT_TRUE(dup->duplicate_run);
  EXPECT_EQ(Triggers(), 2);
}

TEST_F(ReconcilerTest, RunsBeyondTheLookbackAreLeftAndPagingGoesPastTheFirstPage) {
  cfg_.dbt_cloud.lookback = hours(2);
  Reconciler r = Make();
  r.RunPass();
  clock_.Advance(hours(5));
  // 250 missed runs within the window, newest first, and one finished 3 h ago (too old).
  api_.Finish(123, 10, hours(3));
  for (int i = 0; i < 250; ++i) api_.Finish(123, 10, seconds(i + 1));
  PassReport p = r.RunPass();
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(p.pages, 3);
  EXPECT_EQ(p.created.size(), 250u);
  EXPECT_TRUE(p.truncated.empty());
  // One start covers them all on the connection (they coalesce), but each run has its trigger.
  EXPECT_EQ(Triggers(), 250);
}

// An on-time webhook may arrive a while after finished_at: a fresh run is left to it.
TEST_F(ReconcilerTest, GraceLeavesFreshRunsToTheirWebhook) {
  cfg_.dbt_cloud.grace = minutes(2);
  Reconciler r = Make();
  r.RunPass();
  clock_.Advance(minutes(5));
  const int64_t run = api_.Finish(123, 10, minutes(1));
  EXPECT_TRUE(r.RunPass().created.empty());
  clock_.Advance(minutes(1) + seconds(1));
  PassReport p = r.RunPass();
  ASSERT_EQ(p.created.size(), 1u);
  EXPECT_EQ(p.created[0].run_id, run);
  EXPECT_EQ(p.missed, 1);
}

// A pass stops at its first error: every scope meets the same host and token.
TEST_F(ReconcilerTest, APassStopsAtTheFirstError) {
  cfg_.routes = {JobRoute("a", {1, 2, 3}, "c")};
  Reconciler r = Make();
  r.RunPass();
  clock_.Advance(minutes(5));
  api_.Fail(UnavailableError("503"), 1);
  PassReport p = r.RunPass();
  EXPECT_EQ(p.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(api_.list_calls, 1);
}

TEST_F(ReconcilerTest, ScopesFollowTheRoutes) {
  config::Route by_project;
  by_project.name = "p";
  by_project.project_ids = {5, 6};
  by_project.connections = {"c"};
  config::Route anything;
  anything.name = "any";
  anything.connections = {"c"};
  config::Route elsewhere = JobRoute("other-account", {77}, "c");
  elsewhere.account_ids = {2};
  config::Route project_env;
  project_env.name = "pe";
  project_env.project_ids = {8};
  project_env.environment_ids = {9};
  project_env.connections = {"c"};
  cfg_.routes = {JobRoute("a", {123, 124}, "c"), JobRoute("b", {123}, "d"), by_project, anything, elsewhere, project_env};
  std::vector<std::string> keys;
  for (const Scope& s : ScopesFor(cfg_)) keys.push_back(s.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"1/job/123", "1/job/124", "1/project/5", "1/project/6", "1/account/1",
                                            "1/project/8/environment/9"}));
}

TEST_F(ReconcilerTest, ErrorsAreReportedAndBackOff) {
  Reconciler r = Make();
  r.RunPass();
  clock_.Advance(minutes(5));
  Status limited(StatusCode::kResourceExhausted, "dbt cloud GET …/runs/: HTTP 429");
  limited.set_retry_after(seconds(40));
  api_.Fail(limited, 1);
  PassReport p = r.RunPass();
  EXPECT_EQ(p.status.code(), StatusCode::kResourceExhausted);
  const Duration interval = minutes(5);
  EXPECT_EQ(Watcher::NextPassIn(p.status, 1, interval), seconds(40)) << "never before Retry-After";
  EXPECT_EQ(Watcher::NextPassIn(UnavailableError("5xx"), 1, interval), seconds(15));
  EXPECT_EQ(Watcher::NextPassIn(UnavailableError("5xx"), 3, interval), seconds(60));
  EXPECT_EQ(Watcher::NextPassIn(UnavailableError("5xx"), 30, interval), interval) << "capped at the interval";
  EXPECT_EQ(Watcher::NextPassIn(Status(StatusCode::kUnauthenticated, "401"), 1, interval), interval);
  EXPECT_EQ(Watcher::NextPassIn(Status::Ok(), 0, interval), interval);
  EXPECT_NE(Watcher::FixFor(Status(StatusCode::kUnauthenticated, "401"), cfg_.dbt_cloud).find("DBT_CLOUD_API_TOKEN"),
            std::string::npos);
  EXPECT_NE(Watcher::FixFor(Status(StatusCode::kPermissionDenied, "403"), cfg_.dbt_cloud).find("permission"),
            std::string::npos);
  EXPECT_TRUE(Watcher::FixFor(UnavailableError("5xx"), cfg_.dbt_cloud).empty());
  // Once dbt Cloud answers again, the run missed meanwhile is caught.
  api_.Finish(123, 10);
  EXPECT_EQ(r.RunPass().created.size(), 1u);
}

// The store as the reconciler sees it, recording the largest KnownRuns question: one job.
class CountingRunStore : public store::RunStore {
 public:
  explicit CountingRunStore(store::RunStore& inner) : inner_(inner) {}
  size_t largest_known_runs = 0;
  StatusOr<TimePoint> Watermark(const std::string& scope, TimePoint now) override { return inner_.Watermark(scope, now); }
  StatusOr<std::vector<RunOutcome>> KnownRuns(const std::vector<RunOutcome>& runs) override {
    largest_known_runs = std::max(largest_known_runs, runs.size());
    return inner_.KnownRuns(runs);
  }
  StatusOr<std::vector<store::PendingVerification>> DueVerifications(TimePoint now, int limit) override {
    return inner_.DueVerifications(now, limit);
  }
  StatusOr<store::AppendResult> ResolveVerification(const std::string& e, std::string_view st, const std::string& note,
                                                    int code, const std::vector<store::NewTrigger>& t,
                                                    const std::vector<store::FanInStep>& f, TimePoint now) override {
    return inner_.ResolveVerification(e, st, note, code, t, f, now);
  }
  Status PostponeVerification(const std::string& e, TimePoint next, const std::string& note) override {
    return inner_.PostponeVerification(e, next, note);
  }

 private:
  store::RunStore& inner_;
};

// Found by the round-3 probe: an API that ignores `limit` (10,000 runs a page) made a pass read
// 200,000 runs and check them in one store job that held the writer for seconds.
TEST_F(ReconcilerTest, APassReadsAtMostTheDocumentedRunsAndOnePagePerStoreJob) {
  CountingRunStore counting(*store_);
  Reconciler r(cfg_, api_, *store_, counting, clock_);
  r.RunPass();  // watermark
  clock_.Advance(minutes(1));
  for (int i = 0; i < 3000; ++i) api_.Finish(123, 20, seconds(1));  // errors: no route fires
  api_.ignore_limit = true;
  PassReport p = r.RunPass();
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(p.runs_listed, Reconciler::kPageSize * Reconciler::kMaxPages) << "runs, not pages, are capped";
  EXPECT_EQ(p.in_window, 2000);
  EXPECT_LE(counting.largest_known_runs, static_cast<size_t>(Reconciler::kPageSize));
  EXPECT_EQ(p.truncated.size(), 1u);
}

// Found by the round-3 probe: a Retry-After of three years stopped reconciliation until 2030.
TEST_F(ReconcilerTest, AServerGivenDelayIsCapped) {
  Status limited(StatusCode::kResourceExhausted, "dbt cloud GET …/runs/: HTTP 429");
  limited.set_retry_after(seconds(99999999));
  EXPECT_EQ(limited.retry_after(), Status::kMaxRetryAfter);
  EXPECT_LE(Watcher::NextPassIn(limited, 1, minutes(1)), Status::kMaxRetryAfter);
}

// Found by the round-3 probe: status 4294967306 read as 10 (Success) once cut to 32 bits.
TEST(DbtCloudRunTest, AStatusPastIntIsRefusedNotTruncated) {
  EXPECT_FALSE(dbtcloud::ParseRunJson(R"({"id":5,"job_id":9,"status":4294967306})").ok());
  EXPECT_FALSE(dbtcloud::ParseRunJson(R"({"id":5,"job_id":9,"status":"4294967306"})").ok());
  EXPECT_FALSE(dbtcloud::ParseRunJson(R"({"id":5,"job_id":9,"status":-10})").ok());
  auto big = dbtcloud::ParseRunJson(R"({"id":"9223372036854775807","job_id":9,"status":10})");
  ASSERT_TRUE(big.ok()) << "ids use their full range";
  EXPECT_EQ(big->id, INT64_MAX);
  EXPECT_FALSE(dbtcloud::ParseRunJson(R"({"id":"9223372036854775808","job_id":9,"status":10})").ok());
}

// The shape of the Admin API's Run (spec §8.2): Django times with microseconds and +00:00,
// integer ids (digit strings accepted), finished_at null while the run goes on.
TEST(DbtCloudRunTest, ParsesTheAdminApiShape) {
  auto r = dbtcloud::ParseRunJson(
      R"({"id":70403103,"account_id":"1","job_definition_id":123,"project_id":167194,"environment_id":1234,)"
      R"("status":20,"status_humanized":"Error","in_progress":false,"is_complete":true,)"
      R"("finished_at":"2026-11-30 10:20:30.123456+00:00","href":"https://cloud.getdbt.com/x","job":{"name":"Daily"}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->id, 70403103);
  EXPECT_EQ(r->account_id, 1);
  EXPECT_EQ(r->job_id, 123);
  EXPECT_EQ(r->status, 20);
  EXPECT_TRUE(r->is_complete);
  ASSERT_TRUE(r->finished.has_value());
  EXPECT_EQ(FormatIso8601(*r->finished), "2026-11-30T10:20:30.123Z");
  EXPECT_EQ(r->job_name, "Daily");
  auto running = dbtcloud::ParseRunJson(R"({"id":5,"job_id":"9","status":3,"is_complete":false,"finished_at":null})");
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  EXPECT_EQ(running->job_id, 9);
  EXPECT_FALSE(running->finished.has_value());
  EXPECT_FALSE(dbtcloud::ParseRunJson(R"({"id":5,"status":10})").ok()) << "no job id";
  EXPECT_FALSE(dbtcloud::ParseRunJson("[]").ok());
}

class VerifierTest : public ReconcilerTest {
 protected:
  void SetUp() override {
    ReconcilerTest::SetUp();
    cfg_.dbt_cloud.verify_runs = true;
    cfg_.dbt_cloud.verify_window = minutes(5);
  }
  // A signed webhook's event as the handler stores it with verify_runs: pending, no trigger.
  void Receive(const std::string& id, int64_t run, int claimed, const std::string& type = "job.run.completed") {
    store::NewEvent e{id, type, 1, 123, run, claimed,
                      R"({"eventId":")" + id + R"(","eventType":")" + type +
                          R"(","accountId":1,"data":{"jobId":"123","runId":")" + std::to_string(run) +
                          R"(","runStatusCode":)" + std::to_string(claimed) + "}}",
                      clock_.Now()};
    e.records_outcome = true;
    e.verify = true;
    ASSERT_FALSE(store_->Append(e, {})->duplicate);
  }
  std::string State(const std::string& id) { return (*store_->GetEvent(id))->verify_state; }
  Verifier MakeVerifier() { return Verifier(cfg_, api_, *store_, clock_, [this] { ++woken_; }); }
};

TEST_F(VerifierTest, AConfirmedRunIsRoutedAndAForgedStatusIsNot) {
  const int64_t good = api_.Finish(123, 10);
  const int64_t bad = api_.Finish(123, 20);
  Receive("wev_good", good, 10);
  Receive("wev_forged", bad, 10);  // signed, says Success; the API says Error
  Verifier v = MakeVerifier();
  Verifier::Report r = v.RunDue();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.resolved, 2);
  EXPECT_EQ(State("wev_good"), "confirmed");
  EXPECT_EQ(store_->EventTriggers("wev_good")->size(), 1u);
  EXPECT_EQ(State("wev_forged"), "corrected");
  EXPECT_TRUE(store_->EventTriggers("wev_forged")->empty()) << "the route fires on success only";
  EXPECT_NE((*store_->GetEvent("wev_forged"))->verify_note.find("the webhook said 10"), std::string::npos);
  EXPECT_EQ(woken_, 1);
}

TEST_F(VerifierTest, AnUnknownRunTriggersNothing) {
  Receive("wev_test", 424242, 10);  // dbt's Test Endpoint: dummy ids
  Verifier v = MakeVerifier();
  EXPECT_EQ(v.RunDue().resolved, 1);
  EXPECT_EQ(State("wev_test"), "rejected");
  EXPECT_EQ(Triggers(), 0);
}

TEST_F(VerifierTest, AnIncompleteRunIsAskedAgainThenTheWebhookIsTrusted) {
  const int64_t run = api_.Finish(123, 3);  // the API lags behind the webhook
  Receive("wev_lag", run, 10);
  Verifier v = MakeVerifier();
  EXPECT_EQ(v.RunDue().postponed, 1);
  EXPECT_EQ(State("wev_lag"), "pending");
  EXPECT_EQ(v.RunDue().postponed, 0) << "not due again before 30 s";
  clock_.Advance(seconds(30));
  api_.Set(run, 10);
  EXPECT_EQ(v.RunDue().resolved, 1);
  EXPECT_EQ(State("wev_lag"), "confirmed");
  EXPECT_EQ(Triggers(), 1);
}

TEST_F(VerifierTest, ARunStillGoingAfterTheWindowIsRejected) {
  const int64_t run = api_.Finish(123, 3);
  Receive("wev_early", run, 20, "job.run.errored");  // the API never catches up
  Verifier v = MakeVerifier();
  for (int i = 0; i < 12 && State("wev_early") == "pending"; ++i) {
    v.RunDue();
    clock_.Advance(seconds(30));
  }
  EXPECT_EQ(State("wev_early"), "rejected");
  EXPECT_NE((*store_->GetEvent("wev_early"))->verify_note.find("not complete"), std::string::npos);
}

// A 404 for the account itself (wrong account id or access URL) is no answer, not an unknown run.
TEST_F(VerifierTest, A404ForTheWholeAccountIsNotARejection) {
  const int64_t run = api_.Finish(123, 10);
  Receive("wev_misconfigured", run, 10);
  api_.Fail(NotFoundError("run"), 1);      // Retrieve Run
  api_.Fail(NotFoundError("account"), 1);  // the runs list probe
  Verifier v = MakeVerifier();
  Verifier::Report r = v.RunDue();
  EXPECT_EQ(r.postponed, 1);
  EXPECT_EQ(r.api_problem.code(), StatusCode::kNotFound);
  EXPECT_EQ(State("wev_misconfigured"), "pending");
  clock_.Advance(minutes(1));
  EXPECT_EQ(v.RunDue().resolved, 1);  // the API answers again
  EXPECT_EQ(State("wev_misconfigured"), "confirmed");
}

// Found by the round-3 probe: dbt Cloud's Retry-After left a pending event unrouted long past
// verify_window; the README says the signed webhook is then acted on.
TEST_F(VerifierTest, RetryAfterNeverPostponesPastTheWindow) {
  const int64_t run = api_.Finish(123, 10);
  Receive("wev_limited", run, 10);
  Status limited(StatusCode::kResourceExhausted, "dbt cloud: HTTP 429");
  limited.set_retry_after(std::chrono::hours(24 * 365));
  api_.Fail(limited, 100);
  Verifier v = MakeVerifier();
  EXPECT_EQ(v.RunDue().postponed, 1);
  clock_.Advance(cfg_.dbt_cloud.verify_window);
  EXPECT_EQ(v.RunDue().resolved, 1) << "due again when the window ends";
  EXPECT_EQ(State("wev_limited"), "unverified");
  EXPECT_EQ(Triggers(), 1);
}

TEST_F(VerifierTest, PendingEventsAreReleasedWhenVerificationIsTurnedOff) {
  const int64_t run = api_.Finish(123, 10);
  Receive("wev_left", run, 10);
  cfg_.dbt_cloud.verify_runs = false;
  ASSERT_TRUE(ReleasePendingVerifications(cfg_, *store_, clock_).ok());
  EXPECT_EQ(State("wev_left"), "unverified");
  EXPECT_EQ(Triggers(), 1);
}

TEST_F(VerifierTest, AnUnreachableApiIsWaitedForThenTheSignedWebhookIsActedOn) {
  const int64_t run = api_.Finish(123, 10);
  Receive("wev_down", run, 10);
  api_.Fail(UnavailableError("dbt cloud: HTTP 503"), 100);
  Verifier v = MakeVerifier();
  int postponed = 0;
  for (int i = 0; i < 60 && State("wev_down") == "pending"; ++i) {
    postponed += v.RunDue().postponed;
    clock_.Advance(seconds(10));
  }
  EXPECT_GE(postponed, 3);
  EXPECT_LE(api_.get_calls, 10) << "asked with backoff, not every 10 s";
  EXPECT_EQ(State("wev_down"), "unverified");
  EXPECT_NE((*store_->GetEvent("wev_down"))->verify_note.find("acted on the signed webhook"), std::string::npos);
  EXPECT_EQ(Triggers(), 1);
}

}  // namespace
}  // namespace relay::reconcile
