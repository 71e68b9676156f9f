#include "dispatch/dispatcher.h"

#include "common/log.h"
#include "common/thread_name.h"

namespace relay::dispatch {

Dispatcher::Dispatcher(store::LifecycleStore& store, rudderstack::Client& client, Clock& clock,
                       config::DispatchConfig options, std::string instance_id,
                       std::function<double()> unit_random)
    : store_(store),
      clock_(clock),
      options_(options),
      instance_id_(std::move(instance_id)),
      unit_random_(std::move(unit_random)),
      machine_(store, client, clock, options, [this] { return Random(); }) {}

double Dispatcher::Random() {
  MutexLock lock(random_mu_);
  return unit_random_();
}

Dispatcher::~Dispatcher() { Stop(); }

namespace {
int64_t SteadyMs(Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.SteadyNow().time_since_epoch()).count();
}
}  // namespace

void Dispatcher::Start() {
  last_beat_ms_ = SteadyMs(clock_);
  running_ = true;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

bool Dispatcher::Alive(Duration tolerance) const {
  return running_ && SteadyMs(clock_) - last_beat_ms_.load() < tolerance.count();
}

void Dispatcher::Stop() {
  running_ = false;
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void Dispatcher::Notify() {
  bool anyone_waiting;
  {
    MutexLock lock(mu_);
    ++wakeups_;
    anyone_waiting = waiting_for_work_ > 0;
  }
  // Workers busy with a pass, or letting triggers gather, see the count when they next look:
  // no wake-up (a futex call per webhook) for them.
  if (anyone_waiting) cv_.SignalAll();
}

void Dispatcher::WorkerLoop(int index) {
  NameThisThread("retl-dispatch");
  const std::string owner = instance_id_ + "/w" + std::to_string(index);
  bool notified_in_vain = false;  // the last pass was woken by new triggers and found nothing due
  for (;;) {
    uint64_t seen;
    {
      MutexLock lock(mu_);
      if (stopping_) return;
      seen = wakeups_;
    }
    StatusOr<bool> did = RunOnceGuarded(owner);
    last_beat_ms_ = SteadyMs(clock_);
    if (!did.ok()) log::Error("dispatch pass failed", {{"error", did.status().ToString()}});
    if (did.ok() && *did) {
      notified_in_vain = false;
      continue;  // more work may be due right away
    }
    // Idle (or the store failed): wait for a notification or the poll interval. Real time is
    // fine here: this only paces polling; every decision uses the injected clock.
    MutexLock lock(mu_);
    if (notified_in_vain) {
      // A stream of webhooks for connections that are busy: let the next few milliseconds'
      // triggers gather instead of spending a claim transaction on each webhook.
      cv_.WaitFor(mu_, options_.notify_coalesce, [&]() REQUIRES(mu_) { return stopping_; });
    }
    ++waiting_for_work_;
    notified_in_vain =
        cv_.WaitFor(mu_, options_.poll_interval, [&]() REQUIRES(mu_) { return stopping_ || wakeups_ != seen; });
    --waiting_for_work_;
  }
}

StatusOr<bool> Dispatcher::RunOnceGuarded(const std::string& owner) {
  // Nothing thrown on a worker thread may end the process: the pass counts as failed, the
  // lease runs out, and the connection is tried again.
  try {
    return RunOnce(owner);
  } catch (const std::exception& e) {
    return InternalError(std::string("dispatch pass threw: ") + e.what());
  } catch (...) {
    return InternalError("dispatch pass threw a non-standard exception");
  }
}

StatusOr<bool> Dispatcher::RunOnce(const std::string& owner) {
  StatusOr<std::optional<store::Claim>> claim = store_.ClaimConnection(owner, clock_.Now(), options_.lease);
  if (!claim.ok()) return claim.status();
  if (!claim->has_value()) return false;
  Status s = machine_.Step(owner, **claim);
  // A lost lease means another worker has the connection now: not an error of this pass.
  if (!s.ok() && s.code() != StatusCode::kFailedPrecondition) return s;
  return true;
}

}  // namespace relay::dispatch
