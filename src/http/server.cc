#include "http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <atomic>
#include <list>
#include <optional>

#include "common/log.h"
#include "common/metrics.h"
#include "common/mutex.h"

namespace relay::http {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kReadChunkBytes = 4 * 1024;  // a dbt webhook is 1-3 KB; idle connections stay cheap

auto Tuple() { return net::as_tuple(net::use_awaitable); }

// Writes `res` and reports whether the connection may be reused. The answer to a HEAD request
// has the headers a GET would have, Content-Length included, and no body (RFC 9110 §9.3.2).
net::awaitable<bool> Send(beast::tcp_stream& stream, Response&& res, unsigned version, bool keep_alive,
                          Duration timeout, bool head = false) {
  res.version(version);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  if (head) {
    const size_t length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  stream.expires_after(timeout);
  auto [ec, n] = co_await bhttp::async_write(stream, res, Tuple());
  co_return !ec && keep_alive;
}

// `target`: what the parser got of the request line (Beast parses that line on its own);
// `unparsed`: the bytes still buffered, the whole header when the line was never parsed.
Response HeaderError(const beast::error_code& ec, std::string_view target, std::string_view unparsed) {
  if (ec == bhttp::error::body_limit) return JsonError(413, "request body exceeds the limit");
  if (ec == bhttp::error::header_limit) {
    if (target.empty()) {
      const size_t eol = unparsed.find("\r\n");
      if (eol == std::string_view::npos || eol > kTargetLimitBytes) return JsonError(414, "request target too long");
    } else if (target.size() > kTargetLimitBytes) {
      return JsonError(414, "request target too long");
    }
    return JsonError(431, "request headers too large");
  }
  return JsonError(400, "malformed HTTP request");
}

// What the server refuses from a header that parsed: nullopt when the request may proceed.
// The connection is closed after any of these answers: its framing cannot be trusted.
std::optional<Response> RefuseHeader(const bhttp::request_parser<bhttp::string_body>& parser) {
  const auto& h = parser.get();
  if (h.target().size() > kTargetLimitBytes) return JsonError(414, "request target too long");
  // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host; never more than one.
  const size_t hosts = h.count(bhttp::field::host);
  if (hosts > 1 || (hosts == 0 && h.version() >= 11)) {
    return JsonError(400, hosts == 0 ? "missing Host header" : "more than one Host header");
  }
  // RFC 9112 §6.3: a request whose Transfer-Encoding does not end in chunked has no knowable
  // length; read as empty, its "body" would run as the next request (smuggling). HTTP/1.0 has
  // no transfer codings. Any coding but chunked is one the server does not implement (§6.1:
  // 501): Beast would strip the chunking and hand on coded bytes. (Beast itself refuses
  // Transfer-Encoding together with Content-Length.)
  if (const size_t codings = h.count(bhttp::field::transfer_encoding); codings != 0) {
    if (!parser.chunked() || h.version() < 11) return JsonError(400, "Transfer-Encoding must end in chunked");
    std::string_view te(h[bhttp::field::transfer_encoding].data(), h[bhttp::field::transfer_encoding].size());
    while (!te.empty() && (te.back() == ' ' || te.back() == '\t')) te.remove_suffix(1);
    while (!te.empty() && (te.front() == ' ' || te.front() == '\t')) te.remove_prefix(1);
    if (codings > 1 || !beast::iequals(te, "chunked")) {
      return JsonError(501, "only the chunked transfer coding is implemented");
    }
  }
  // Nothing here decodes compressed bodies: say so instead of failing to parse them.
  for (const auto& f : h) {
    if (f.name() != bhttp::field::content_encoding) continue;
    std::string_view v(f.value().data(), f.value().size());
    if (!v.empty() && !beast::iequals(v, "identity")) return JsonError(415, "Content-Encoding is not supported");
  }
  return std::nullopt;
}

// An absolute-form target ("http://host/path?q", RFC 9112 §3.2.2) as its origin form
// ("/path?q"; an empty path is "/"); nullopt for any other form.
std::optional<std::string> OriginForm(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() < scheme.size() || !beast::iequals(target.substr(0, scheme.size()), scheme)) continue;
    const size_t path = target.find_first_of("/?", scheme.size());
    if (path == std::string_view::npos) return "/";
    std::string rest(target.substr(path));
    return rest.front() == '?' ? "/" + rest : rest;
  }
  return std::nullopt;
}

