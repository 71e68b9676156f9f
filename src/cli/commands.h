#pragma once
// The subcommand table. `--help` is generated from it; each entry wires its options into a
// CLI11 subcommand and returns the function that runs it. Exit codes: 0 success, 1 failure,
// 2 usage error.

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"

namespace relay::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

using Runner = std::function<int()>;
struct Command {
  const char* name;
  const char* summary;
  // Adds the command's options to `app` and returns what to run once they are parsed.
  std::function<Runner(CLI::App& app)> setup;
  // One or two real invocations, shown at the end of the command's --help.
  const char* examples;
};

// The command whose name is closest to `word` (edit distance, at most 3), or "" when none is.
std::string ClosestCommand(std::string_view word);

const std::vector<Command>& Commands();
int RunCli(int argc, char** argv);

// Each command's setup, one file each.
Runner SetupServe(CLI::App& app);
Runner SetupFake(CLI::App& app);
Runner SetupSendTest(CLI::App& app);
Runner SetupCheckConfig(CLI::App& app);
Runner SetupSandbox(CLI::App& app);
Runner SetupStatus(CLI::App& app);
Runner SetupEvents(CLI::App& app);
Runner SetupEvent(CLI::App& app);
Runner SetupReplay(CLI::App& app);
Runner SetupDead(CLI::App& app);
Runner SetupRetry(CLI::App& app);
Runner SetupTrigger(CLI::App& app);
Runner SetupSyncs(CLI::App& app);
Runner SetupSync(CLI::App& app);
Runner SetupStop(CLI::App& app);
Runner SetupExplain(CLI::App& app);
Runner SetupPrune(CLI::App& app);
Runner SetupReconcile(CLI::App& app);
Runner SetupSendTestAlert(CLI::App& app);
Runner SetupFakeAlertSink(CLI::App& app);
Runner SetupFakeDbtCloud(CLI::App& app);
Runner SetupDoctor(CLI::App& app);
Runner SetupProbe(CLI::App& app);
Runner SetupLambda(CLI::App& app);

// Shared option helpers.
// The --config help: where the file comes from when the option is left out (config::ConfigPath).
inline constexpr char kConfigHelp[] =
    "config file (default: $RETL_RELAY_CONFIG, else /etc/retl-relay/relay.toml if present, else zero-config mode "
    "from the environment)";
struct LogOptions {
  std::string level = "info";
  std::string format = "json";
};
void AddLogOptions(CLI::App& app, LogOptions& options);
// Applies them; false (after printing why) when a value is invalid.
bool ApplyLogOptions(const LogOptions& options);
// Serves a fake API (fake-rudderstack, fake-dbt-cloud) on `listen` until SIGINT/SIGTERM,
// writing the bound port to `port_file` (when set) once listening. Returns the exit code.
int ServeFake(const char* name, const std::string& listen, const std::string& port_file, http::Handler handler);
// http://HOST:PORT`path` for a relay listening on `listen` ("IP:port"), reached from this
// machine: an any-address listener (0.0.0.0, [::]) on loopback. For doctor and probe.
std::string LocalUrl(const std::string& listen, std::string_view path);
// Writes `port` to `path` atomically (write + rename), for tests and scripts using port 0.
bool WritePortFile(const std::string& path, unsigned port);

}  // namespace relay::cli
