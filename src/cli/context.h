#pragma once
// What operator commands share: the configuration (file, or the environment), the store opened
// for inspection (never created), a RudderStack client when a token is known, and
// admin::Operations over them. Plus output helpers: tables, times, --json.

#include <CLI/CLI.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <vector>

#include "admin/operations.h"
#include "config/config.h"

namespace relay::cli {

struct CommonOptions {
  std::string config_path;
  std::string store_url;
  bool json = false;
};
void AddCommonOptions(CLI::App& app, CommonOptions& options);

class Context {
 public:
  // Loads the config and, when `needs_store`, opens the store (never creating or migrating
  // it); prints the cause and returns nullptr on failure. Commands that only call RudderStack
  // (syncs, sync, stop) need no store.
  static std::unique_ptr<Context> Open(const CommonOptions& options, bool needs_store = true);
  admin::Operations& ops() { return *ops_; }
  store::Store* store() { return store_.get(); }  // null when opened without a store
  const config::Config& config() const { return config_; }

 private:
  config::Config config_;
  SystemClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<rudderstack::Client> client_;
  std::unique_ptr<admin::Operations> ops_;
};

// Loads --config, or builds a config from the environment (zero-config variables when set;
// otherwise just the store and RudderStack settings). Prints problems; nullopt on failure.
std::optional<config::Config> LoadCliConfig(const std::string& path);

// Prints `result` (JSON with --json, else through `human`) and returns the exit code; an error
// is printed to stderr with exit 1.
int Emit(const StatusOr<boost::json::value>& result, bool json,
         const std::function<void(const boost::json::value&)>& human);

// "2026-11-27T20:16:49.123Z (3m ago)"; "-" for empty.
std::string WhenText(std::string_view iso);
// Prints rows as an aligned table with a header line; cells are made TerminalSafe.
void PrintTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
// `text` with control characters shown as \xNN: what reaches a terminal from stored data (an
// eventId with ESC sequences, say) cannot drive it.
std::string TerminalSafe(std::string_view text);
// A JSON scalar as plain, terminal-safe text ("-" for null).
std::string Text(const boost::json::value& v);

}  // namespace relay::cli
