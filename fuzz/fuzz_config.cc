// libFuzzer target: TOML config loading (config/config_loader.h) on arbitrary text.
// Properties: never crashes; a config that loads has at least one route with a connection;
// no error message ever contains the secret the environment supplies.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "UNSET") return std::nullopt;
    return std::string("env-SECRET-value");
  };
  auto config = relay::config::ParseConfig(text, env, "fuzz.toml");
  if (config.ok()) {
    if (config->routes.empty()) std::abort();
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
