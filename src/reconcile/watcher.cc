#include "reconcile/watcher.h"

#include <algorithm>

#include "common/log.h"
#include "common/retry.h"
#include "common/thread_name.h"

namespace relay::reconcile {
namespace {

constexpr Duration kFirstBackoff = std::chrono::seconds(15);

}  // namespace

Watcher::Watcher(const config::Config& config, dbtcloud::Client& api, store::IngestStore& ingest, store::RunStore& runs,
                 Clock& clock, std::function<void()> on_triggers)
    : config_(config),
      clock_(clock),
      reconciler_(config, api, ingest, runs, clock, on_triggers),
      verifier_(config, api, runs, clock, on_triggers) {}

Watcher::~Watcher() { Stop(); }

void Watcher::Start() {
  const config::DbtCloudConfig& c = config_.dbt_cloud;
  if (!c.enabled() || (c.reconcile_interval.count() == 0 && !c.verify_runs)) return;
  thread_ = std::thread([this] { Loop(); });
}

void Watcher::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void Watcher::WakeVerifier() {
  {
    MutexLock lock(mu_);
    verify_now_ = true;
  }
  cv_.SignalAll();
}

Duration Watcher::NextPassIn(const Status& status, int failures, Duration interval) {
  if (status.ok() || !IsRetryable(status)) return interval;
  return BackoffDelay({kFirstBackoff, interval}, failures - 1, 1.0, status);
}

std::string Watcher::FixFor(const Status& status, const config::DbtCloudConfig& c) {
  switch (status.code()) {
    case StatusCode::kUnauthenticated:
      return "dbt Cloud refused the token: set dbt_cloud.token (or DBT_CLOUD_API_TOKEN) to a service token of account " +
             c.account_id + ", and check dbt_cloud.api_base is that account's access URL";
    case StatusCode::kPermissionDenied:
      return "the token may not read runs: give the service token a permission set that can (Job Viewer, Read-Only or "
             "higher) on the projects the routes name";
    case StatusCode::kNotFound:
      return "account " + c.account_id + " not found at " + c.api_base +
             ": check dbt_cloud.account_id and that api_base is the account's access URL (regional or cell URL)";
    default:
      return "";
  }
}

void Watcher::ReportPass(const PassReport& report) {
  if (report.status.ok()) {
    if (!last_problem_.empty()) log::Info("dbt Cloud answers again", {{"scopes", std::to_string(report.scopes)}});
    last_problem_.clear();
    for (const std::string& scope : report.truncated) {
      log::Warn("reconcile: more than 2,000 finished runs within lookback; older ones in the window are not "
                "reconciled (shorten dbt_cloud.lookback)",
                {{"scope", scope}});
    }
    return;
  }
  ReportProblem(report.status, "reconcile pass failed");
}

void Watcher::ReportProblem(const Status& status, const char* what) {
  // One log line per distinct failure (code and text); a storm of the same one stays quiet.
  const std::string problem = std::string(StatusCodeName(status.code())) + ": " + status.message();
  if (problem == last_problem_) return;
  last_problem_ = problem;
  const std::string fix = FixFor(status, config_.dbt_cloud);
  if (fix.empty()) {
    log::Warn(std::string(what) + "; backing off", {{"error", status.ToString()}});
  } else {
    log::Error(what, {{"error", status.ToString()}, {"fix", fix}});
  }
}

void Watcher::Loop() {
  NameThisThread("retl-dbtcloud");
  const Duration interval = config_.dbt_cloud.reconcile_interval;
  const bool reconcile = interval.count() > 0;
  const bool verify = config_.dbt_cloud.verify_runs;
  auto next_pass = clock_.SteadyNow();
  auto next_sweep = clock_.SteadyNow();
  // Verifications that are due again (postponed ones, and those left by another instance or
  // before a restart) are looked for this often even when nothing wakes the verifier.
  const Duration sweep = std::clamp<Duration>(config_.dbt_cloud.verify_window / 4, std::chrono::seconds(1),
                                              std::chrono::seconds(15));
  for (;;) {
    bool verify_now = false;
    {
      MutexLock lock(mu_);
      if (stopping_) return;
      verify_now = verify_now_ && verify;
      verify_now_ = false;
    }
    const auto now = clock_.SteadyNow();
    if (verify && (verify_now || now >= next_sweep)) {
      next_sweep = now + sweep;
      for (;;) {  // until nothing is due (a burst is verified in batches)
        Verifier::Report r = verifier_.RunDue();
        if (!r.status.ok()) log::Warn("verify: store error; trying again shortly", {{"error", r.status.ToString()}});
        if (!r.api_problem.ok()) ReportProblem(r.api_problem, "verify: dbt Cloud did not confirm runs");
        if (!r.status.ok() || r.resolved + r.postponed < Verifier::kBatch) break;
      }
    }
    if (reconcile && now >= next_pass) {
      PassReport report = reconciler_.RunPass();
      failures_ = report.status.ok() ? 0 : failures_ + 1;
      ReportPass(report);
      next_pass = clock_.SteadyNow() + NextPassIn(report.status, failures_, interval);
    }
    auto wake = verify ? next_sweep : next_pass;
    if (reconcile) wake = std::min(wake, next_pass);
    MutexLock lock(mu_);
    cv_.WaitFor(mu_, wake - clock_.SteadyNow(),
                [this]() REQUIRES(mu_) { return stopping_ || verify_now_; });
  }
}

}  // namespace relay::reconcile