bool IsQuietClose(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::operation_aborted;
}

}  // namespace

Response JsonResponse(unsigned status, std::string json_body) {
  Response res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::content_type, "application/json");
  res.set(bhttp::field::server, "retl-relay");
  res.body() = std::move(json_body);
  return res;
}

Response JsonError(unsigned status, std::string_view message) {
  std::string body = "{\"error\":\"";
  log::AppendJsonEscaped(body, message);
  body += "\"}";
  return JsonResponse(status, std::move(body));
}

// A keep-alive connection waiting for its next request. `stream` and `buffer` are set and
// cleared on the session's strand (`executor`) and read only there: an eviction runs there.
struct IdleConnection {
  IdleConnection(beast::tcp_stream* s, beast::flat_buffer* b, net::any_io_executor ex)
      : stream(s), buffer(b), executor(std::move(ex)) {}
  beast::tcp_stream* stream;
  beast::flat_buffer* buffer;
  const net::any_io_executor executor;
  bool listed = false;  // on State::idle; guarded by State::idle_mu
};

struct Server::State {
  State(net::io_context& io, ServerOptions o, Handler h)
      : ioc(io), options(o), handler(std::move(h)), acceptor(io) {}
  net::io_context& ioc;
  const ServerOptions options;
  Handler handler;
  tcp::acceptor acceptor;
  std::atomic<int> connections{0};
  std::atomic<int> in_flight{0};
  std::atomic<bool> stopping{false};
  Mutex idle_mu;
  std::list<std::shared_ptr<IdleConnection>> idle GUARDED_BY(idle_mu);  // oldest first

  using IdleList = std::list<std::shared_ptr<IdleConnection>>;

  IdleList::iterator MarkIdle(std::shared_ptr<IdleConnection> c) {
    MutexLock lock(idle_mu);
    c->listed = true;
    return idle.insert(idle.end(), std::move(c));
  }
  void MarkBusy(IdleList::iterator it, const std::shared_ptr<IdleConnection>& c) {
    MutexLock lock(idle_mu);
    if (c->listed) idle.erase(it);  // else an eviction took it off the list already
    c->listed = false;
  }
  // The keep-alive connection idle the longest, taken off the list; null when none is idle.
  std::shared_ptr<IdleConnection> TakeOldestIdle() {
    MutexLock lock(idle_mu);
    if (idle.empty()) return nullptr;
    std::shared_ptr<IdleConnection> victim = std::move(idle.front());
    idle.pop_front();
    victim->listed = false;
    return victim;
  }
};

// Registers a session as idle for its scope (the wait for the next request), and clears the
// registration on the session's strand when the wait ends, however it ends.
class IdleScope {
 public:
  IdleScope(Server::State& st, beast::tcp_stream& stream, beast::flat_buffer& buffer)
      : st_(st), c_(std::make_shared<IdleConnection>(&stream, &buffer, stream.get_executor())), at_(st.MarkIdle(c_)) {}
  ~IdleScope() {
    c_->stream = nullptr;
    c_->buffer = nullptr;
    st_.MarkBusy(at_, c_);
  }
  IdleScope(const IdleScope&) = delete;
  IdleScope& operator=(const IdleScope&) = delete;

 private:
  Server::State& st_;
  std::shared_ptr<IdleConnection> c_;
  Server::State::IdleList::iterator at_;
};

// Closes `victim` on its strand if it is still idle there — nothing buffered, nothing arrived
// on the socket — and completes with whether it did. A connection whose next request has begun
// to arrive is left alone: no request already received is cut off (one still on the wire at
// that instant meets a closed connection, as with any idle timeout).
net::awaitable<bool> EvictIfStillIdle(std::shared_ptr<IdleConnection> victim) {
  auto initiation = [victim](auto handler) {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    net::post(victim->executor, [victim, h] {
      bool evicted = false;
      if (victim->stream != nullptr && victim->buffer != nullptr && victim->buffer->size() == 0) {
        beast::error_code ec;
        const size_t waiting = victim->stream->socket().available(ec);
        if (!ec && waiting == 0) {
          victim->stream->cancel();
          evicted = true;
        }
      }
      auto ex = net::get_associated_executor(*h);
      net::post(ex, [h, evicted] { std::move(*h)(evicted); });
    });
  };
  // Named, then awaited: see the GCC 12 note in http/blocking.h.
  auto done = net::async_initiate<decltype(net::use_awaitable), void(bool)>(std::move(initiation), net::use_awaitable);
  co_return co_await std::move(done);
}

