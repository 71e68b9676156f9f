#pragma once
// A fake AWS Lambda Runtime API (../shared/spec/aws-lambda-runtime.md §1) on 127.0.0.1, for
// driving `retl-relay lambda` in tests: Invoke queues an event, the first runtime asking
// /invocation/next gets it (with a request id and a deadline), and its answer — response or
// error — is kept for Await. Several runtimes may poll at once: each invocation goes to one.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "http/server.h"
#include "http/target.h"

namespace relay::testing {

class FakeLambdaRuntime {
 public:
  struct Answer {
    std::string kind;  // "response" or "error"
    std::string body;
    std::string error_type;  // Lambda-Runtime-Function-Error-Type of an error
  };

  FakeLambdaRuntime() : server_(ioc_, {}, [this](http::Request&& r) { return Handle(std::move(r)); }) {
    port_ = *server_.Listen("127.0.0.1:0");
    server_.Start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~FakeLambdaRuntime() {
    ioc_.stop();
    thread_.join();
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  // Queues an invocation whose deadline is `budget` from now; returns its request id.
  std::string Invoke(std::string payload, std::chrono::milliseconds budget = std::chrono::seconds(30)) {
    std::lock_guard lock(mu_);
    const std::string id = "req-" + std::to_string(++next_id_);
    const int64_t deadline = ToUnixMillis(clock_.Now() + budget);
    queue_.push_back({id, std::move(payload), deadline});
    return id;
  }
  // The answer to `id`, waiting up to `timeout`.
  std::optional<Answer> Await(const std::string& id, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto until = clock_.SteadyNow() + timeout;
    while (clock_.SteadyNow() < until) {
      {
        std::lock_guard lock(mu_);
        if (auto it = answers_.find(id); it != answers_.end()) return it->second;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }
  std::optional<Answer> InitError() {
    std::lock_guard lock(mu_);
    return init_error_;
  }
  // Invocations handed out so far.
  int Taken() {
    std::lock_guard lock(mu_);
    return taken_;
  }
  // Requests for the next invocation received so far, and those waiting now: a runtime asks
  // again only once it has finished everything for the previous invocation.
  int Asks() {
    std::lock_guard lock(mu_);
    return asks_;
  }
  int Waiting() {
    std::lock_guard lock(mu_);
    return waiting_;
  }

 private:
  struct Invocation {
    std::string id, payload;
    int64_t deadline_ms;
  };

  boost::asio::awaitable<http::Response> Handle(http::Request req) {
    const std::vector<std::string> seg = http::PathSegments(std::string_view(req.target().data(), req.target().size()));
    // /2018-06-01/runtime/invocation/next | /invocation/{id}/response|error | /init/error
    if (seg.size() == 4 && seg[2] == "invocation" && seg[3] == "next") {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
      {
        std::lock_guard lock(mu_);
        ++asks_;
        ++waiting_;
      }
      for (;;) {
        std::optional<Invocation> inv;
        {
          std::lock_guard lock(mu_);
          if (!queue_.empty()) {
            inv = std::move(queue_.front());
            queue_.pop_front();
            ++taken_;
            --waiting_;
          }
        }
        if (inv) {
          http::Response res = http::JsonResponse(200, inv->payload);
          res.set("Lambda-Runtime-Aws-Request-Id", inv->id);
          res.set("Lambda-Runtime-Deadline-Ms", std::to_string(inv->deadline_ms));
          res.set("Lambda-Runtime-Trace-Id", "Root=1-fake");
          co_return res;
        }
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(boost::asio::use_awaitable);
      }
    }
    std::lock_guard lock(mu_);
    const std::string type(req["Lambda-Runtime-Function-Error-Type"]);
    if (seg.size() == 5 && seg[2] == "invocation" && (seg[4] == "response" || seg[4] == "error")) {
      answers_[seg[3]] = Answer{seg[4], req.body(), type};
      co_return http::JsonResponse(202, R"({"status":"OK"})");
    }
    if (seg.size() == 4 && seg[2] == "init" && seg[3] == "error") {
      init_error_ = Answer{"error", req.body(), type};
      co_return http::JsonResponse(202, R"({"status":"OK"})");
    }
    co_return http::JsonError(404, "unknown runtime API path");
  }

  SystemClock clock_;
  boost::asio::io_context ioc_;
  http::Server server_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::deque<Invocation> queue_;
  std::map<std::string, Answer> answers_;
  std::optional<Answer> init_error_;
  int next_id_ = 0;
  int taken_ = 0;
  int asks_ = 0;
  int waiting_ = 0;
};

}  // namespace relay::testing
