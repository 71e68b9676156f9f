#pragma once
// Dispatcher: turns pending triggers into RudderStack sync starts, on its own threads (never the
// HTTP threads). Each worker repeatedly leases one connection with due triggers, starts one
// sync covering all of them (full if any asks for full), and records the outcome:
//
//   pending ──start 200 {syncId}──▶ started
//      │ ▲
//      │ └── retryable (5xx, 429, 409, timeout, network): next_attempt_at = now + backoff
//      └──── permanent (400/401/403/404) or older than max_age ──▶ dead (reason kept)
//
// Worked example: triggers 7 and 8 for connection "c1" are pending. Worker w1 claims "c1"
// (lease until now+60 s), calls POST …/c1/start once with {"syncType":"incremental"}, gets
// 503, and sets both triggers' next_attempt_at to now + jitter(1 s). A later pass claims "c1"
// again, gets 200 {"syncId":"s9"}, and marks 7 and 8 started with sync s9. If w1's process
// dies mid-call, the lease expires and any worker (this process or another) claims "c1".
//
// The per-connection lifecycle of issue #3 (409 policies, crash-safe start, outcome polling)
// replaces the body of DeliverClaim; claiming and leasing stay as they are.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "rudderstack/client.h"
#include "store/store.h"

namespace relay::dispatch {

class Dispatcher {
 public:
  // `unit_random` returns values in [0, 1) for backoff jitter. `instance_id` must be unique per
  // process (it names lease owners).
  Dispatcher(store::Store& store, rudderstack::Client& client, Clock& clock, config::DispatchConfig options,
             std::string instance_id, std::function<double()> unit_random);
  ~Dispatcher();  // stops the workers

  void Start();
  // Stops accepting work and joins the workers; a call in flight finishes first (bounded by
  // the client's request timeout).
  void Stop();
  // Wakes idle workers: new triggers were stored.
  void Notify();

  // One pass of one worker: claims a connection with due work and delivers it. Returns true if
  // it did something, false when nothing was due. Errors are the store's. Used by the worker
  // threads and directly by tests with a FakeClock.
  StatusOr<bool> RunOnce(const std::string& owner);

 private:
  void WorkerLoop(int index);
  void DeliverClaim(const std::string& owner, const store::Claim& claim);

  store::Store& store_;
  rudderstack::Client& client_;
  Clock& clock_;
  const config::DispatchConfig options_;
  const std::string instance_id_;
  std::function<double()> unit_random_;
  std::mutex random_mu_;

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wakeups_ = 0;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace relay::dispatch
