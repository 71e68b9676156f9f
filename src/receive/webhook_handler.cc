#include "receive/webhook_handler.h"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log.h"
#include "common/metrics.h"
#include "routing/router.h"

namespace relay::receive {

using http::JsonError;
using http::JsonResponse;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
namespace {

// Completes with (status, result) on the awaiting coroutine's executor once the store has
// committed: the HTTP thread never blocks on the database.
template <typename Token>
auto AsyncAppend(store::IngestStore& s, store::NewEvent ev, std::vector<store::NewTrigger> triggers, Token&& token) {
  return net::async_initiate<Token, void(Status, store::AppendResult)>(
      [&s](auto handler, store::NewEvent e, std::vector<store::NewTrigger> t) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto ex = net::get_associated_executor(*h);
        s.AppendAsync(std::move(e), std::move(t), [h, ex](StatusOr<store::AppendResult> r) {
          net::post(ex, [h, r = std::move(r)]() mutable {
            if (r.ok()) (*h)(Status::Ok(), std::move(r).value());
            else (*h)(r.status(), store::AppendResult{});
          });
        });
      },
      token, std::move(ev), std::move(triggers));
}

std::string_view ResultOf(unsigned status, std::string_view body) {
  switch (status) {
    case 200: return body.find("\"duplicate\"") != std::string_view::npos ? "duplicate" : "accepted";
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 405: return "method_not_allowed";
    case 413: return "too_large";
    case 503: return "store_error";
    default: return "other";
  }
}

}  // namespace

bool WebhookHandler::IsWebhookTarget(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  return path == "/webhooks/dbt" || path == "/webhook";
}

void WebhookHandler::CountWebhook(std::string_view result) {
  metrics::Default()
      .GetCounter("retl_relay_webhooks_total", "dbt webhooks received, by result", {{"result", std::string(result)}})
      .Inc();
}

WebhookHandler::WebhookHandler(const config::Config& config, store::IngestStore& store, Clock& clock,
                               std::function<void()> on_triggers)
    : config_(config),
      store_(store),
      clock_(clock),
      on_triggers_(std::move(on_triggers)),
      verifier_(config.dbt.webhook_secrets) {}

WebhookHandler::Prepared WebhookHandler::Prepare(const Request& req) const {
  Prepared p;
  std::string_view target(req.target().data(), req.target().size());
  if (!IsWebhookTarget(target)) {
    p.answer = JsonError(404, "no such endpoint; dbt webhooks go to POST /webhooks/dbt");
    return p;
  }
  if (req.method() != bhttp::verb::post) {
    p.answer = JsonError(405, "method not allowed; use POST");
    p.answer->set(bhttp::field::allow, "POST");
    return p;
  }

  // The signature covers the raw bytes; nothing is parsed before it verifies.
  const std::string& body = req.body();
  if (!config_.dbt.webhook_secrets.empty() || !config_.dbt.allow_unsigned) {
    auto auth = req[bhttp::field::authorization];
    Status s = verifier_.Verify(body, std::string_view(auth.data(), auth.size()));
    if (!s.ok()) {
      log::Warn("webhook rejected: bad signature", {{"reason", s.message()}});
      if (on_rejected_) on_rejected_();
      p.answer = JsonError(401, "invalid or missing signature: " + s.message());
      return p;
    }
  }
  StatusOr<dbt::RunEvent> ev = dbt::ParseRunWebhook(body);
  if (!ev.ok()) {
    log::Warn("webhook rejected: bad payload", {{"error", ev.status().message()}});
    p.answer = JsonError(400, ev.status().message());
    return p;
  }

  p.event.event_id = ev->event_id;
  p.event.event_type = ev->event_type;
  if (ev->account_id) p.event.account_id = ev->account_id->value;
  p.event.job_id = ev->job_id.value;
  p.event.run_id = ev->run_id.value;
  p.event.run_status_code = ev->run_status_code;
  p.event.raw_body = body;
  p.event.received_at = clock_.Now();
  p.event.records_outcome = dbt::RecordsOutcome(*ev);
  const config::DbtCloudConfig& cloud = config_.dbt_cloud;
  if (p.event.records_outcome && cloud.enabled() && cloud.verify_runs &&
      (!ev->account_id || ev->account_id->text == cloud.account_id)) {
    // Routed once dbt Cloud has confirmed the run (reconcile/verifier.h), not on the payload.
    // Another account's runs cannot be retrieved with this token: they route at once.
    p.event.verify = true;
    return p;
  }
  p.triggers = routing::TriggersFor(config_.routes, *ev);
  p.event.fan_in = routing::FanInFor(config_.routes, *ev);
  return p;
}

