// The upstream clients (RudderStack, dbt Cloud) against a loopback server that answers what
// each test says: hostile answers found by the round-3 probe (issue 33) must not be believed.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/field.hpp>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "dbtcloud/client.h"
#include "http/server.h"
#include "httpc/http_call.h"
#include "rudderstack/http_client.h"

namespace relay {
namespace {

namespace bhttp = boost::beast::http;

// Answers every request with the canned status, Retry-After and body.
class CannedServer {
 public:
  CannedServer() : server_(ioc_, {}, [this](http::Request&&) -> boost::asio::awaitable<http::Response> {
                     MutexLock lock(mu_);
                     http::Response res = http::JsonResponse(status_, body_);
                     if (!retry_after_.empty()) res.set(bhttp::field::retry_after, retry_after_);
                     co_return res;
                   }) {
    port_ = server_.Listen("127.0.0.1:0").value();
    server_.Start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~CannedServer() {
    server_.Stop();
    ioc_.stop();
    thread_.join();
  }
  void Answer(unsigned status, std::string body, std::string retry_after = "") {
    MutexLock lock(mu_);
    status_ = status;
    body_ = std::move(body);
    retry_after_ = std::move(retry_after);
  }
  std::string Base() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  boost::asio::io_context ioc_;
  Mutex mu_;
  unsigned status_ GUARDED_BY(mu_) = 200;
  std::string body_ GUARDED_BY(mu_) = "{}";
  std::string retry_after_ GUARDED_BY(mu_);
  http::Server server_;
  uint16_t port_ = 0;
  std::thread thread_;
};

std::unique_ptr<rudderstack::Client> Rudderstack(const CannedServer& s) {
  return rudderstack::NewHttpClient({s.Base(), "rs-token-value", std::chrono::seconds(2), std::chrono::seconds(5)});
}

std::unique_ptr<dbtcloud::Client> DbtCloud(const CannedServer& s) {
  dbtcloud::HttpClientOptions o;
  o.api_base = s.Base();
  o.account_id = "1";
  o.token = "dbt-token-value";
  o.request_timeout = std::chrono::seconds(5);
  return dbtcloud::NewHttpClient(o);
}

TEST(UpstreamTest, AHugeRetryAfterIsCappedForEveryCaller) {
  CannedServer server;
  auto rs = Rudderstack(server);
  for (const char* value : {"99999999", "99999999999999999999999"}) {
    server.Answer(429, R"({"error":"slow down"})", value);
    StatusOr<std::string> started = rs->StartSync("conn_a", "incremental", nullptr);
    ASSERT_EQ(started.status().code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(started.status().retry_after(), Status::kMaxRetryAfter) << value;
  }
  server.Answer(503, "{}", "30");
  EXPECT_EQ(DbtCloud(server)->GetRun(5).status().retry_after(), std::chrono::seconds(30)) << "a sane hint is kept";
}

TEST(UpstreamTest, ASyncAnswerAboutAnotherSyncIsNotBelieved) {
  CannedServer server;
  auto rs = Rudderstack(server);
  server.Answer(200, R"({"id":"sync_other","status":"succeeded","metrics":{"succeeded":{"total":3}}})");
  StatusOr<rudderstack::SyncInfo> info = rs->GetSync("conn_a", "sync_mine", nullptr);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kUnavailable) << "asked again later, never adopted";
  server.Answer(200, R"({"id":"sync_mine","status":"running"})");
  info = rs->GetSync("conn_a", "sync_mine", nullptr);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->status, "running");
}

TEST(UpstreamTest, ARunAnswerAboutAnotherRunIsNotBelieved) {
  CannedServer server;
  auto dbt = DbtCloud(server);
  server.Answer(200, R"({"data":{"id":8,"job_definition_id":123,"status":10,"is_complete":true}})");
  StatusOr<dbtcloud::Run> run = dbt->GetRun(7);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(dbt->GetRun(8).ok());
  server.Answer(200, R"({"data":{"id":7,"job_definition_id":123,"status":4294967306,"is_complete":true}})");
  EXPECT_FALSE(dbt->GetRun(7).ok()) << "a status past int is no status";
}

TEST(UpstreamTest, ARunsPageHoldsAtMostWhatWasAskedFor) {
  CannedServer server;
  std::string body = R"({"data":[)";
  for (int i = 0; i < 1000; ++i) {
    body += (i ? "," : "") + std::string(R"({"id":)") + std::to_string(i + 1) +
            R"(,"job_definition_id":1,"status":10,"finished_at":"2026-12-01 10:00:00+00:00"})";
  }
  body += R"(,{"id":2000,"job_definition_id":1,"status":4294967306}]})";
  server.Answer(200, body);
  dbtcloud::RunsQuery q;
  q.limit = 100;
  StatusOr<std::vector<dbtcloud::Run>> runs = DbtCloud(server)->ListRuns(q);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(runs->size(), 100u);
}

}  // namespace
}  // namespace relay
