#pragma once
// RelayRuntime: the composition root of a running relay — store, RudderStack client,
// dispatcher, webhook and admin handlers, HTTP server — shared by `serve` and `sandbox`.

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <memory>

#include "admin/api_handler.h"
#include "admin/health_handler.h"
#include "common/clock.h"
#include "config/config.h"
#include "dispatch/dispatcher.h"
#include "http/server.h"
#include "http/webhook_handler.h"
#include "rudderstack/client.h"
#include "store/store.h"

namespace relay::cli {

class RelayRuntime {
 public:
  // Opens the store and binds the listener; nothing runs yet. Errors name the failing part.
  static StatusOr<std::unique_ptr<RelayRuntime>> Create(config::Config config, boost::asio::io_context& ioc);
  ~RelayRuntime();

  uint16_t port() const { return port_; }
  const config::Config& config() const { return config_; }
  store::Store& store() { return *store_; }
  http::Server& server() { return *server_; }

  // Starts the dispatcher and the listener.
  void Start();
  // Abandons RudderStack calls in progress (within about a second; recovered after a restart
  // like a dropped connection), stops the dispatcher, then drains the store. Call after the
  // io_context stopped running.
  void Shutdown();

 private:
  explicit RelayRuntime(config::Config config) : config_(std::move(config)) {}

  config::Config config_;
  SystemClock clock_;
  std::atomic<bool> abort_calls_{false};  // set at Shutdown: RudderStack calls in progress give up
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<rudderstack::Client> client_;
  std::unique_ptr<dispatch::Dispatcher> dispatcher_;
  std::unique_ptr<http::WebhookHandler> webhooks_;
  std::unique_ptr<boost::asio::thread_pool> admin_pool_;     // admin store reads and actions
  std::unique_ptr<boost::asio::thread_pool> upstream_pool_;  // admin calls to RudderStack
  std::unique_ptr<boost::asio::thread_pool> health_pool_;    // /readyz, /metrics
  std::unique_ptr<admin::Operations> ops_;
  std::unique_ptr<admin::ApiHandler> admin_;
  std::unique_ptr<admin::HealthHandler> health_;
  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
};

}  // namespace relay::cli
