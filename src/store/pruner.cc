#include "store/pruner.h"

#include "common/log.h"
#include "common/metrics.h"
#include "common/thread_name.h"

namespace relay::store {

Pruner::Pruner(RetentionStore& store, Clock& clock, PrunerOptions options) : store_(store), clock_(clock), options_(options) {}

Pruner::~Pruner() { Stop(); }

void Pruner::Start() {
  if (options_.retention.count() <= 0) return;
  thread_ = std::thread([this] { Loop(); });
}

void Pruner::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

bool Pruner::Sleep(Duration d) {
  MutexLock lock(mu_);
  cv_.WaitFor(mu_, d, [this]() REQUIRES(mu_) { return stopping_; });
  return !stopping_;
}

StatusOr<PruneCounts> Pruner::RunPass() {
  PruneCounts total;
  const TimePoint cutoff = clock_.Now() - options_.retention;
  for (;;) {
    StatusOr<PruneCounts> batch = store_.Prune(cutoff, options_.batch, /*dry_run=*/false);
    if (!batch.ok()) return batch.status();
    total += *batch;
    if (batch->total() == 0) return total;
    if (!Sleep(options_.pause)) return total;
  }
}

void Pruner::Loop() {
  NameThisThread("retl-prune");
  for (Duration wait = options_.first_pass_after; Sleep(wait); wait = options_.interval) {
    StatusOr<PruneCounts> pass = RunPass();
    if (!pass.ok()) {
      log::Warn("retention pass failed; next pass at the next interval", {{"error", pass.status().ToString()}});
      continue;
    }
    for (auto [kind, n] : {std::pair<const char*, int64_t>{"events", pass->events}, {"triggers", pass->triggers},
                           {"syncs", pass->syncs}, {"attempts", pass->attempts}, {"starts", pass->starts},
                           {"alerts", pass->alerts}}) {
      metrics::Default()
          .GetCounter("retl_relay_pruned_total", "rows removed by store.retention, by kind", {{"kind", kind}})
          .Inc(static_cast<uint64_t>(n));
    }
    if (pass->total() > 0) {
      log::Info("retention pass", {{"events", std::to_string(pass->events)}, {"triggers", std::to_string(pass->triggers)},
                                   {"syncs", std::to_string(pass->syncs)}, {"attempts", std::to_string(pass->attempts)},
                                   {"starts", std::to_string(pass->starts)}, {"alerts", std::to_string(pass->alerts)}});
    }
  }
}

}  // namespace relay::store
