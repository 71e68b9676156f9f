#pragma once
// Server: a small HTTP/1.1 server on Boost.Beast coroutines with the limits built in — body
// limit (413 before the body is read), header/body/idle timeouts, keep-alive, a connection cap.
// It does I/O and HTTP/1.1 framing only (RFC 9112: one Host, Transfer-Encoding must end in
// chunked and never comes with Content-Length, no 100 Continue for HTTP/1.0, HEAD answers
// without a body, absolute-form targets served as their path); what to answer is the
// Handler's business. Used by `serve` and by the fake RudderStack. All methods are called
// from the thread that owns the io_context setup; sessions run on the io_context's threads.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace relay::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
// Must not block: it runs on an HTTP thread. An exception escaping it (or thrown by work it
// awaits, see http/blocking.h) is logged and answered 500; the connection stays usable.
using Handler = std::function<boost::asio::awaitable<Response>(Request&&)>;

struct ServerOptions {
  uint64_t max_body_bytes = 1024 * 1024;
  Duration header_timeout = std::chrono::seconds(10);
  Duration body_timeout = std::chrono::seconds(10);
  Duration idle_timeout = std::chrono::seconds(60);
  // At this many connections, a new one is admitted by closing the keep-alive connection idle
  // the longest; when none is idle, the new one is closed at once. Both are counted.
  int max_connections = 10000;
  // Called (on an HTTP thread) when the server itself answers an error — 400 malformed, 413 too
  // large, 414 target too long, 415 encoded body, 431 headers too large — with the status and
  // the request target when known.
  std::function<void(unsigned status, std::string_view target)> on_reject;
};

// A handler that sets this header on its response has the connection closed without any answer
// being written (the fake RudderStack uses it to simulate a dropped connection).
inline constexpr char kDropConnectionHeader[] = "X-Retl-Relay-Drop-Connection";

// The request line and headers may take this much (431 beyond), the target alone this much
// (414 beyond). `lambda` applies the same limits to the requests it builds from events.
inline constexpr uint32_t kHeaderLimitBytes = 16 * 1024;
inline constexpr size_t kTargetLimitBytes = 8 * 1024;

// A JSON response: `json_body` must already be serialized JSON.
Response JsonResponse(unsigned status, std::string json_body);
// {"error": message} with the given status.
Response JsonError(unsigned status, std::string_view message);

class Server {
 public:
  Server(boost::asio::io_context& ioc, ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on "host:port" (port 0 picks a free one). Returns the bound port, or
  // InvalidArgument for a bad address, Unavailable when the bind fails.
  StatusOr<uint16_t> Listen(const std::string& host_port);
  // Starts accepting on the io_context. REQUIRES: Listen succeeded.
  void Start();
  // Stops accepting; sessions in flight finish their current request and then close (no more
  // keep-alive). Idle connections are left for the io_context's end.
  void Stop();
  // Requests read in full whose answer is not yet written. Thread-safe.
  int InFlight() const;
  // Connections open now. Thread-safe.
  int Connections() const;

  struct State;  // shared with the accept loop and sessions, which may outlive a Stop()

 private:
  std::shared_ptr<State> state_;
};

}  // namespace relay::http
