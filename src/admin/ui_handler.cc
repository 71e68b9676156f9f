#include "admin/ui_handler.h"

#include <openssl/sha.h>

#include <string>

#include "admin/ui_assets.h"

namespace relay::admin {
namespace {

namespace bhttp = boost::beast::http;

struct Served {
  std::string_view bytes;
  std::string content_type;
  std::string etag;  // quoted: the first 16 bytes of the content's SHA-256, in hex
};

std::string ContentType(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

std::string ETagOf(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag = "\"";
  for (int i = 0; i < 16; ++i) {
    tag += kHex[digest[i] >> 4];
    tag += kHex[digest[i] & 15];
  }
  return tag + "\"";
}

const Served* Find(std::string_view name) {
  static const std::vector<std::pair<std::string_view, Served>> kServed = [] {
    std::vector<std::pair<std::string_view, Served>> v;
    for (const UiAsset& a : UiAssets()) v.push_back({a.name, Served{a.bytes, ContentType(a.name), ETagOf(a.bytes)}});
    return v;
  }();
  for (const auto& [n, s] : kServed) {
    if (n == name) return &s;
  }
  return nullptr;
}

http::Response Plain(unsigned status) {
  http::Response res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::server, "retl-relay");
  return res;
}

// True when If-None-Match names `etag` (or is "*").
bool NotModified(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag || tag == "*") return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

bool UiHandler::Owns(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return path == "/ui" || path.starts_with("/ui/");
}

http::Response UiHandler::Answer(const http::Request& req) {
  std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
    http::Response res = http::JsonError(405, "the status page only answers GET and HEAD");
    res.set(bhttp::field::allow, "GET, HEAD");
    return res;
  }
  if (path == "/ui") {
    http::Response res = Plain(301);
    res.set(bhttp::field::location, "/ui/");
    return res;
  }
  std::string_view name = path.substr(4);  // after "/ui/"
  if (name.empty()) name = "index.html";
  const Served* s = Find(name);
  if (s == nullptr) return http::JsonError(404, "no such file in the status page");
  auto if_none_match = req[bhttp::field::if_none_match];
  http::Response res = Plain(200);
  if (NotModified(std::string_view(if_none_match.data(), if_none_match.size()), s->etag)) {
    res.result(bhttp::status::not_modified);
  } else {
    res.set(bhttp::field::content_type, s->content_type);
    res.body() = std::string(s->bytes);
  }
  res.set(bhttp::field::etag, s->etag);
  // Revalidated on every load (the ETag makes that a 304): a new relay build shows its page.
  res.set(bhttp::field::cache_control, "no-cache");
  res.set("Content-Security-Policy", kContentSecurityPolicy);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  return res;
}

}  // namespace relay::admin
