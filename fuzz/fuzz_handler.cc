// libFuzzer target: request → response. Raw bytes are parsed as an HTTP request by Beast under
// the server's limits, then decided by the webhook handler (verify, parse, route) and answered
// as if the store accepted it. The first byte picks the mode: odd = the body is re-signed with
// the configured secret, so the fuzzer gets past the HMAC and into parsing and routing.
// Properties: never crashes; every answer is a valid status with a JSON body.

#include <boost/beast/http/parser.hpp>
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>

#include "common/clock.h"
#include "config/config_loader.h"
#include "dbt/signature.h"
#include "receive/webhook_handler.h"
#include "store/store.h"

namespace {
namespace bhttp = boost::beast::http;
constexpr char kSecret[] = "fuzz-webhook-secret";

struct Fixture {
  relay::config::Config config;
  std::unique_ptr<relay::store::Store> store;
  relay::SystemClock clock;
  std::unique_ptr<relay::receive::WebhookHandler> handler;

  Fixture() {
    auto env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    auto c = relay::config::ParseConfig(
        "[dbt]\nwebhook_secret = \"fuzz-webhook-secret\"\n[rudderstack]\ntoken = \"test-token\"\n"
        "[[route]]\nname = \"a\"\njob_ids = [123]\nconnections = [\"c1\", \"c2\"]\n"
        "[[route]]\nname = \"b\"\non = [\"success\", \"error\", \"cancelled\"]\nconnections = [\"c3\"]\n"
        "sync_type = \"full\"\nif_running = \"skip\"\n",
        env);
    if (!c.ok()) std::abort();
    config = *c;
    // Prepare never touches the store; the handler needs one to exist.
    std::string path = "/tmp/retl-relay-fuzz-handler-" + std::to_string(getpid()) + ".db";
    auto s = relay::store::OpenStore("sqlite://" + path);
    if (!s.ok()) std::abort();
    store = std::move(s).value();
    ::unlink(path.c_str());
    handler = std::make_unique<relay::receive::WebhookHandler>(config, *store, clock, [] {});
  }
};

void CheckJsonAnswer(const relay::http::Response& res) {
  if (res.result_int() < 200 || res.result_int() > 599) std::abort();
  boost::system::error_code ec;
  boost::json::parse(res.body(), ec);
  if (ec) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* f = new Fixture();
  if (size == 0) return 0;
  const bool resign = (data[0] & 1) != 0;
  std::string_view raw(reinterpret_cast<const char*>(data + 1), size - 1);

  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(raw.data(), raw.size()), ec);
  if (ec || !parser.is_done()) return 0;  // the server answers these itself (400/413/431)
  relay::http::Request req = parser.release();
  if (resign) req.set(bhttp::field::authorization, relay::dbt::SignBody(req.body(), kSecret));

  relay::receive::WebhookHandler::Prepared prepared = f->handler->Prepare(req);
  if (prepared.answer) {
    CheckJsonAnswer(*prepared.answer);
    return 0;
  }
  // Accepted for storage: answer as the store would after a successful append.
  relay::store::AppendResult result;
  for (size_t i = 0; i < prepared.triggers.size(); ++i) result.trigger_ids.push_back(static_cast<int64_t>(i + 1));
  relay::http::Response res =
      relay::receive::WebhookHandler::Finish(prepared.event, prepared.triggers, relay::StatusOr<relay::store::AppendResult>(result));
  if (res.result_int() != 200) std::abort();
  CheckJsonAnswer(res);
  return 0;
}
