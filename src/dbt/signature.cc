#include "dbt/signature.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <cassert>

namespace relay::dbt {
namespace {

constexpr size_t kHexLen = 64;
constexpr char kHexDigits[] = "0123456789abcdef";

void HexEncode(const unsigned char* mac, size_t len, char* out) {
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kHexDigits[mac[i] >> 4];
    out[2 * i + 1] = kHexDigits[mac[i] & 0xf];
  }
}

// An HMAC-SHA256 context with the key already absorbed. OpenSSL 3's EVP_MAC keeps the inner and
// outer padded key state in the context, so duplicating it per message skips the key schedule.
EVP_MAC_CTX* NewKeyedContext(std::string_view secret) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return nullptr;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);  // The context holds its own reference.
  if (ctx == nullptr) return nullptr;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                   params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

// Computes the hex MAC of `body` from a keyed template context; false on an OpenSSL failure.
bool MacHex(const EVP_MAC_CTX* keyed, std::string_view body, char out[kHexLen]) {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed);
  if (ctx == nullptr) return false;
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  size_t len = 0;
  bool ok = EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size()) == 1 &&
            EVP_MAC_final(ctx, mac.data(), &len, mac.size()) == 1 && len == 32;
  EVP_MAC_CTX_free(ctx);
  if (ok) HexEncode(mac.data(), len, out);
  return ok;
}

std::string_view TrimSpaceTab(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

struct SignatureVerifier::Key {
  EVP_MAC_CTX* ctx = nullptr;
  ~Key() { EVP_MAC_CTX_free(ctx); }
};

std::string SignBody(std::string_view body, std::string_view secret) {
  EVP_MAC_CTX* ctx = NewKeyedContext(secret);
  std::string out(kHexLen, '0');
  bool ok = ctx != nullptr && MacHex(ctx, body, out.data());
  EVP_MAC_CTX_free(ctx);
  return ok ? out : std::string();
}

SignatureVerifier::SignatureVerifier(const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    assert(!s.empty() && "config validation rejects empty webhook secrets");
    auto key = std::make_unique<Key>();
    key->ctx = NewKeyedContext(s);
    if (key->ctx != nullptr) keys_.push_back(std::move(key));
  }
}

SignatureVerifier::~SignatureVerifier() = default;

Status SignatureVerifier::Verify(std::string_view body, std::string_view authorization) const {
  if (keys_.empty()) return UnauthenticatedError("no webhook secret configured");
  std::string_view got = TrimSpaceTab(authorization);
  if (got.empty()) return UnauthenticatedError("missing Authorization header");
  if (got.size() != kHexLen) {
    return UnauthenticatedError("Authorization is not a 64-character hex HMAC-SHA256");
  }
  std::array<char, kHexLen> folded{};
  for (size_t i = 0; i < kHexLen; ++i) {
    char c = got[i];
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return UnauthenticatedError("Authorization is not a 64-character hex HMAC-SHA256");
    }
    folded[i] = c;
  }
  // Every key is tried so the time taken does not reveal which one matched.
  bool matched = false;
  for (const auto& key : keys_) {
    std::array<char, kHexLen> expected{};
    if (!MacHex(key->ctx, body, expected.data())) return InternalError("HMAC computation failed");
    matched |= CRYPTO_memcmp(expected.data(), folded.data(), kHexLen) == 0;
  }
  if (!matched) return UnauthenticatedError("signature does not match the request body");
  return Status::Ok();
}

}  // namespace relay::dbt
