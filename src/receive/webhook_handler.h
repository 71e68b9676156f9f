#pragma once
// The relay's webhook handler: dbt webhooks in, JSON 404/405 for other paths.
// The decision logic (Prepare, Finish) is plain functions of their inputs so it is tested
// without sockets; Handle glues them to the store's asynchronous append.
//
//   POST /webhooks/dbt, POST /webhook   → verify signature → parse → route → durable append
//       200 {"status":"accepted","event_id":…,"triggers":[…]}   stored (and committed)
//       200 {"status":"accepted",…,"verification":"pending"}   dbt_cloud.verify_runs: stored;
//                                                               routed once dbt Cloud confirms
//                                                               the run (reconcile/verifier.h)
//       200 {"status":"duplicate","event_id":…}                 eventId seen before, or (with
//                                                               "reason") another event — say the
//                                                               reconciler's — recorded the run's
//                                                               outcome
//       400 {"error":"data.runId: missing"}                     unparsable or unroutable body
//       401 {"error":"…"}                                       bad or missing signature
//       503 {"error":"…"}                                       could not commit; dbt retries

#include <functional>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "dbt/signature.h"
#include "dbt/webhook.h"
#include "http/server.h"
#include "store/store.h"

namespace relay::receive {

using http::Request;
using http::Response;

class WebhookHandler {
 public:
  // `on_triggers` runs (on the HTTP executor, once the append is durable) after an append
  // created triggers, or stored an event for verification; it wakes the dispatcher (and the
  // verifier). All references must outlive the handler.
  WebhookHandler(const config::Config& config, store::IngestStore& store, Clock& clock, std::function<void()> on_triggers);
  // Runs (on the HTTP thread: keep it to a counter) for each delivery rejected for its
  // signature. Set before serving.
  void OnSignatureRejected(std::function<void()> f) { on_rejected_ = std::move(f); }

  boost::asio::awaitable<Response> Handle(Request&& req);

  // What to do with a request: answer at once, or append `event` with `triggers` first.
  struct Prepared {
    std::optional<Response> answer;
    store::NewEvent event;
    std::vector<store::NewTrigger> triggers;
  };
  Prepared Prepare(const Request& req) const;
  // The answer once the append finished.
  static Response Finish(const store::NewEvent& event, const std::vector<store::NewTrigger>& triggers,
                         const StatusOr<store::AppendResult>& result);
  // True for the webhook paths (/webhooks/dbt, /webhook).
  static bool IsWebhookTarget(std::string_view target);
  // Counts a webhook by result in retl_relay_webhooks_total.
  static void CountWebhook(std::string_view result);

 private:
  const config::Config& config_;
  store::IngestStore& store_;
  Clock& clock_;
  std::function<void()> on_triggers_;
  std::function<void()> on_rejected_;
  dbt::SignatureVerifier verifier_;
};

}  // namespace relay::receive
