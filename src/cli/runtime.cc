#include "cli/runtime.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "common/log.h"
#include "config/config_loader.h"
#include "admin/ui_handler.h"
#include "rudderstack/http_client.h"

namespace relay::cli {

std::string InstanceId() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  // 64 random bits: containers sharing a host name (host networking) may share a pid too.
  std::random_device rd;
  const uint64_t r = (uint64_t{rd()} << 32) ^ rd();
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(r));
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + hex;
}

namespace {

// Raises the soft file-descriptor limit to the hard one and keeps the connection cap below it
// (room for the store, the API client and log files), so the cap, not EMFILE, turns excess
// connections away.
int ConnectionCap(int configured) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return configured;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &lim);
    (void)getrlimit(RLIMIT_NOFILE, &lim);
  }
  constexpr rlim_t kReserved = 128;
  if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > static_cast<rlim_t>(configured) + kReserved) return configured;
  int cap = lim.rlim_cur > kReserved ? static_cast<int>(lim.rlim_cur - kReserved) : 1;
  log::Warn("server.max_connections lowered to fit the file-descriptor limit",
            {{"configured", std::to_string(configured)}, {"effective", std::to_string(cap)}});
  return cap;
}

// Direct RudderStack calls the admin API makes at once (syncs, sync, stop); more are 503.
constexpr int kAdminRudderstackCalls = 2;

}  // namespace

namespace {

boost::asio::awaitable<http::Response> Answer(http::Response res) { co_return res; }

}  // namespace

