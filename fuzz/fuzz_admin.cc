// libFuzzer target: an authenticated admin API request → its answer. The input is parsed as an
// HTTP request by Beast (as the server would), then routed and answered by ApiHandler::Answer
// over a real SQLite store with a few events, and no RudderStack client (direct calls answer
// 409). This covers the path and query parsing, the route table, id checks and body parsing.
// Properties: never crashes, never throws; every answer is 200-599 with a JSON body; a path
// outside the route table is 404 or 405, never 500.

#include <unistd.h>

#include <boost/beast/http/parser.hpp>
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "admin/api_handler.h"
#include "admin/operations.h"
#include "common/clock.h"
#include "config/config_loader.h"
#include "store/store.h"

namespace {
namespace bhttp = boost::beast::http;

struct Fixture {
  relay::config::Config config;
  std::unique_ptr<relay::store::Store> store;
  relay::SystemClock clock;
  std::unique_ptr<relay::admin::Operations> ops;
  boost::asio::thread_pool pool{1};
  std::unique_ptr<relay::admin::ApiHandler> api;

  Fixture() {
    auto env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    auto c = relay::config::ParseConfig(
        "[dbt]\nwebhook_secret = \"test-secret\"\n[rudderstack]\ntoken = \"test-token\"\n[admin]\ntoken = \"fuzz-admin-token\"\n"
        "[[route]]\nname = \"a\"\njob_ids = [123]\nconnections = [\"c1\"]\n",
        env);
    if (!c.ok()) {
      std::fprintf(stderr, "%s\n", c.status().message().c_str());
      std::abort();
    }
    config = *c;
    std::string path = "/tmp/retl-relay-fuzz-admin-" + std::to_string(getpid()) + ".db";
    auto s = relay::store::OpenStore("sqlite://" + path);
    if (!s.ok()) std::abort();
    store = std::move(s).value();
    ::unlink(path.c_str());
    for (int i = 0; i < 3; ++i) {
      relay::store::NewEvent ev{"wev_" + std::to_string(i), "job.run.completed", 1, 123, 1000 + i, 10,
                                R"({"eventId":"wev_)" + std::to_string(i) +
                                    R"(","eventType":"job.run.completed","data":{"jobId":"123","runId":")" +
                                    std::to_string(1000 + i) + R"(","runStatusCode":10}})",
                                clock.Now()};
      if (!store->Append(ev, {{"a", "c1", "incremental", "queue", "k" + std::to_string(i)}}).ok()) std::abort();
    }
    ops = std::make_unique<relay::admin::Operations>(store.get(), nullptr, config, clock);
    api = std::make_unique<relay::admin::ApiHandler>(*ops, "fuzz", pool, pool, 1);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* f = new Fixture();
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;  // the server answers these itself (400/413/431)
  relay::http::Request req = parser.release();
  std::string_view target(req.target().data(), req.target().size());
  if (!relay::admin::ApiHandler::Owns(target)) return 0;
  relay::http::Response res = f->api->Answer(req);
  const unsigned status = res.result_int();
  if (status < 200 || status > 599 || status == 500) std::abort();
  boost::json::parse(res.body(), ec);
  if (ec) std::abort();
  return 0;
}
