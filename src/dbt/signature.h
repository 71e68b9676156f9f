#pragma once
// dbt Cloud webhook signatures: lowercase hex HMAC-SHA256 of the raw request body, keyed with
// the webhook secret's UTF-8 bytes, sent bare in the Authorization header.
// See docs/dbt_webhook.md. No I/O here.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace relay::dbt {

// Returns the 64-character lowercase hex HMAC-SHA256 of `body` keyed with `secret`.
std::string SignBody(std::string_view body, std::string_view secret);

// Verifies an Authorization header value against one or more secrets, keeping each key's HMAC
// state so a verification costs no key setup. Fails closed: with no secret configured every
// request is rejected. Safe for concurrent use; each call works on its own copy of the state.
class SignatureVerifier {
 public:
  // REQUIRES: every secret is non-empty (config validation guarantees it).
  explicit SignatureVerifier(const std::vector<std::string>& secrets);
  ~SignatureVerifier();
  SignatureVerifier(const SignatureVerifier&) = delete;
  SignatureVerifier& operator=(const SignatureVerifier&) = delete;

  // Returns OK when `authorization` (surrounding spaces/tabs ignored, A-F folded) equals the
  // MAC of `body` under any configured secret, compared in constant time. Otherwise returns
  // Unauthenticated with a reason that never contains the expected MAC.
  Status Verify(std::string_view body, std::string_view authorization) const;

 private:
  struct Key;
  std::vector<std::unique_ptr<Key>> keys_;
};

}  // namespace relay::dbt
