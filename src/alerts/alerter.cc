#include "alerts/alerter.h"

#include <algorithm>

#include "alerts/messages.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/retry.h"
#include "common/thread_name.h"
#include "config/config_loader.h"
#include "httpc/http_call.h"

namespace relay::alerts {
namespace {

constexpr int kBatch = 500;             // alerts read per round and sink
constexpr int kRunsPerAlert = 20;       // dbt runs listed per alert
constexpr size_t kEnriched = 20;        // alerts of one message whose runs are read (a summary shows 20)
constexpr Duration kTick = std::chrono::seconds(1);
constexpr Duration kFirstRetry = std::chrono::seconds(5);
constexpr Duration kMaxRetry = std::chrono::minutes(10);

void Count(const std::string& sink, const char* result, int64_t n) {
  if (n <= 0) return;
  metrics::Default()
      .GetCounter("retl_relay_alerts_total", "alerts by sink and result: delivered, or failed (a POST that failed)",
                  {{"sink", sink}, {"result", result}})
      .Inc(static_cast<double>(n));
}

// One POST to a sink. The URL is never in the Status's text (a Slack URL is a credential).
// `abort`, when set, abandons the call (shutdown).
Status Post(const config::AlertSink& sink, const std::string& body, Duration timeout, long* http_status,
            const std::atomic<bool>* abort = nullptr) {
  httpc::Request req;
  req.method = "POST";
  req.url = sink.url;
  req.log_url = config::RedactedUrl(sink.url);
  req.body = body;
  req.timeout = timeout;
  req.connect_timeout = std::min<Duration>(timeout, std::chrono::seconds(10));
  req.abort = abort;
  if (!sink.secret.empty()) req.headers.push_back("X-Retl-Relay-Signature: " + SignatureValue(body, sink.secret));
  httpc::Exchange ex = httpc::Perform(req);
  if (http_status != nullptr) *http_status = ex.status;
  std::string detail = ex.body.substr(0, 200);
  return httpc::StatusOf(ex, "alert sink " + sink.name + " POST " + req.log_url, ex.status >= 300 ? detail : "");
}

}  // namespace

Alerter::Alerter(const config::Config& config, store::AlertStore& alerts, store::ConnectionStatusStore& ops, Clock& clock,
                 std::string owner)
    : config_(config), alerts_(alerts), ops_(ops), clock_(clock), owner_(std::move(owner)) {}

Alerter::~Alerter() { Stop(); }

void Alerter::Start() {
  if (config_.alerts.empty() || thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void Alerter::Stop() {
  abort_ = true;  // a POST in progress gives up within about a second
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

Duration Alerter::RetryIn(const Status& failure, int attempts) {
  if (!IsRetryable(failure)) return kMaxRetry;  // the sink refused: it will not change by itself soon
  return BackoffDelay({kFirstRetry, kMaxRetry}, attempts - 1, 1.0, failure);
}

void Alerter::Loop() {
  NameThisThread("retl-alerts");
  for (;;) {
    {
      MutexLock lock(mu_);
      if (stopping_) return;
    }
    if (Status s = RunOnce(); !s.ok()) {
      const std::string problem = s.ToString();
      if (problem != last_problem_) log::Warn("alerts: store error; trying again shortly", {{"error", problem}});
      last_problem_ = problem;
    } else {
      last_problem_.clear();
    }
    MutexLock lock(mu_);
    cv_.WaitFor(mu_, kTick, [this]() REQUIRES(mu_) { return stopping_; });
  }
}

Status Alerter::RunOnce() {
  const TimePoint now = FromUnixMillis(ToUnixMillis(clock_.Now()));
  if (!next_check_ || now >= *next_check_) {
    next_check_ = now + config_.alerting.check_interval;
    Status checked = CheckSignatures(now);
    if (checked.ok()) checked = CheckPending(now);
    metrics::Default()
        .GetCounter("retl_relay_alert_checks_total", "passes of the alerter's checks (signature failures, pending too long)",
                    {{"result", checked.ok() ? "ok" : "error"}})
        .Inc();
    if (!checked.ok()) return checked;
  }
  // Idle rounds only read: a sink is claimed (a write) when it has something after its position.
  StatusOr<std::vector<store::AlertSinkState>> states = alerts_.ListAlertSinks();
  if (!states.ok()) return states.status();
  for (const config::AlertSink& sink : config_.alerts) {
    if (Status s = Deliver(sink, *states, now); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Alerter::CheckSignatures(TimePoint now) {
  const int64_t total = rejected_.load(std::memory_order_relaxed);
  // The counter starts at zero with the process: rejections before the first check count too
  // (a slow start must not hide a burst that came with it).
  if (rejected_seen_.empty()) rejected_seen_.emplace_back(now, 0);
  rejected_seen_.emplace_back(now, total);
  while (rejected_seen_.size() > 1 && rejected_seen_.front().first < now - config_.alerting.signature_window) {
    rejected_seen_.pop_front();
  }
  const int64_t in_window = total - rejected_seen_.front().second;
  if (in_window < config_.alerting.signature_failures) return Status::Ok();
  rejected_seen_.clear();  // counted: the next alert needs a new burst
  rejected_seen_.emplace_back(now, total);
  store::NewAlert a;
  a.kind = std::string(config::kAlertSignatureFailures);
  a.at = now;
  const int64_t minutes = std::chrono::duration_cast<std::chrono::minutes>(config_.alerting.signature_window).count();
  a.error = std::to_string(in_window) + " webhook deliveries rejected for their signature";
  a.summary = a.error + " within " + std::to_string(std::max<int64_t>(minutes, 1)) +
              " min: the secret in dbt Cloud and dbt.webhook_secret(s) no longer match (a rotated secret?)";
  // At most one per window across instances.
  a.dedupe_key = "signature_failures|" + std::to_string(ToUnixMillis(now) / std::max<int64_t>(
                                                            config_.alerting.signature_window.count(), 1));
  StatusOr<int> added = alerts_.AddAlerts({a});
  if (!added.ok()) return added.status();
  if (*added > 0) log::Warn("alert raised: signature failures", {{"rejected", std::to_string(in_window)}});
  return Status::Ok();
}

Status Alerter::CheckPending(TimePoint now) {
  StatusOr<std::vector<store::ConnectionStatus>> conns = ops_.ListConnections();
  if (!conns.ok()) return conns.status();
  std::vector<store::NewAlert> raised;
  for (const store::ConnectionStatus& c : *conns) {
    // Waiting: pending, queued behind another sync, or in a start RudderStack has not accepted.
    std::optional<TimePoint> oldest = c.oldest_pending;
    if (c.oldest_starting && (!oldest || *c.oldest_starting < *oldest)) oldest = c.oldest_starting;
    if (!oldest || now - *oldest < config_.alerting.pending_too_long) continue;
    const auto waited = std::chrono::duration_cast<std::chrono::minutes>(now - *oldest).count();
    store::NewAlert a;
    a.kind = std::string(config::kAlertPendingTooLong);
    a.at = now;
    a.connection_id = c.connection.id;
    a.sync_id = c.connection.sync_id;
    a.error = c.connection.last_error;
    a.summary = "connection " + c.connection.id + " has trigger(s) waiting for a sync, the oldest for " +
                std::to_string(waited) + " min (phase " +
                std::string(store::ToString(c.connection.phase)) + ")" + (c.connection.last_error.empty() ? "" : "; last error: " + c.connection.last_error);
    // Once per trigger that crosses the line: the oldest pending one names it.
    a.dedupe_key = "pending_too_long|" + c.connection.id + "|" + std::to_string(ToUnixMillis(*oldest));
    raised.push_back(std::move(a));
  }
  if (raised.empty()) return Status::Ok();
  StatusOr<int> added = alerts_.AddAlerts(raised);
  return added.status();
}

Status Alerter::Deliver(const config::AlertSink& sink, const std::vector<store::AlertSinkState>& states, TimePoint now) {
  auto known = std::find_if(states.begin(), states.end(), [&](const store::AlertSinkState& s) { return s.name == sink.name; });
  if (known != states.end() && known->next_at > now) return Status::Ok();
  if (known != states.end()) {
    StatusOr<std::vector<store::StoredAlert>> next = alerts_.AlertsAfter(known->last_alert_id, 1);
    if (!next.ok()) return next.status();
    if (next->empty()) return Status::Ok();
  }
  // The lease outlives a round: at most kEnriched reads and one POST bounded by request_timeout.
  StatusOr<std::optional<store::AlertSinkState>> claimed =
      alerts_.ClaimAlertSink(sink.name, owner_, now, config_.alerting.request_timeout * 2 + std::chrono::seconds(60));
  if (!claimed.ok()) return claimed.status();
  if (!claimed->has_value()) return Status::Ok();  // another instance has it, or not due
  store::AlertSinkState st = **claimed;
  StatusOr<std::vector<store::StoredAlert>> batch = alerts_.AlertsAfter(st.last_alert_id, kBatch);
  if (!batch.ok()) return batch.status();
  std::vector<Alert> wanted;
  int64_t through = st.last_alert_id;
  for (const store::StoredAlert& a : *batch) {
    if (sink.Wants(a.alert.kind)) {
      // Without rate limiting, each alert goes on its own.
      if (sink.min_interval.count() == 0 && !wanted.empty()) break;
      wanted.push_back(Alert{a, {}, 0});
    }
    through = a.id;
  }
  if (wanted.empty()) {
    st.last_alert_id = through;  // nothing this sink wants: move past it
    return alerts_.SaveAlertSink(st, owner_);
  }
  if (st.last_sent_at && sink.min_interval.count() > 0 && now < *st.last_sent_at + sink.min_interval) {
    // Rate-limited: what gathers meanwhile goes out as one message when the interval is over.
    st.next_at = *st.last_sent_at + sink.min_interval;
    return alerts_.SaveAlertSink(st, owner_);
  }
  for (size_t i = 0; i < wanted.size() && i < kEnriched; ++i) {
    Alert& a = wanted[i];
    const store::NewAlert& n = a.stored.alert;
    if (n.start_id == 0 || n.connection_id.empty()) continue;
    StatusOr<store::AlertStore::StartRuns> runs = alerts_.RunsOfStart(n.connection_id, n.start_id, kRunsPerAlert);
    if (!runs.ok()) return runs.status();
    a.runs = std::move(runs->runs);
    a.triggers = runs->triggers;
  }
  const std::string body = sink.kind == "slack" ? SlackBody(wanted) : WebhookBody(wanted, now);
  long http_status = 0;
  const Status sent = Post(sink, body, config_.alerting.request_timeout, &http_status, &abort_);
  const TimePoint after = FromUnixMillis(ToUnixMillis(clock_.Now()));
  if (sent.ok()) {
    if (st.attempts > 0) log::Info("alert sink answers again", {{"sink", sink.name}});
    st.last_alert_id = through;
    st.last_sent_at = after;
    st.attempts = 0;
    st.last_error.clear();
    st.next_at = after;
    ++st.delivered;
    Count(sink.name, "delivered", static_cast<int64_t>(wanted.size()));
    log::Info("alert delivered", {{"sink", sink.name}, {"alerts", std::to_string(wanted.size())},
                                  {"http_status", std::to_string(http_status)}});
  } else {
    ++st.attempts;
    const Duration wait = RetryIn(sent, st.attempts);
    st.next_at = after + wait;
    if (sent.ToString() != st.last_error) {
      const bool refused = !IsRetryable(sent);
      (refused ? log::Error : log::Warn)(
          refused ? "alert sink refused the message; check its url (and secret)" : "alert sink did not answer; will retry",
          {{"sink", sink.name}, {"error", sent.ToString()}, {"retry_in_s", std::to_string(wait.count() / 1000)}});
    }
    st.last_error = sent.ToString();
    Count(sink.name, "failed", static_cast<int64_t>(wanted.size()));
  }
  return alerts_.SaveAlertSink(st, owner_);
}

std::vector<Alerter::TestResult> Alerter::SendTest(const config::Config& config, TimePoint now) {
  std::vector<TestResult> out;
  for (const config::AlertSink& sink : config.alerts) {
    TestResult r;
    r.sink = sink.name;
    r.url = config::RedactedUrl(sink.url);
    r.status = Post(sink, TestBody(sink.kind, now), config.alerting.request_timeout, &r.http_status);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace relay::alerts
