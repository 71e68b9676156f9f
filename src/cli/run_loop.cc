#include "cli/run_loop.h"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <thread>
#include <vector>

#include "common/log.h"

namespace relay::cli {
namespace net = boost::asio;

void RunUntilSignal(net::io_context& ioc, std::vector<http::Server*> servers, int threads) {
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  net::steady_timer grace(ioc);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log::Info("shutting down", {{"signal", std::to_string(sig)}});
    for (http::Server* s : servers) s->Stop();
    // Requests in flight get a moment to finish; idle keep-alive connections do not hold us up.
    grace.expires_after(std::chrono::milliseconds(500));
    grace.async_wait([&](const boost::system::error_code&) { ioc.stop(); });
  });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (std::thread& t : pool) t.join();
}

}  // namespace relay::cli
