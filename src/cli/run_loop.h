#pragma once
// Runs an io_context on N threads until SIGINT or SIGTERM, then stops accepting, waits until
// every request in flight has been answered (at most `shutdown_timeout`), and returns.
//
// The signals are caught from construction on, so a SIGTERM that arrives while the relay is
// still starting (after the port file is written, before Run) is kept and acted on by Run()
// instead of killing the process with the default action.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <vector>

#include "common/clock.h"
#include "http/server.h"

namespace relay::cli {

class SignalLoop {
 public:
  explicit SignalLoop(boost::asio::io_context& ioc);
  SignalLoop(const SignalLoop&) = delete;
  SignalLoop& operator=(const SignalLoop&) = delete;

  void Run(std::vector<http::Server*> servers, int threads, Duration shutdown_timeout = std::chrono::seconds(10));

 private:
  boost::asio::io_context& ioc_;
  boost::asio::signal_set signals_;
};

}  // namespace relay::cli
