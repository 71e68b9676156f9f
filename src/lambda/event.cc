#include "lambda/event.h"

#include <openssl/evp.h>

#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace relay::lambda {
namespace {

namespace json = boost::json;
namespace bhttp = boost::beast::http;

const json::string* StringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_string() : nullptr;
}

// Percent-encodes a decoded query parameter (RFC 3986 unreserved characters stay).
std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// Payload 1.0 query: multiValueQueryStringParameters when present (every value), else
// queryStringParameters (the last value of each name).
std::string QueryOf10(const json::object& e) {
  std::string q;
  auto add = [&q](std::string_view name, std::string_view value) {
    q += q.empty() ? "" : "&";
    q += QueryEscape(name) + "=" + QueryEscape(value);
  };
  if (const json::value* mv = e.if_contains("multiValueQueryStringParameters"); mv != nullptr && mv->is_object()) {
    for (const auto& [name, values] : mv->as_object()) {
      if (!values.is_array()) continue;
      for (const json::value& v : values.as_array()) {
        if (v.is_string()) add(name, v.as_string());
      }
    }
    return q;
  }
  if (const json::value* sv = e.if_contains("queryStringParameters"); sv != nullptr && sv->is_object()) {
    for (const auto& [name, v] : sv->as_object()) {
      if (v.is_string()) add(name, v.as_string());
    }
  }
  return q;
}

// The headers an event carries, in order: 1.0's multiValueHeaders keep every value (joined
// with ", "); otherwise `headers` (2.0 joins repeats with commas already), plus 2.0's cookies.
std::vector<std::pair<std::string, std::string>> HeadersOf(const json::object& e, bool v2) {
  std::vector<std::pair<std::string, std::string>> out;
  const json::value* mv = v2 ? nullptr : e.if_contains("multiValueHeaders");
  if (mv != nullptr && mv->is_object() && !mv->as_object().empty()) {
    for (const auto& [name, values] : mv->as_object()) {
      if (!values.is_array()) continue;
      std::string joined;
      for (const json::value& v : values.as_array()) {
        if (!v.is_string()) continue;
        joined += joined.empty() ? "" : ", ";
        joined += std::string_view(v.as_string());
      }
      out.emplace_back(std::string(name), std::move(joined));
    }
  } else if (const json::value* hs = e.if_contains("headers"); hs != nullptr && hs->is_object()) {
    for (const auto& [name, v] : hs->as_object()) {
      if (v.is_string()) out.emplace_back(std::string(name), std::string(v.as_string()));
    }
  }
  if (const json::value* cookies = v2 ? e.if_contains("cookies") : nullptr; cookies != nullptr && cookies->is_array()) {
    std::string joined;
    for (const json::value& c : cookies->as_array()) {
      if (!c.is_string()) continue;
      joined += joined.empty() ? "" : "; ";
      joined += std::string_view(c.as_string());
    }
    if (!joined.empty()) out.emplace_back("Cookie", std::move(joined));
  }
  return out;
}

// The path as the client asked for it: an API Gateway stage other than $default is removed
// from its front ("/prod/webhooks/dbt" → "/webhooks/dbt").
std::string PathWithoutStage(const json::object& e, std::string_view path) {
  const json::value* rc = e.if_contains("requestContext");
  const json::string* stage = rc != nullptr && rc->is_object() ? StringAt(rc->as_object(), "stage") : nullptr;
  if (stage == nullptr || stage->empty() || *stage == "$default") return std::string(path);
  const std::string prefix = "/" + std::string(*stage);
  if (path == prefix) return "/";
  if (path.starts_with(prefix + "/")) return std::string(path.substr(prefix.size()));
  return std::string(path);
}

