#include "dispatch/dispatcher.h"

#include <algorithm>

#include "common/log.h"
#include "dispatch/retry_policy.h"

namespace relay::dispatch {
namespace {

// Trigger ids for a log line: all of them when few, else the first ones and the count, so a
// burst of thousands does not produce one enormous line.
std::string JoinIds(const std::vector<int64_t>& ids) {
  constexpr size_t kMaxListed = 10;
  std::string out;
  for (size_t i = 0; i < ids.size() && i < kMaxListed; ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  if (ids.size() > kMaxListed) out += ",… (" + std::to_string(ids.size()) + " in all)";
  return out;
}

}  // namespace

Dispatcher::Dispatcher(store::Store& store, rudderstack::Client& client, Clock& clock,
                       config::DispatchConfig options, std::string instance_id,
                       std::function<double()> unit_random)
    : store_(store),
      client_(client),
      clock_(clock),
      options_(options),
      instance_id_(std::move(instance_id)),
      unit_random_(std::move(unit_random)) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Start() {
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

void Dispatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void Dispatcher::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++wakeups_;
  }
  cv_.notify_all();
}

void Dispatcher::WorkerLoop(int index) {
  const std::string owner = instance_id_ + "/w" + std::to_string(index);
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      seen = wakeups_;
    }
    StatusOr<bool> did = RunOnce(owner);
    if (!did.ok()) log::Error("dispatch pass failed", {{"error", did.status().ToString()}});
    if (did.ok() && *did) continue;  // more work may be due right away
    // Idle (or the store failed): wait for a notification or the poll interval. Real time is
    // fine here: this only paces polling; every decision uses the injected clock.
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, options_.poll_interval, [&] { return stopping_ || wakeups_ != seen; });
  }
}

StatusOr<bool> Dispatcher::RunOnce(const std::string& owner) {
  StatusOr<std::optional<store::Claim>> claim = store_.ClaimConnection(owner, clock_.Now(), options_.lease);
  if (!claim.ok()) return claim.status();
  if (!claim->has_value()) return false;
  DeliverClaim(owner, **claim);
  if (Status s = store_.ReleaseConnection((*claim)->connection_id, owner); !s.ok()) return s;
  return true;
}

void Dispatcher::DeliverClaim(const std::string& owner, const store::Claim& claim) {
  const TimePoint now = clock_.Now();
  const std::string& connection = claim.connection_id;

  // Triggers past their maximum age go dead instead of starting a sync long after the run.
  std::vector<int64_t> ids, expired;
  bool full = false;
  int attempts = 0;
  std::string last_error;
  for (const store::Trigger& t : claim.triggers) {
    if (now - t.created_at > options_.max_age) {
      expired.push_back(t.id);
      last_error = t.last_error;
      continue;
    }
    ids.push_back(t.id);
    full |= t.sync_type == "full";
    attempts = std::max(attempts, t.attempts);
  }
  if (!expired.empty()) {
    std::string reason = "maximum age exceeded; last error: " + (last_error.empty() ? "none" : last_error);
    if (Status s = store_.MarkDead(expired, reason, now); !s.ok()) log::Error("store", {{"error", s.ToString()}});
    log::Warn("triggers dead", {{"connection_id", connection}, {"trigger_ids", JoinIds(expired)}, {"reason", reason}});
  }
  if (ids.empty()) return;

  const std::string sync_type = full ? "full" : "incremental";
  rudderstack::CallMeta meta;
  StatusOr<std::string> started = client_.StartSync(connection, sync_type, &meta);
  const Status result = started.status();

  store::Attempt attempt{connection, "start", now, meta.latency_ms, meta.http_status,
                         result.ok() ? "ok" : result.ToString(), started.ok() ? *started : "", ids};
  if (Status s = store_.RecordAttempt(attempt); !s.ok()) log::Error("store", {{"error", s.ToString()}});

  Status stored;
  if (started.ok()) {
    stored = store_.MarkStarted(ids, *started, clock_.Now());
    log::Info("sync started", {{"connection_id", connection}, {"sync_id", *started}, {"sync_type", sync_type},
                               {"trigger_ids", JoinIds(ids)}, {"owner", owner}});
  } else if (IsRetryable(result)) {
    double r;
    {
      std::lock_guard<std::mutex> lock(random_mu_);
      r = unit_random_();
    }
    Duration delay = BackoffDelay({options_.retry_initial, options_.retry_max}, attempts, r, result);
    stored = store_.MarkRetry(ids, now + delay, result.ToString(), now);
    log::Warn("start failed, will retry", {{"connection_id", connection}, {"trigger_ids", JoinIds(ids)},
                                           {"error", result.ToString()}, {"retry_in_ms", std::to_string(delay.count())}});
  } else {
    stored = store_.MarkDead(ids, result.ToString(), now);
    log::Error("start failed permanently, triggers dead",
               {{"connection_id", connection}, {"trigger_ids", JoinIds(ids)}, {"error", result.ToString()}});
  }
  if (!stored.ok()) log::Error("store", {{"error", stored.ToString()}});
}

}  // namespace relay::dispatch
