#pragma once
// The status page: GET /ui/ and its files, embedded in the binary (admin/ui_assets.h). Static
// files only, served to anyone who reaches the admin side (the same listener as the admin
// API): the page reads and acts through the admin API with the token its viewer types in, so
// nothing here needs or reveals a secret. Each file has a strong ETag (If-None-Match → 304) and
// a strict Content-Security-Policy: the page's own script, style and images only, no inline
// code, no other origin, no framing.
//
//   GET /ui       301 → /ui/
//   GET /ui/      index.html
//   GET /ui/NAME  an embedded file; 404 for anything else; 405 for methods but GET and HEAD

#include <string_view>

#include "http/server.h"

namespace relay::admin {

class UiHandler {
 public:
  static bool Owns(std::string_view target);
  // Synchronous: everything served is in memory.
  static http::Response Answer(const http::Request& req);
  static constexpr std::string_view kContentSecurityPolicy =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
};

}  // namespace relay::admin
