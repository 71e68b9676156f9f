#pragma once
// Runs an io_context on N threads until SIGINT or SIGTERM, then stops accepting, lets requests in
// flight finish for a short grace period, and returns.

#include <boost/asio/io_context.hpp>
#include <vector>

#include "http/server.h"

namespace relay::cli {

void RunUntilSignal(boost::asio::io_context& ioc, std::vector<http::Server*> servers, int threads);

}  // namespace relay::cli
