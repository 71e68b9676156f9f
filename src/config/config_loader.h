#pragma once
// Loading and validating configuration. Every problem found is reported, one per line, with
// the key it concerns; nothing half-valid is returned.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "config/config.h"

namespace relay::config {

// Reads an environment variable; injected so tests do not touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup ProcessEnv();

// Parses TOML text. `${VAR}` in string values is replaced from `env` (an unset variable is an
// error); DBT_WEBHOOK_SECRET and RUDDERSTACK_API_TOKEN fill secrets the file leaves out.
// Returns InvalidArgument whose message lists every problem, one per line, "key: problem".
StatusOr<Config> ParseConfig(std::string_view toml_text, const EnvLookup& env,
                             std::string_view source_name = "config");

// The secret keys whose value is written in the text itself rather than taken from ${VAR}
// (for the world-readable warning). Unparsable text gives none.
std::vector<std::string> LiteralSecretKeys(std::string_view toml_text);

// Reads and parses a file. NotFound if it cannot be read. A file readable by other users that
// holds secrets literally adds a line to Config::warnings.
StatusOr<Config> LoadConfigFile(const std::string& path, const EnvLookup& env);

// Zero-config mode, the seed handler's variables: RUDDERSTACK_API_TOKEN and RETL_CONNECTION_ID
// give one route starting that connection incrementally on every successful run. Optional:
// DBT_WEBHOOK_SECRET, RETL_RELAY_ALLOW_UNSIGNED=true, RETL_RELAY_STORE_URL, RETL_RELAY_LISTEN,
// RUDDERSTACK_REGION, RUDDERSTACK_API_BASE. InvalidArgument names each missing variable.
StatusOr<Config> ConfigFromEnvironment(const EnvLookup& env);

// The RudderStack settings of the environment alone (RUDDERSTACK_API_TOKEN, RUDDERSTACK_REGION,
// RUDDERSTACK_API_BASE), normalised and validated as zero-config mode does: the CLI's
// fallback when there is no config file and no route. InvalidArgument names each bad variable.
StatusOr<RudderstackConfig> RudderstackFromEnvironment(const EnvLookup& env);

// Problems that make `serve` refuse to start even though the config parsed, e.g. no webhook
// secret without allow_unsigned. Empty when the config can serve.
std::vector<std::string> ServeProblems(const Config& config);

// Parses "500ms", "10s", "5m", "24h" (a bare number is seconds).
StatusOr<Duration> ParseDuration(std::string_view text);

// The API base URL for the config: api_base if set, else the region's host.
std::string ApiBase(const RudderstackConfig& rs);

}  // namespace relay::config
