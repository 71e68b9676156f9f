#pragma once
// Alerter: raises the alerts that are not lifecycle outcomes and delivers every alert to the
// [[alert]] sinks that want it, on its own thread ("retl-alerts"), never on an HTTP thread nor
// on a dispatcher worker. It looks every second (tick), so an alert raised by the lifecycle is
// sent within about a second. docs/operations.md, "Alerts", is the operator's view.
//
// Raised where:
//   sync_failed, trigger_dead   by the connection machine, in the commit that ends the start
//                               (store::Transition::alerts): durable with the outcome itself
//   signature_failures          here: alerting.signature_failures rejected deliveries within
//                               alerting.signature_window (SignatureRejected counts them)
//   pending_too_long            here: a connection's oldest pending trigger older than
//                               alerting.pending_too_long; once per such trigger
// Delivered how: each sink keeps a position in the store's alert log (store::AlertStore) and is
// delivered by one instance at a time (a lease). A round sends every alert the sink wants after
// its position as one message (a summary when several), then moves the position; at most one
// message per min_interval, so a storm becomes one summary. A failed POST leaves the position
// where it was and tries again with backoff (5 s doubling up to 10 min; a refusal such as 404
// waits the 10 min and is logged with its fix), so delivery survives restarts and is at least
// once. Sink URLs are shown as scheme://host/… only.

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "config/config.h"
#include "store/store.h"

namespace relay::alerts {

class Alerter {
 public:
  // `owner` names this instance in sink leases.
  Alerter(const config::Config& config, store::AlertStore& alerts, store::ConnectionStatusStore& ops, Clock& clock,
          std::string owner);
  ~Alerter();  // stops the thread
  Alerter(const Alerter&) = delete;
  Alerter& operator=(const Alerter&) = delete;

  // Starts the thread when at least one sink is configured.
  void Start();
  void Stop();
  // A webhook delivery was rejected for its signature. Any thread; never blocks.
  void SignatureRejected() { rejected_.fetch_add(1, std::memory_order_relaxed); }

  // One round, as the thread runs it: the checks (when due), then every due sink. Tests call it
  // with a FakeClock.
  Status RunOnce();

  // POSTs a test message to every sink now (send-test-alert); nothing is stored.
  struct TestResult {
    std::string sink;
    std::string url;  // redacted
    Status status;
    long http_status = 0;
  };
  static std::vector<TestResult> SendTest(const config::Config& config, TimePoint now);

  // The wait before the next try after `attempts` failed deliveries in a row (this one included).
  static Duration RetryIn(const Status& failure, int attempts);

 private:
  void Loop();
  Status CheckSignatures(TimePoint now);
  Status CheckPending(TimePoint now);
  Status Deliver(const config::AlertSink& sink, const std::vector<store::AlertSinkState>& states, TimePoint now);

  const config::Config& config_;
  store::AlertStore& alerts_;
  store::ConnectionStatusStore& ops_;
  Clock& clock_;
  const std::string owner_;
  std::atomic<int64_t> rejected_{0};
  std::atomic<bool> abort_{false};  // set by Stop: a POST in progress gives up
  // (time, rejected_ then) at each check within the window: the count over the window is the
  // difference with the oldest.
  std::deque<std::pair<TimePoint, int64_t>> rejected_seen_;
  std::optional<TimePoint> next_check_;
  std::string last_problem_;  // logged once
  Mutex mu_;
  CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace relay::alerts