namespace {

// Counts a request from the moment it is read until its answer is written (or abandoned).
class InFlightGuard {
 public:
  explicit InFlightGuard(std::atomic<int>& n) : n_(n) { ++n_; }
  ~InFlightGuard() { --n_; }
  InFlightGuard(const InFlightGuard&) = delete;
  InFlightGuard& operator=(const InFlightGuard&) = delete;

 private:
  std::atomic<int>& n_;
};

// One connection: read a request under the limits, hand it to the handler, write the answer,
// repeat while keep-alive holds. Expected I/O errors are values; they end the session quietly.
net::awaitable<void> Session(std::shared_ptr<Server::State> st, tcp::socket socket) {
  const ServerOptions& opt = st->options;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  // Beast reads max(512, free capacity) bytes at a time: without room, a 2 KB webhook takes
  // four recvmsg calls. With room it takes one.
  buffer.reserve(kReadChunkBytes);
  for (bool first = true;; first = false) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(opt.max_body_bytes);
    parser.header_limit(kHeaderLimitBytes);
    // The first request must arrive within the header timeout; later ones within the idle one.
    stream.expires_after(first ? opt.header_timeout : opt.idle_timeout);
    // A keep-alive connection with nothing buffered is idle: at the connection cap, the one idle
    // the longest is closed to admit a new client.
    std::optional<IdleScope> idle;
    if (!first && buffer.size() == 0) idle.emplace(*st, stream, buffer);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, Tuple());
    idle.reset();  // on this strand: an eviction that runs from now on leaves it alone
    if (ec) {
      // GCC 12 mishandles non-trivial temporaries in co_await expressions: name the response.
      if (IsQuietClose(ec)) break;
      const auto unparsed = buffer.data();
      Response error = HeaderError(ec, parser.get().target(),
                                   std::string_view(static_cast<const char*>(unparsed.data()), unparsed.size()));
      // The request line may have been parsed even when the header as a whole failed.
      if (opt.on_reject) opt.on_reject(error.result_int(), parser.get().target());
      co_await Send(stream, std::move(error), 11, false, opt.body_timeout);
      break;
    }
    const unsigned version = parser.get().version();
    if (std::optional<Response> refused = RefuseHeader(parser)) {
      if (opt.on_reject) opt.on_reject(refused->result_int(), parser.get().target());
      co_await Send(stream, std::move(*refused), version, false, opt.body_timeout);
      break;
    }
    // HTTP/1.0 has no 100 Continue (RFC 9110 §10.1.1): such a client sends its body anyway.
    if (version >= 11 && beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
      stream.expires_after(opt.body_timeout);
      auto [wec, wn] = co_await bhttp::async_write(stream, cont, Tuple());
      if (wec) break;
    }
    stream.expires_after(opt.body_timeout);
    auto [rec, rn] = co_await bhttp::async_read(stream, buffer, parser, Tuple());
    if (rec) {
      if (IsQuietClose(rec)) break;
      Response error = rec == bhttp::error::body_limit ? JsonError(413, "request body exceeds the limit")
                                                       : JsonError(400, "malformed HTTP request body");
      if (opt.on_reject) opt.on_reject(error.result_int(), parser.get().target());
      co_await Send(stream, std::move(error), version, false, opt.body_timeout);
      break;
    }
    Request req = parser.release();
    if (std::optional<std::string> origin = OriginForm(std::string_view(req.target().data(), req.target().size()))) {
      req.target(*origin);
    }
    const bool keep_alive = req.keep_alive();
    const bool head = req.method() == bhttp::verb::head;
    InFlightGuard guard(st->in_flight);
    stream.expires_never();  // the handler may wait for a group commit; the store bounds that
    Response res;
    bool failed = false;
    try {
      res = co_await st->handler(std::move(req));
    } catch (const std::exception& e) {
      // The boundary: nothing a handler throws, on whatever thread it ran, ends the process.
      log::Error("request handler failed", {{"error", e.what()}});
      failed = true;
    } catch (...) {
      log::Error("request handler failed", {{"error", "unknown exception"}});
      failed = true;
    }
    if (failed) res = JsonError(500, "internal error; the relay logged it");
    if (res.count(kDropConnectionHeader) != 0) break;
    // Once the server stops, the answer in hand is written and the connection closed.
    if (!co_await Send(stream, std::move(res), version, keep_alive && !st->stopping.load(), opt.body_timeout, head)) {
      break;
    }
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> AcceptLoop(std::shared_ptr<Server::State> st) {
  net::steady_timer backoff(st->ioc);
  for (;;) {
    auto strand = net::make_strand(st->ioc);  // named: see the GCC 12 note in Session
    auto [ec, socket] = co_await st->acceptor.async_accept(strand, Tuple());
    if (ec) {
      if (!st->acceptor.is_open()) co_return;
      // e.g. EMFILE: pause instead of spinning on the same error.
      log::Warn("accept failed", {{"error", ec.message()}});
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(Tuple());
      continue;
    }
    if (st->connections.load() >= st->options.max_connections) {
      // Admit the new client only once an idle connection has really been closed for it.
      bool evicted = false;
      while (!evicted) {
        std::shared_ptr<IdleConnection> victim = st->TakeOldestIdle();
        if (!victim) break;
        auto eviction = EvictIfStillIdle(std::move(victim));
        evicted = co_await std::move(eviction);
      }
      if (!evicted) {
        beast::error_code ignored;
        socket.close(ignored);
        metrics::Default()
            .GetCounter("retl_relay_http_connections_refused_total",
                        "connections closed at the connection cap: none was idle to make room")
            .Inc();
        continue;
      }
      metrics::Default()
          .GetCounter("retl_relay_http_idle_evictions_total",
                      "idle keep-alive connections closed at the connection cap to admit a new one")
          .Inc();
    }
    ++st->connections;
    auto executor = socket.get_executor();
    net::co_spawn(executor, Session(st, std::move(socket)), [st](std::exception_ptr e) {
      --st->connections;
      // The single catch-all for a connection: nothing thrown inside may take the server down.
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::Error("http session failed", {{"error", ex.what()}});
        } catch (...) {
          log::Error("http session failed", {{"error", "unknown exception"}});
        }
      }
    });
  }
}

}  // namespace

