#pragma once
// A fake alert sink (a Slack incoming webhook, or any JSON receiver) for tests and the sandbox:
//
//   POST {any other path}   records the body and its X-Retl-Relay-Signature header; answers 200
//                           ("ok", as Slack does), or the next queued fault's status
// Test hooks under /_fake/:
//   GET  /_fake/received    {"received":[{"path","body","signature"}…]} in arrival order
//   POST /_fake/faults      {"status":500,"times":2} the next two POSTs are answered 500
//   POST /_fake/reset       forget both
// Thread-safe.

#include <memory>

#include "http/server.h"

namespace relay::fake {

class FakeAlertSink {
 public:
  FakeAlertSink();
  ~FakeAlertSink();
  boost::asio::awaitable<http::Response> Handle(http::Request&& req);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace relay::fake
