#pragma once
// Dispatcher: runs the per-connection sync lifecycle (connection_machine.h) on its own worker
// threads, never on the HTTP threads. Each worker repeatedly leases one connection that needs
// work — pending triggers, an ambiguous start to resolve, a sync to poll, another sync to wait
// for — and advances it one step. Leases live in the store, so workers in several processes
// share the work and a dead worker's connections are taken over when its lease expires.

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "config/config.h"
#include "dispatch/connection_machine.h"
#include "rudderstack/client.h"
#include "store/store.h"

namespace relay::dispatch {

class Dispatcher {
 public:
  // `unit_random` returns values in [0, 1) for backoff jitter. `instance_id` must be unique per
  // process (it names lease owners).
  Dispatcher(store::LifecycleStore& store, rudderstack::Client& client, Clock& clock, config::DispatchConfig options,
             std::string instance_id, std::function<double()> unit_random);
  ~Dispatcher();  // stops the workers

  void Start();
  // Stops accepting work and joins the workers; a call in flight finishes first (bounded by
  // the client's request timeout).
  void Stop();
  // Wakes idle workers: new triggers were stored.
  void Notify();
  // True while the workers run and one of them finished a pass (or woke) within `tolerance`.
  bool Alive(Duration tolerance) const;

  // One pass of one worker: claims a connection with due work and advances it one step.
  // Returns true if it did something, false when nothing was due. Errors are the store's. Used
  // by the worker threads and directly by tests with a FakeClock.
  StatusOr<bool> RunOnce(const std::string& owner);

 private:
  void WorkerLoop(int index);
  StatusOr<bool> RunOnceGuarded(const std::string& owner);  // RunOnce; an exception is an error
  double Random();

  store::LifecycleStore& store_;
  Clock& clock_;
  const config::DispatchConfig options_;
  const std::string instance_id_;
  std::function<double()> unit_random_;
  Mutex random_mu_;  // unit_random_ need not be thread-safe
  ConnectionMachine machine_;

  Mutex mu_;
  CondVar cv_;
  uint64_t wakeups_ GUARDED_BY(mu_) = 0;
  int waiting_for_work_ GUARDED_BY(mu_) = 0;  // workers blocked until a notification
  bool stopping_ GUARDED_BY(mu_) = false;
  std::atomic<bool> running_{false};
  std::atomic<int64_t> last_beat_ms_{0};  // steady clock of the last finished pass or wake-up
  std::vector<std::thread> workers_;
};

}  // namespace relay::dispatch