Response WebhookHandler::Finish(const store::NewEvent& event, const std::vector<store::NewTrigger>& triggers,
                                const StatusOr<store::AppendResult>& result) {
  std::string id_json;
  log::AppendJsonEscaped(id_json, event.event_id);
  if (!result.ok()) {
    log::Error("webhook not stored", {{"event_id", event.event_id}, {"error", result.status().ToString()}});
    Response res = JsonError(503, "event could not be stored durably; retry");
    res.set(bhttp::field::retry_after, "5");
    return res;
  }
  if (result->duplicate && result->duplicate_run) {
    // Another event (another eventId, or the reconciler) recorded this run's outcome first.
    log::Info("webhook duplicate: run outcome already recorded",
              {{"event_id", event.event_id}, {"run_id", std::to_string(event.run_id)},
               {"run_status_code", std::to_string(event.run_status_code)}});
    return JsonResponse(200, "{\"status\":\"duplicate\",\"event_id\":\"" + id_json +
                                 "\",\"reason\":\"run outcome already recorded\"}");
  }
  if (result->duplicate) {
    log::Info("webhook duplicate", {{"event_id", event.event_id}});
    return JsonResponse(200, "{\"status\":\"duplicate\",\"event_id\":\"" + id_json + "\"}");
  }
  if (event.verify) {
    log::Info("webhook accepted; verifying the run with dbt Cloud",
              {{"event_id", event.event_id}, {"run_id", std::to_string(event.run_id)}});
    return JsonResponse(200, "{\"status\":\"accepted\",\"event_id\":\"" + id_json +
                                 "\",\"triggers\":[],\"verification\":\"pending\"}");
  }
  std::string body = "{\"status\":\"accepted\",\"event_id\":\"" + id_json + "\",\"triggers\":[";
  int deduplicated = 0;
  bool first = true;
  auto add = [&](const std::vector<int64_t>& ids, const std::vector<store::NewTrigger>& made) {
    for (size_t i = 0; i < ids.size() && i < made.size(); ++i) {
      if (ids[i] == 0) {
        ++deduplicated;
        continue;
      }
      body += first ? "{" : ",{";
      first = false;
      body += "\"id\":" + std::to_string(ids[i]) + ",\"route\":\"";
      log::AppendJsonEscaped(body, made[i].route);
      body += "\",\"connection_id\":\"";
      log::AppendJsonEscaped(body, made[i].connection_id);
      body += "\",\"sync_type\":\"" + made[i].sync_type + "\"}";
    }
  };
  add(result->trigger_ids, triggers);
  for (size_t i = 0; i < result->fan_in.size() && i < event.fan_in.size(); ++i) {
    add(result->fan_in[i].trigger_ids, event.fan_in[i].fire);
  }
  body += "],\"deduplicated_triggers\":" + std::to_string(deduplicated);
  if (!result->fan_in.empty()) {
    // Each fan-in route the run counted toward: fired, or what it still waits for.
    body += ",\"fan_in\":[";
    for (size_t i = 0; i < result->fan_in.size(); ++i) {
      const store::FanInResult& f = result->fan_in[i];
      body += i ? ",{\"route\":\"" : "{\"route\":\"";
      log::AppendJsonEscaped(body, f.route);
      body += "\",\"fired\":" + std::string(f.fired ? "true" : "false");
      if (!f.fired) {
        body += ",\"waiting_for_jobs\":[";
        for (size_t j = 0; j < f.waiting_for.size(); ++j) body += (j ? ",\"" : "\"") + std::to_string(f.waiting_for[j]) + "\"";
        body += "]";
      } else {
        body += ",\"runs\":[";
        for (size_t j = 0; j < f.runs.size(); ++j) body += (j ? ",\"" : "\"") + std::to_string(f.runs[j].run_id) + "\"";
        body += "]";
      }
      body += "}";
    }
    body += "]";
  }
  body += "}";
  log::Info("webhook accepted", {{"event_id", event.event_id}, {"job_id", std::to_string(event.job_id)},
                                 {"run_id", std::to_string(event.run_id)},
                                 {"run_status_code", std::to_string(event.run_status_code)},
                                 {"triggers", std::to_string(result->created())}});
  return JsonResponse(200, std::move(body));
}

net::awaitable<Response> WebhookHandler::Handle(Request&& req) {
  const auto started = clock_.SteadyNow();
  const bool webhook = IsWebhookTarget(std::string_view(req.target().data(), req.target().size()));
  Prepared p = Prepare(req);
  if (p.answer) {
    if (webhook) CountWebhook(ResultOf(p.answer->result_int(), p.answer->body()));
    co_return std::move(*p.answer);
  }
  // The raw body moves into the store; the answer needs only the ids.
  store::NewEvent summary = p.event;  // fan_in kept: the answer names the fired triggers
  summary.raw_body.clear();
  std::vector<store::NewTrigger> triggers = p.triggers;
  // Built in its own statement: GCC 12 mishandles non-trivial temporaries (here the by-value
  // arguments) of a full-expression that contains co_await.
  auto append = AsyncAppend(store_, std::move(p.event), std::move(p.triggers), net::use_awaitable);
  auto [status, result] = co_await std::move(append);
  StatusOr<store::AppendResult> r = status.ok() ? StatusOr<store::AppendResult>(std::move(result)) : status;
  if (r.ok() && !r->duplicate && (r->created() > 0 || summary.verify) && on_triggers_) on_triggers_();
  Response res = Finish(summary, triggers, r);
  CountWebhook(ResultOf(res.result_int(), res.body()));
  const std::chrono::duration<double> took = clock_.SteadyNow() - started;
  metrics::Default()
      .GetHistogram("retl_relay_webhook_ack_seconds", "time from a webhook fully read to its answer (durable commit)",
                    metrics::LatencyBuckets())
      .Observe(took.count());
  co_return res;
}

}  // namespace relay::receive
