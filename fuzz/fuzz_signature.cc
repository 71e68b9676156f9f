// libFuzzer target: HMAC signature verification (dbt/signature.h).
// Input: "authorization header\nbody". Properties: never crashes; the body's own signature
// always verifies (also in upper case and with surrounding spaces); a header that differs
// from it never does.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dbt/signature.h"

namespace {
constexpr char kSecret[] = "fuzz-secret";

std::string Trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const relay::dbt::SignatureVerifier verifier({kSecret, "second-secret"});
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  std::string_view header = nl == std::string_view::npos ? in : in.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);

  const std::string good = relay::dbt::SignBody(body, kSecret);
  if (good.size() != 64) std::abort();
  if (!verifier.Verify(body, good).ok()) std::abort();
  std::string upper = good;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!verifier.Verify(body, " " + upper + "\t").ok()) std::abort();
  const bool accepted = verifier.Verify(body, header).ok();
  if (accepted && Trimmed(header) != good && Trimmed(header) != relay::dbt::SignBody(body, "second-secret")) {
    std::abort();  // accepted something that is not a valid signature
  }
  return 0;
}
