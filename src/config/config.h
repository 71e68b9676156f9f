#pragma once
// The relay's configuration as a plain struct. Each field documents its default and trade-off.
// Built by config_loader.h from a TOML file (README, "Configuration file") or from the seed's environment
// variables (zero-config mode). Values are validated once at load; code may trust them.

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"

namespace relay::config {

enum class SyncType : uint8_t { kIncremental, kFull };
enum class IfRunning : uint8_t { kQueue, kSkip, kRestart };

std::string_view SyncTypeName(SyncType t);    // "incremental" | "full"
std::string_view IfRunningName(IfRunning p);  // "queue" | "skip" | "restart"

struct ServerConfig {
  // host:port to listen on. Default "0.0.0.0:8080": dbt Cloud must reach the relay.
  std::string listen = "0.0.0.0:8080";
  // Request bodies above this are answered 413 without being read. dbt payloads are < 2 KiB.
  uint64_t max_body_bytes = 1024 * 1024;
  // Time allowed for the request line and headers, and then for the body. A slow client is
  // disconnected after this; dbt itself gives up after 10 s.
  Duration header_timeout = std::chrono::seconds(10);
  Duration body_timeout = std::chrono::seconds(10);
  // An idle keep-alive connection is closed after this.
  Duration idle_timeout = std::chrono::seconds(60);
  // Threads running the HTTP server. They never block on I/O other than sockets.
  int io_threads = 1;
  // Connections held open at once; a new one beyond this is closed at once (the relay also
  // keeps this below its file-descriptor limit). 1,000 idle keep-alive connections fit.
  int max_connections = 4096;
  // On SIGTERM/SIGINT: stop accepting, then wait up to this for requests in flight to be
  // answered before exiting. The dispatcher's current RudderStack call is bounded separately
  // by rudderstack.request_timeout and is recovered after a restart if it is abandoned.
  Duration shutdown_timeout = std::chrono::seconds(10);
};

struct StoreConfig {
  // "sqlite:///abs/path.db", "sqlite://relative.db", or "postgresql://…" (several instances).
  // Left out, the loaders fill in config::DefaultStoreUrl: never the current directory.
  std::string url;
  std::string sqlite_path;  // derived from url
  bool url_defaulted = false;  // url is DefaultStoreUrl's, not the operator's
  // Events, their triggers, finished syncs and attempts older than this are pruned (never a
  // trigger that is not final). Zero keeps everything; otherwise at least kMinRetention (1d).
  Duration retention = std::chrono::hours(24 * 90);
  // How often the relay prunes (the first pass comes after a minute, or this if shorter).
  Duration retention_interval = std::chrono::hours(1);
};

struct DbtConfig {
  // HMAC secrets; a delivery verifies if it matches any of them (several subscriptions or a
  // rotation). Empty means every webhook is rejected unless allow_unsigned is set.
  std::vector<std::string> webhook_secrets;
  // Accept unsigned webhooks when no secret is configured. Off: the relay fails closed.
  bool allow_unsigned = false;
};

struct RudderstackConfig {
  // "us" → https://api.rudderstack.com, "eu" → https://api.eu.rudderstack.com.
  std::string region = "us";
  // Overrides region; http:// is allowed (tests, the fake). No trailing "/v2".
  std::string api_base;
  std::string token;  // Workspace Service Access Token. Secret: never logged.
  Duration connect_timeout = std::chrono::seconds(10);
  Duration request_timeout = std::chrono::seconds(30);  // as RudderStack's own clients
};

struct DispatchConfig {
  int workers = 2;  // threads calling RudderStack; each owns one connection at a time
  // How often idle workers look for due work. New triggers wake them at once.
  Duration poll_interval = std::chrono::seconds(1);
  // Under a stream of webhooks, a worker whose last look found nothing due looks again at most
  // this often: the triggers stored meanwhile are claimed together (one start) instead of each
  // webhook costing a claim transaction. The first trigger after a quiet spell is not delayed.
  Duration notify_coalesce = std::chrono::milliseconds(10);
  // Backoff for retryable failures: full jitter over min(max, initial * 2^attempt).
  Duration retry_initial = std::chrono::seconds(1);
  Duration retry_max = std::chrono::minutes(5);
  // A trigger still pending (no start sent for it yet) after this goes dead with its last error.
  Duration max_age = std::chrono::hours(24);
  // A claimed connection returns to the pool if its worker dies and does not renew within this.
  Duration lease = std::chrono::seconds(60);
  // How often a running sync is polled (GET …/syncs/{id}); RudderStack's own clients use 10 s.
  Duration sync_poll_interval = std::chrono::seconds(10);
  // A sync still not succeeded/failed after this is given up on: its triggers go dead with
  // "outcome unknown". RudderStack's own clients poll forever; we do not.
  Duration outcome_timeout = std::chrono::hours(24);
  // After an ambiguous start (timeout, 5xx, crash), a sync that started at or after
  // "start attempted at" minus this is taken to be ours. Covers clock skew with RudderStack.
  Duration start_skew = std::chrono::seconds(30);
};

struct AdminConfig {
  // Bearer token for the admin API under /api/v1/. Empty: the admin API is off (404). Secret.
  std::string token;
  // "host:port" of a private admin listener (e.g. 127.0.0.1:9090). When set, /metrics and
  // /api/v1/ are served only there, and server.listen serves only the webhook paths and
  // /healthz, /readyz. Empty: one listener serves everything.
  std::string listen;
};

// dbt Cloud's Admin API, for reconciliation and run verification (docs/operations.md). Without
// the [dbt_cloud] section (account_id empty) nothing calls dbt Cloud.
struct DbtCloudConfig {
  // The account's access URL: https://cloud.getdbt.com, https://emea.dbt.com, a cell URL such as
  // https://ab123.us1.dbt.com, or http:// for tests. No trailing "/api".
  std::string api_base = "https://cloud.getdbt.com";
  std::string account_id;  // digits; empty: the section is absent and nothing below applies
  std::string token;       // service token that can read runs (DBT_CLOUD_API_TOKEN). Secret.
  // How often the runs list is compared with the events stored. Zero turns reconciliation off
  // (verify_runs may still be on).
  Duration reconcile_interval = std::chrono::minutes(5);
  // A run that finished longer ago than this is never reconciled. Nor is one that finished
  // before the relay first looked at its job (the watermark).
  Duration lookback = std::chrono::hours(24);
  // A run is reconciled only once it finished at least this long ago: dbt sends
  // job.run.completed after ingesting the run's artifacts, so an on-time webhook can arrive a
  // while after finished_at, and must not be taken for a missed one.
  Duration grace = std::chrono::minutes(2);
  // Confirm each terminal webhook's run with Retrieve Run before routing it; the API's status
  // wins over the payload's.
  bool verify_runs = false;
  // With verify_runs: how long to wait for a run the API does not show complete yet, and for
  // an API that does not answer, before acting on the signed webhook as it is.
  Duration verify_window = std::chrono::minutes(5);
  Duration request_timeout = std::chrono::seconds(30);
  bool enabled() const { return !account_id.empty(); }
};

struct Route {
  std::string name;
  // Empty list = any. An event matches when every non-empty list contains its id.
  std::vector<int64_t> job_ids, project_ids, environment_ids, account_ids;
  std::vector<int> on_status_codes = {10};  // "success" → 10, "error" → 20, "cancelled" → 30
  std::vector<std::string> connections;
  SyncType sync_type = SyncType::kIncremental;
  IfRunning if_running = IfRunning::kQueue;
  // Fan-in: the route fires once each of these jobs has had a run matching the route (its `on`
  // outcomes and other id filters) since the route last fired, on the run that completes the
  // set; the set then starts over. Progress is durable (store::FanInStep). Excludes job_ids.
  std::vector<int64_t> after_all;
  // With after_all: the latest counted run of each job must fall within this span of one
  // another (by the time each was received); older ones no longer count. Zero: no window.
  Duration within{0};
  bool fan_in() const { return !after_all.empty(); }
};

// Alert kinds ([[alert]] on = [...]).
inline constexpr std::string_view kAlertSyncFailed = "sync_failed";      // a sync we started or adopted failed
inline constexpr std::string_view kAlertTriggerDead = "trigger_dead";    // a start was given up (its triggers dead)
inline constexpr std::string_view kAlertSignatureFailures = "signature_failures";  // a burst of rejected deliveries
inline constexpr std::string_view kAlertPendingTooLong = "pending_too_long";  // a connection waited too long
inline constexpr std::string_view kAlertKinds[] = {kAlertSyncFailed, kAlertTriggerDead, kAlertSignatureFailures,
                                                   kAlertPendingTooLong};

// One [[alert]] sink (alerts/ delivers; docs/operations.md "Alerts").
struct AlertSink {
  // Unique; the store keeps the sink's delivery position under it. Default "<kind>-<8 hex>",
  // a hash of the URL (so reordering the file changes nothing; a new URL starts afresh).
  std::string name;
  std::string kind;  // "slack" (incoming webhook, {"text": …}) or "webhook" (generic JSON, signed)
  // Where to POST. Secret for Slack (the path holds the token): shown only as scheme://host/….
  std::string url;
  // webhook: the HMAC-SHA256 key for X-Retl-Relay-Signature: sha256=<hex>. Secret. Optional.
  std::string secret;
  // Which alert kinds it receives. Default: all of kAlertKinds.
  std::vector<std::string> on;
  // At most one message per this: alerts raised meanwhile go out together as one summary when
  // it has passed. Zero sends each alert on its own.
  Duration min_interval = std::chrono::minutes(1);
  bool Wants(std::string_view kind) const {
    for (const std::string& k : on) {
      if (k == kind) return true;
    }
    return false;
  }
};

// [alerting]: when the relay raises the alerts that are not lifecycle outcomes.
struct AlertingConfig {
  // A connection whose oldest pending trigger has waited this long raises pending_too_long
  // (once per trigger that crosses it).
  Duration pending_too_long = std::chrono::hours(1);
  // This many deliveries rejected for their signature within signature_window raise
  // signature_failures (at most once per window): a rotated or mistyped secret.
  int signature_failures = 5;
  Duration signature_window = std::chrono::minutes(5);
  // How often the two checks above run, and idle sinks are looked at.
  Duration check_interval = std::chrono::seconds(15);
  Duration request_timeout = std::chrono::seconds(10);  // one POST to a sink
};

struct Config {
  // Problems that do not stop the relay but an operator must hear about (a world-readable
  // file holding secrets, say). Printed by serve and check-config.
  std::vector<std::string> warnings;
  ServerConfig server;
  StoreConfig store;
  DbtConfig dbt;
  RudderstackConfig rudderstack;
  DispatchConfig dispatch;
  AdminConfig admin;
  DbtCloudConfig dbt_cloud;
  std::vector<Route> routes;
  // [[alert]]. Empty: nothing is delivered (the lifecycle still stores the alerts it raises,
  // pruned with the history; the relay's own checks do not run).
  std::vector<AlertSink> alerts;
  AlertingConfig alerting;
  std::string source;  // the file it came from, or "environment" in zero-config mode
};

}  // namespace relay::config
