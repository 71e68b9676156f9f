#pragma once
// Redaction of a secret value from text meant for people (errors, logs). A value of
// kRedactAnywhereBytes or more is replaced wherever it occurs; a shorter one only where it
// stands whole (no letter or digit touches it on either side), so a short value ("us", a
// one-letter password) never replaces the letters of other words, which would both mangle the
// text and give the value away. Callers refuse values too short to be secret
// (config::kMinSecretBytes) where they are secrets.

#include <string>
#include <string_view>
#include <vector>

namespace relay {

inline constexpr size_t kRedactAnywhereBytes = 8;

// `text` with every whole occurrence of `value` replaced by `shown`. An empty value changes nothing.
std::string RedactWhole(std::string text, std::string_view value, std::string_view shown);

// A store URL as it may be shown (logs, errors, doctor): a PostgreSQL URL's password, in the
// user-info part or as a password= parameter, becomes "***".
std::string RedactedStoreUrl(std::string_view url);
// The passwords a PostgreSQL store URL carries, as written (percent-encoded): its user-info
// part's and any password= parameter's. Empty for other URLs.
std::vector<std::string> StoreUrlPasswords(std::string_view url);

}  // namespace relay
