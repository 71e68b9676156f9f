#pragma once
// Loading and validating configuration. Every problem found is reported, one per line, with
// the key it concerns; nothing half-valid is returned.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/redact.h"
#include "common/status.h"
#include "config/config.h"

namespace relay::config {

// How a config is loaded. `serve` and `check-config` set for_serve: the checks of
// ServeProblems then join the parse's own, so every problem is reported in one run (a missing
// webhook secret in zero-config mode included), before anything is created. `listen` and
// `store_url`, when set, replace the file's values first (serve's --listen and --store).
struct LoadOptions {
  bool for_serve = false;
  std::string listen;
  std::string store_url;
};

// Reads an environment variable; injected so tests do not touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup ProcessEnv();

// Bounds on what a config may hold, checked before the text reaches toml++ (issue 33: a key
// with 50,000 dotted parts crashed it, `${S}` repeated 20,000 times took 1.5 GB).
inline constexpr size_t kMaxConfigBytes = 1024 * 1024;     // the file, or the text
inline constexpr size_t kMaxKeySegments = 32;              // parts of one dotted key or header
inline constexpr size_t kMaxNesting = 32;                  // depth of [ and { together
inline constexpr size_t kMaxValueBytes = 64 * 1024;        // one string value after ${VAR}
inline constexpr size_t kMaxExpandedBytes = 1024 * 1024;   // everything ${VAR} adds, in all
// Tokens and secrets (rudderstack.token, dbt.webhook_secret(s), admin.token, dbt_cloud.token,
// alert secrets) have at least this many characters and no control character.
inline constexpr size_t kMinSecretBytes = 8;

// Parses TOML text. `${VAR}` in string values is replaced from `env` (an unset variable is an
// error); DBT_WEBHOOK_SECRET and RUDDERSTACK_API_TOKEN fill secrets the file leaves out.
// Returns InvalidArgument whose message lists every problem, one per line, "key: problem".
// Text past the bounds above is refused before it is parsed.
StatusOr<Config> ParseConfig(std::string_view toml_text, const EnvLookup& env,
                             std::string_view source_name = "config", const LoadOptions& options = {});

// The problem lines of a load's InvalidArgument ("source: N problem(s)\n  key: problem…"), one
// per entry; the message itself when it has no such lines.
std::vector<std::string> ProblemLines(const std::string& message);

// The secret keys whose value is written in the text itself rather than taken from ${VAR}
// (for the world-readable warning). Unparsable text gives none.
std::vector<std::string> LiteralSecretKeys(std::string_view toml_text);

// Reads and parses a file. NotFound if it cannot be read; InvalidArgument for anything but a
// regular file (a FIFO is never waited on, a directory never read as empty) or one over
// kMaxConfigBytes. A file readable by other users that holds secrets literally adds a line to
// Config::warnings.
StatusOr<Config> LoadConfigFile(const std::string& path, const EnvLookup& env, const LoadOptions& options = {});

// The config file a command reads when --config is not given: $RETL_RELAY_CONFIG when set and
// not empty, else /etc/retl-relay/relay.toml when that file exists (the container image's and
// the systemd unit's place), else "" (zero-config mode: the environment). `flag` (--config)
// wins when not empty.
inline constexpr char kDefaultConfigFile[] = "/etc/retl-relay/relay.toml";
std::string ConfigPath(const std::string& flag, const EnvLookup& env);

// What serve, lambda, check-config and doctor load: the file at `path` (ConfigPath's answer),
// or zero-config mode from the environment when it is "".
StatusOr<Config> LoadConfig(const std::string& path, const EnvLookup& env, const LoadOptions& options = {});

// Store URLs as they may be shown: common/redact.h (the store redacts them too).
using relay::RedactedStoreUrl;
using relay::StoreUrlPasswords;

// Zero-config mode, the seed handler's variables: RUDDERSTACK_API_TOKEN and RETL_CONNECTION_ID
// give one route starting that connection incrementally on every successful run. Optional:
// DBT_WEBHOOK_SECRET, RETL_RELAY_ALLOW_UNSIGNED=true, RETL_RELAY_STORE_URL, RETL_RELAY_LISTEN
// (else PORT, as Cloud Run and Knative set it: 0.0.0.0:$PORT), RUDDERSTACK_REGION,
// RUDDERSTACK_API_BASE. InvalidArgument names each missing variable.
StatusOr<Config> ConfigFromEnvironment(const EnvLookup& env, const LoadOptions& options = {});

// The RudderStack settings of the environment alone (RUDDERSTACK_API_TOKEN, RUDDERSTACK_REGION,
// RUDDERSTACK_API_BASE), normalised and validated as zero-config mode does: the CLI's
// fallback when there is no config file and no route. InvalidArgument names each bad variable.
StatusOr<RudderstackConfig> RudderstackFromEnvironment(const EnvLookup& env);

// Problems that make `serve` refuse to start even though the config parsed: no webhook secret
// without allow_unsigned, a listen address that is not IP:port. Empty when the config can
// serve. (LoadOptions::for_serve folds these into the load.)
std::vector<std::string> ServeProblems(const Config& config);

// The run outcome names, one vocabulary for the config's `on` and `send-test --status`: dbt's
// success, error, cancelled (run status 10, 20, 30). Also accepted, with `canonical` set to
// the dbt name so the caller can say so: succeeded, successful, errored, failed, canceled.
// nullopt for anything else.
std::optional<int> RunStatusCodeFor(std::string_view word, std::string* canonical = nullptr);

// OK for "IPv4:port", "[IPv6]:port" with a port from 0 to 65535 (0 = any free port);
// InvalidArgument saying what is wrong otherwise ("localhost:8080": not an IP address).
Status CheckListenAddress(std::string_view host_port);

// Where the SQLite store lives when no URL is given, independent of the current directory:
// $STATE_DIRECTORY (set by systemd's StateDirectory=; its first entry), else
// /var/lib/retl-relay when `root`, else $XDG_STATE_HOME/retl-relay (~/.local/state/retl-relay).
// The file is relay.db there.
std::string DefaultStoreUrl(const EnvLookup& env, bool root);
// The same for this process (root = effective uid 0).
std::string DefaultStoreUrl(const EnvLookup& env);

// The shortest retention (store.retention, `prune --older-than`): newer history still
// deduplicates dbt Cloud's retries of an eventId and tells the dispatcher which syncs it knows.
inline constexpr Duration kMinRetention = std::chrono::hours(24);

// Parses "500ms", "10s", "5m", "24h", "90d" (a bare number is seconds).
StatusOr<Duration> ParseDuration(std::string_view text);

// The API base URL for the config: api_base if set, else the region's host.
std::string ApiBase(const RudderstackConfig& rs);

// A sink URL as it may be shown (logs, errors, check-config, the admin API): scheme://host[:port]/…
// A Slack incoming-webhook URL is its own credential, and others may hold a token too.
std::string RedactedUrl(std::string_view url);

}  // namespace relay::config
