#pragma once
// Pruner: store.retention applied in the background. Every `interval` it removes what is older
// than the retention in small batches (Store::Prune), pausing between them so that webhooks,
// which share the store's writer, never wait behind a long transaction. `retl-relay prune`
// does the same by hand.

#include <thread>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "store/store.h"

namespace relay::store {

struct PrunerOptions {
  Duration retention = std::chrono::hours(24 * 90);  // zero: the pruner does nothing
  Duration first_pass_after = std::chrono::minutes(1);
  Duration interval = std::chrono::hours(1);
  int batch = 500;                                  // of each kind of row, per transaction
  Duration pause = std::chrono::milliseconds(20);   // between batches
};

class Pruner {
 public:
  Pruner(RetentionStore& store, Clock& clock, PrunerOptions options);
  ~Pruner();  // stops the thread
  Pruner(const Pruner&) = delete;
  Pruner& operator=(const Pruner&) = delete;

  void Start();
  void Stop();

  // One whole pass now, on the caller's thread: batches until nothing older than the
  // retention is left (the pause between them included). Returns what was removed.
  StatusOr<PruneCounts> RunPass();

 private:
  void Loop();
  // Waits `d` of real time; false when Stop was called meanwhile.
  bool Sleep(Duration d);

  RetentionStore& store_;
  Clock& clock_;
  const PrunerOptions options_;
  Mutex mu_;
  CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace relay::store
