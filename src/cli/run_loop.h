#pragma once
// Runs an io_context on N threads until SIGINT or SIGTERM, then stops accepting, waits until
// every request in flight has been answered (at most `shutdown_timeout`), and returns.

#include <boost/asio/io_context.hpp>
#include <vector>

#include "common/clock.h"
#include "http/server.h"

namespace relay::cli {

void RunUntilSignal(boost::asio::io_context& ioc, std::vector<http::Server*> servers, int threads,
                    Duration shutdown_timeout = std::chrono::seconds(10));

}  // namespace relay::cli
