#include "cli/run_loop.h"

#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <functional>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/thread_name.h"

namespace relay::cli {
namespace net = boost::asio;

SignalLoop::SignalLoop(net::io_context& ioc) : ioc_(ioc), signals_(ioc, SIGINT, SIGTERM) {}

void SignalLoop::Run(std::vector<http::Server*> servers, int threads, Duration shutdown_timeout) {
  net::io_context& ioc = ioc_;
  net::steady_timer drain(ioc);
  constexpr auto kTick = std::chrono::milliseconds(10);
  int64_t ticks_left = 0;
  // Checks every 10 ms whether the answers in flight are written; idle keep-alive connections
  // do not hold the exit up (they are closed with the io_context).
  std::function<void()> check = [&] {
    int in_flight = 0;
    for (http::Server* s : servers) in_flight += s->InFlight();
    if (in_flight == 0 || ticks_left-- <= 0) {
      if (in_flight > 0) log::Warn("shutdown timeout: abandoning requests in flight", {{"requests", std::to_string(in_flight)}});
      ioc.stop();
      return;
    }
    drain.expires_after(kTick);
    drain.async_wait([&](const boost::system::error_code&) { check(); });
  };
  signals_.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log::Info("shutting down", {{"signal", std::to_string(sig)}});
    for (http::Server* s : servers) s->Stop();
    ticks_left = shutdown_timeout / kTick;
    check();
  });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    pool.emplace_back([&] {
      NameThisThread("retl-http");
      ioc.run();
    });
  }
  ioc.run();
  for (std::thread& t : pool) t.join();
}

}  // namespace relay::cli