Server::Server(net::io_context& ioc, ServerOptions options, Handler handler)
    : state_(std::make_shared<State>(ioc, options, std::move(handler))) {}

Server::~Server() = default;

StatusOr<uint16_t> Server::Listen(const std::string& host_port) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) return InvalidArgumentError("listen address must be host:port: " + host_port);
  std::string host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(host_port.substr(colon + 1));
  } catch (const std::exception&) {
    return InvalidArgumentError("listen address has a bad port: " + host_port);
  }
  beast::error_code ec;
  net::ip::address addr = net::ip::make_address(host, ec);
  if (ec || port < 0 || port > 65535) return InvalidArgumentError("listen address is not IP:port: " + host_port);
  tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  tcp::acceptor& a = state_->acceptor;
  if (a.open(ep.protocol(), ec); ec) return UnavailableError("listen " + host_port + ": " + ec.message());
  (void)a.set_option(net::socket_base::reuse_address(true), ec);
  if (a.bind(ep, ec); ec) return UnavailableError("listen " + host_port + ": " + ec.message());
  if (a.listen(net::socket_base::max_listen_connections, ec); ec) {
    return UnavailableError("listen " + host_port + ": " + ec.message());
  }
  return a.local_endpoint().port();
}

void Server::Start() {
  net::co_spawn(state_->ioc, AcceptLoop(state_), [](std::exception_ptr e) {
    if (e) log::Error("accept loop ended with an exception");
  });
}

void Server::Stop() {
  state_->stopping = true;
  net::post(state_->ioc, [st = state_] {
    beast::error_code ec;
    st->acceptor.close(ec);
  });
}

int Server::InFlight() const { return state_->in_flight.load(); }

int Server::Connections() const { return state_->connections.load(); }

}  // namespace relay::http
