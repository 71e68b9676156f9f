#pragma once
// RelayRuntime: the composition root of a running relay — store, RudderStack client,
// dispatcher, webhook and admin handlers, dbt Cloud watcher (reconciliation, verify_runs),
// HTTP server — shared by `serve` and `sandbox`.

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <memory>
#include <vector>

#include "admin/api_handler.h"
#include "admin/health_handler.h"
#include "common/clock.h"
#include "config/config.h"
#include "dispatch/dispatcher.h"
#include "http/server.h"
#include "receive/webhook_handler.h"
#include "dbtcloud/client.h"
#include "alerts/alerter.h"
#include "reconcile/watcher.h"
#include "rudderstack/client.h"
#include "store/pruner.h"
#include "store/store.h"

namespace relay::cli {

// "host:pid:64 random bits in hex": names this process's lease owners in the store (unique
// per process).
std::string InstanceId();

struct RuntimeOptions {
  // False for `lambda`: no listener is bound and no background thread will run; requests come
  // through Handle, and the invocation loop drives dispatcher(), alerter() and the dbt Cloud
  // client itself. /readyz then checks the store only.
  bool listen = true;
};

class RelayRuntime {
 public:
  // Binds the listener(s) — server.listen, and admin.listen when set — then opens the store;
  // nothing runs yet. Errors name the failing part.
  static StatusOr<std::unique_ptr<RelayRuntime>> Create(config::Config config, boost::asio::io_context& ioc,
                                                        RuntimeOptions options = {});
  ~RelayRuntime();

  uint16_t port() const { return port_; }
  uint16_t admin_port() const { return admin_port_; }  // 0 without admin.listen
  const config::Config& config() const { return config_; }
  store::Store& store() { return *store_; }
  http::Server& server() { return *server_; }
  // The servers to stop at shutdown: the public one and the admin one, if any.
  std::vector<http::Server*> servers() {
    std::vector<http::Server*> out;
    if (server_) out.push_back(server_.get());
    if (admin_server_) out.push_back(admin_server_.get());
    return out;
  }

  // Starts the dispatcher and the listener.
  void Start();

  // What the public listener would answer (the webhook, probes, the admin API and the page;
  // with admin.listen set, the webhook paths and probes only): how `lambda` answers an HTTP
  // event. Runs on `ioc`'s executor.
  boost::asio::awaitable<http::Response> Handle(http::Request&& r) { return Route(std::move(r), Listener::kPublic); }
  // For `lambda`, which runs the lifecycle itself between invocations.
  dispatch::Dispatcher& dispatcher() { return *dispatcher_; }
  alerts::Alerter& alerter() { return *alerter_; }
  store::Pruner& pruner() { return *pruner_; }
  dbtcloud::Client* dbt_cloud() { return dbt_cloud_.get(); }  // null without [dbt_cloud]
  Clock& clock() { return clock_; }
  // Set: RudderStack and dbt Cloud calls in progress give up within about a second.
  std::atomic<bool>& abort_calls() { return abort_calls_; }
  // Routes events an earlier configuration left pending verification (Start does this).
  void ReleaseStaleVerifications();
  // Abandons RudderStack calls in progress (within about a second; recovered after a restart
  // like a dropped connection), stops the dispatcher, then drains the store. Call after the
  // io_context stopped running.
  void Shutdown();

 private:
  enum class Listener { kPublic, kAdmin };
  explicit RelayRuntime(config::Config config) : config_(std::move(config)) {}
  // Which handler answers a request, given the listener it came in on.
  boost::asio::awaitable<http::Response> Route(http::Request&& r, Listener listener);

  config::Config config_;
  SystemClock clock_;
  std::atomic<bool> abort_calls_{false};  // set at Shutdown: RudderStack calls in progress give up
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<rudderstack::Client> client_;
  std::unique_ptr<dispatch::Dispatcher> dispatcher_;
  std::unique_ptr<receive::WebhookHandler> webhooks_;
  std::unique_ptr<boost::asio::thread_pool> admin_pool_;     // admin store reads and actions
  std::unique_ptr<boost::asio::thread_pool> upstream_pool_;  // admin calls to RudderStack
  std::unique_ptr<boost::asio::thread_pool> health_pool_;    // /readyz, /metrics
  std::unique_ptr<admin::Operations> ops_;
  std::unique_ptr<admin::ApiHandler> admin_;
  std::unique_ptr<admin::HealthHandler> health_;
  std::unique_ptr<store::Pruner> pruner_;  // store.retention
  std::unique_ptr<dbtcloud::Client> dbt_cloud_;          // with [dbt_cloud] only
  std::unique_ptr<reconcile::Watcher> watcher_;         // reconciliation and verify_runs
  std::unique_ptr<alerts::Alerter> alerter_;            // [[alert]] sinks
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Server> admin_server_;  // with admin.listen only
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
};

}  // namespace relay::cli