boost::asio::awaitable<http::Response> RelayRuntime::Route(http::Request&& r, Listener listener) {
  std::string_view target(r.target().data(), r.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  const bool split = !config_.admin.listen.empty();  // under lambda too: no admin listener then
  const bool probe = path == "/healthz" || path == "/readyz";
  // With a private admin listener, the public one serves the webhook paths and the probes only,
  // and the admin one everything but the webhooks (the usual Envoy/Prometheus split).
  if (split && listener == Listener::kPublic && !probe && !receive::WebhookHandler::IsWebhookTarget(target)) {
    return Answer(http::JsonError(404, "no such endpoint on this port (the admin API and /metrics are on admin.listen)"));
  }
  if (split && listener == Listener::kAdmin && receive::WebhookHandler::IsWebhookTarget(target)) {
    return Answer(http::JsonError(404, "dbt webhooks go to server.listen, not the admin listener"));
  }
  if (admin::HealthHandler::Owns(target)) return health_->Handle(std::move(r));
  if (admin::UiHandler::Owns(target)) return Answer(admin::UiHandler::Answer(r));
  if (admin::ApiHandler::Owns(target)) {
    // A manual trigger or retry should not wait for the next poll.
    if (r.method() == boost::beast::http::verb::post) dispatcher_->Notify();
    return admin_->Handle(std::move(r));
  }
  return webhooks_->Handle(std::move(r));
}

StatusOr<std::unique_ptr<RelayRuntime>> RelayRuntime::Create(config::Config config, boost::asio::io_context& ioc,
                                                            RuntimeOptions options) {
  std::unique_ptr<RelayRuntime> rt(new RelayRuntime(std::move(config)));
  const config::Config& cfg = rt->config_;
  RelayRuntime* self = rt.get();
  // Bind first: an address that is taken fails before the store is created or migrated. The
  // servers only answer once Start() runs, when every handler exists.
  if (options.listen) {
    http::ServerOptions server_options{cfg.server.max_body_bytes, cfg.server.header_timeout, cfg.server.body_timeout,
                                       cfg.server.idle_timeout, ConnectionCap(cfg.server.max_connections), nullptr};
    server_options.on_reject = [](unsigned status, std::string_view target) {
      if (!receive::WebhookHandler::IsWebhookTarget(target)) return;
      receive::WebhookHandler::CountWebhook(status == 413 ? "too_large" : "bad_request");
    };
    rt->server_ = std::make_unique<http::Server>(
        ioc, server_options, [self](http::Request&& r) { return self->Route(std::move(r), Listener::kPublic); });
    auto port = rt->server_->Listen(cfg.server.listen);
    if (!port.ok()) return Status(port.status().code(), "server.listen: " + port.status().message());
    rt->port_ = *port;
    if (!cfg.admin.listen.empty()) {
      http::ServerOptions admin_options = server_options;
      admin_options.max_connections = 256;  // operators and Prometheus, not the internet
      admin_options.on_reject = nullptr;
      rt->admin_server_ = std::make_unique<http::Server>(
          ioc, admin_options, [self](http::Request&& r) { return self->Route(std::move(r), Listener::kAdmin); });
      auto admin_port = rt->admin_server_->Listen(cfg.admin.listen);
      if (!admin_port.ok()) return Status(admin_port.status().code(), "admin.listen: " + admin_port.status().message());
      rt->admin_port_ = *admin_port;
    }
  }

  auto store = store::OpenStore(cfg.store.url);
  if (!store.ok()) return Status(store.status().code(), "store: " + store.status().message());
  rt->store_ = std::move(store).value();
  rt->client_ = rudderstack::NewHttpClient({config::ApiBase(cfg.rudderstack), cfg.rudderstack.token,
                                            cfg.rudderstack.connect_timeout, cfg.rudderstack.request_timeout,
                                            &rt->abort_calls_});
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  rt->dispatcher_ = std::make_unique<dispatch::Dispatcher>(
      *rt->store_, *rt->client_, rt->clock_, cfg.dispatch, InstanceId(),
      [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); });
  dispatch::Dispatcher* d = rt->dispatcher_.get();
  if (cfg.dbt_cloud.enabled()) {
    rt->dbt_cloud_ = dbtcloud::NewHttpClient({cfg.dbt_cloud.api_base, cfg.dbt_cloud.account_id, cfg.dbt_cloud.token,
                                              std::chrono::seconds(10), cfg.dbt_cloud.request_timeout, &rt->abort_calls_});
    rt->watcher_ = std::make_unique<reconcile::Watcher>(cfg, *rt->dbt_cloud_, *rt->store_, *rt->store_, rt->clock_,
                                                        [d] { d->Notify(); });
  }
  reconcile::Watcher* w = rt->watcher_.get();
  // Stored triggers wake the dispatcher; an event stored for verification wakes the watcher.
  rt->webhooks_ = std::make_unique<receive::WebhookHandler>(cfg, *rt->store_, rt->clock_, [d, w] {
    d->Notify();
    if (w != nullptr) w->WakeVerifier();
  });
  rt->alerter_ = std::make_unique<alerts::Alerter>(cfg, *rt->store_, *rt->store_, rt->clock_, InstanceId());
  alerts::Alerter* alerter = rt->alerter_.get();
  rt->webhooks_->OnSignatureRejected([alerter] { alerter->SignatureRejected(); });
  // Three pools, so that nothing slow holds up what must stay fast: admin store reads and
  // actions; direct RudderStack calls from the admin API (bounded, may hang for the request
  // timeout); and /readyz and /metrics, which a platform's probes and Prometheus depend on.
  rt->admin_pool_ = std::make_unique<boost::asio::thread_pool>(2);
  rt->upstream_pool_ = std::make_unique<boost::asio::thread_pool>(kAdminRudderstackCalls);
  rt->health_pool_ = std::make_unique<boost::asio::thread_pool>(1);
  rt->ops_ = std::make_unique<admin::Operations>(rt->store_.get(), rt->client_.get(), cfg, rt->clock_);
  rt->admin_ = std::make_unique<admin::ApiHandler>(*rt->ops_, cfg.admin.token, *rt->admin_pool_, *rt->upstream_pool_,
                                                   kAdminRudderstackCalls);
  // Progress is expected within a request (bounded by the timeouts) plus a few polls.
  const Duration tolerance = cfg.rudderstack.connect_timeout + 2 * cfg.rudderstack.request_timeout +
                             3 * cfg.dispatch.poll_interval + std::chrono::seconds(5);
  // Without listeners (lambda) no worker runs between invocations: readiness is the store's.
  const bool workers = options.listen;
  rt->health_ = std::make_unique<admin::HealthHandler>(
      *rt->store_, [d, tolerance, workers] { return !workers || d->Alive(tolerance); }, rt->clock_, *rt->health_pool_);
  store::PrunerOptions retention;
  retention.retention = cfg.store.retention;
  retention.interval = cfg.store.retention_interval;
  retention.first_pass_after = std::min<Duration>(std::chrono::minutes(1), cfg.store.retention_interval);
  rt->pruner_ = std::make_unique<store::Pruner>(*rt->store_, rt->clock_, retention);
  return rt;
}

RelayRuntime::~RelayRuntime() { Shutdown(); }

void RelayRuntime::ReleaseStaleVerifications() {
  if (!config_.dbt_cloud.enabled() || !config_.dbt_cloud.verify_runs) {
    // Events an earlier configuration left waiting for verification must not wait for ever.
    if (Status s = reconcile::ReleasePendingVerifications(config_, *store_, clock_); !s.ok()) {
      log::Warn("could not route events left pending verification; retried at the next start",
                {{"error", s.ToString()}});
    }
  }
}

void RelayRuntime::Start() {
  ReleaseStaleVerifications();
  dispatcher_->Start();
  pruner_->Start();
  if (watcher_) watcher_->Start();
  alerter_->Start();
  if (server_) server_->Start();
  if (admin_server_) admin_server_->Start();
}

void RelayRuntime::Shutdown() {
  abort_calls_ = true;
  if (dispatcher_) dispatcher_->Stop();
  if (pruner_) pruner_->Stop();
  if (watcher_) watcher_->Stop();
  if (alerter_) alerter_->Stop();
  for (auto* pool : {admin_pool_.get(), upstream_pool_.get(), health_pool_.get()}) {
    if (pool) pool->join();
  }
  // Drain the store while the io_context still exists: late commits post their answers to it.
  store_.reset();
}

}  // namespace relay::cli