StatusOr<Event> HttpEventOf(const json::object& e, bool v2) {
  HttpEvent out;
  out.format = v2 ? "2.0" : "1.0";
  const json::string* method = nullptr;
  const json::string* path = nullptr;
  std::string query;
  if (v2) {
    const json::value* rc = e.if_contains("requestContext");
    const json::value* h = rc != nullptr && rc->is_object() ? rc->as_object().if_contains("http") : nullptr;
    if (h != nullptr && h->is_object()) method = StringAt(h->as_object(), "method");
    path = StringAt(e, "rawPath");
    if (const json::string* q = StringAt(e, "rawQueryString")) query = std::string(*q);
  } else {
    method = StringAt(e, "httpMethod");
    path = StringAt(e, "path");
    query = QueryOf10(e);
  }
  if (method == nullptr || method->empty() || method->size() > 32) {
    return InvalidArgumentError(v2 ? "requestContext.http.method: missing or not a method"
                                   : "httpMethod: missing or not a method");
  }
  if (path == nullptr || path->empty() || path->front() != '/') {
    return InvalidArgumentError(v2 ? "rawPath: missing or not absolute" : "path: missing or not absolute");
  }
  http::Request& req = out.request;
  req.version(11);
  const bhttp::verb verb = bhttp::string_to_verb(std::string_view(method->data(), method->size()));
  if (verb == bhttp::verb::unknown) {
    req.method_string(std::string_view(method->data(), method->size()));
  } else {
    req.method(verb);
  }
  std::string target = PathWithoutStage(e, std::string_view(path->data(), path->size()));
  if (!query.empty()) target += "?" + query;
  // serve's limits, checked before anything reaches Beast's header container.
  if (target.size() > http::kTargetLimitBytes) {
    out.refusal = http::JsonError(414, "request target too long");
    return Event(std::move(out));
  }
  req.target(target);
  const auto headers = HeadersOf(e, v2);
  size_t header_bytes = target.size() + 16;
  for (const auto& [name, value] : headers) header_bytes += name.size() + value.size() + 4;
  if (header_bytes > http::kHeaderLimitBytes) {
    out.refusal = http::JsonError(431, "request headers too large");
    return Event(std::move(out));
  }
  for (const auto& [name, value] : headers) {
    if (name.empty()) continue;
    req.insert(name, value);
  }
  // Nothing decodes compressed bodies: say so, as serve does.
  for (const auto& f : req) {
    if (f.name() != bhttp::field::content_encoding) continue;
    std::string_view v(f.value().data(), f.value().size());
    if (!v.empty() && !boost::beast::iequals(v, "identity")) {
      out.refusal = http::JsonError(415, "Content-Encoding is not supported");
      return Event(std::move(out));
    }
  }
  // The body as the client sent it.
  if (const json::string* body = StringAt(e, "body")) {
    const json::value* b64 = e.if_contains("isBase64Encoded");
    if (b64 != nullptr && b64->is_bool() && b64->as_bool()) {
      std::optional<std::string> bytes = DecodeBase64(*body);
      if (!bytes) return InvalidArgumentError("body: isBase64Encoded is true but the body is not valid base64");
      req.body() = std::move(*bytes);
    } else {
      req.body() = std::string(*body);
    }
  }
  // The length of what arrived; a proxy's Transfer-Encoding does not apply any more.
  req.erase(bhttp::field::transfer_encoding);
  req.erase(bhttp::field::content_length);
  if (!req.body().empty() || verb == bhttp::verb::post || verb == bhttp::verb::put || verb == bhttp::verb::patch) {
    req.content_length(req.body().size());
  }
  return Event(std::move(out));
}

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text) {
  // Strictly RFC 4648 §4: OpenSSL's decoder would skip whitespace and stop at '-'.
  if (text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  for (size_t i = 0; i + padding < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (!std::isalnum(c) && c != '+' && c != '/') return std::nullopt;
  }
  std::unique_ptr<EVP_ENCODE_CTX, void (*)(EVP_ENCODE_CTX*)> ctx(EVP_ENCODE_CTX_new(), EVP_ENCODE_CTX_free);
  if (!ctx) return std::nullopt;
  EVP_DecodeInit(ctx.get());
  std::string out(text.size() / 4 * 3 + 3, '\0');
  int n = 0, tail = 0;
  // EVP_DecodeUpdate takes an int length: decode in pieces (a multiple of 4 characters each).
  size_t written = 0;
  constexpr size_t kPiece = 1 << 20;
  for (size_t at = 0; at < text.size(); at += kPiece) {
    const size_t len = std::min(kPiece, text.size() - at);
    if (EVP_DecodeUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data() + written), &n,
                         reinterpret_cast<const unsigned char*>(text.data() + at), static_cast<int>(len)) < 0) {
      return std::nullopt;
    }
    written += static_cast<size_t>(n);
  }
  if (EVP_DecodeFinal(ctx.get(), reinterpret_cast<unsigned char*>(out.data() + written), &tail) < 0) return std::nullopt;
  written += static_cast<size_t>(tail);
  out.resize(written);
  return out;
}

StatusOr<Event> ParseEvent(std::string_view payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return InvalidArgumentError("the event is not a JSON object");
  const json::object& e = v.as_object();
  const json::string* source = StringAt(e, "source");
  const json::string* detail_type = StringAt(e, "detail-type");
  if (source != nullptr && *source == "aws.events" && detail_type != nullptr && *detail_type == "Scheduled Event") {
    return Event(ScheduledEvent{});
  }
  if (const json::string* r = StringAt(e, "retl_relay"); r != nullptr && *r == "dispatch") return Event(ScheduledEvent{});
  const json::string* version = StringAt(e, "version");
  if (version != nullptr && *version == "2.0" && e.contains("rawPath")) return HttpEventOf(e, true);
  if (e.contains("httpMethod")) return HttpEventOf(e, false);
  return InvalidArgumentError(
      "unsupported event: expected an API Gateway (payload 1.0 or 2.0) or function URL request, or an EventBridge "
      "scheduled event");
}

std::string ProxyResponse(const http::Response& response) {
  json::object headers;
  for (const auto& field : response) {
    const std::string name(field.name_string());
    const std::string_view value(field.value().data(), field.value().size());
    if (json::value* existing = headers.if_contains(name)) {
      std::string joined(existing->as_string());
      joined += ", ";
      joined += value;
      *existing = joined;
    } else {
      headers[name] = value;
    }
  }
  headers.erase("Content-Length");  // the Lambda service frames the answer itself
  json::object out{{"statusCode", response.result_int()},
                   {"headers", std::move(headers)},
                   {"body", response.body()},
                   {"isBase64Encoded", false}};
  return json::serialize(out);
}

std::string ErrorBody(std::string_view type, std::string_view message) {
  json::object o{{"errorMessage", message}, {"errorType", type}, {"stackTrace", json::array()}};
  return json::serialize(o);
}

}  // namespace relay::lambda
