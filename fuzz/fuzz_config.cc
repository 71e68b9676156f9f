// libFuzzer target: TOML config loading (config/config_loader.h) on arbitrary text.
// Properties: never crashes, whatever the key depth or nesting (seeds: 5,000 dotted parts,
// a 5,000-part header); ${S} expands to 64 KiB, so a value repeating it meets the expansion
// bounds (seed: 20,000 of them) instead of allocating gigabytes; a config that loads has at
// least one route with a connection and no token with a control character (${CRLF}); no error
// message ever contains the secret the environment supplies.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "UNSET") return std::nullopt;
    if (name == "S") return std::string(64 * 1024, 's');
    if (name == "CRLF") return std::string("env-SECRET-value\r\nX-Injected: yes");
    return std::string("env-SECRET-value");
  };
  auto config = relay::config::ParseConfig(text, env, "fuzz.toml");
  if (config.ok()) {
    if (config->routes.empty()) std::abort();
    if (config->rudderstack.token.find('\n') != std::string::npos) std::abort();  // header injection
    for (const auto& r : config->routes) {
      if (r.connections.empty()) std::abort();
    }
    (void)relay::config::ServeProblems(*config);
  } else if (config.status().message().find("env-SECRET-value") != std::string::npos &&
             text.find("env-SECRET-value") == std::string_view::npos) {
    std::abort();  // a value from the environment leaked into an error (the text may quote itself)
  }
  (void)relay::config::LiteralSecretKeys(text);
  return 0;
}
