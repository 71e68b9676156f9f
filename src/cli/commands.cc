#include "cli/commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "common/log.h"

namespace relay::cli {

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"serve", "Receive dbt Cloud webhooks and start RudderStack Reverse ETL syncs", SetupServe},
      {"sandbox", "The relay plus a fake RudderStack on loopback, to see the whole flow", SetupSandbox},
      {"check-config", "Validate a config file and print the resolved routes (secrets redacted)", SetupCheckConfig},
      {"explain", "Show which routes a dbt payload matches, field by field (no side effects)", SetupExplain},
      {"send-test", "Sign and send a dbt-shaped test webhook, as dbt Cloud does", SetupSendTest},
      {"status", "Per connection: phase, running sync, pending triggers, last outcome", SetupStatus},
      {"events", "Recent dbt events with their triggers", SetupEvents},
      {"event", "One event's audit trail: triggers, RudderStack calls, sync, outcome", SetupEvent},
      {"replay", "Route a stored event again, creating new triggers", SetupReplay},
      {"dead", "Triggers that were given up on, with the reason", SetupDead},
      {"retry", "Put dead triggers back in the queue", SetupRetry},
      {"trigger", "Queue a manual sync of a connection (coalescing and 409 policy apply)", SetupTrigger},
      {"syncs", "List a connection's syncs from RudderStack", SetupSyncs},
      {"sync", "Show one sync from RudderStack", SetupSync},
      {"stop", "Ask RudderStack to stop a connection's running sync", SetupStop},
      {"fake-rudderstack", "Run a fake RudderStack RETL API on loopback (tests, demos)", SetupFake},
  };
  return kCommands;
}

void AddLogOptions(CLI::App& app, LogOptions& options) {
  app.add_option("--log-level", options.level, "debug | info | warn | error")->capture_default_str();
  app.add_option("--log-format", options.format, "json | text")->capture_default_str();
}

bool ApplyLogOptions(const LogOptions& options) {
  log::Level level;
  if (!log::ParseLevel(options.level, &level)) {
    std::cerr << "error: --log-level must be debug, info, warn or error\n";
    return false;
  }
  if (options.format != "json" && options.format != "text") {
    std::cerr << "error: --log-format must be json or text\n";
    return false;
  }
  log::SetLevel(level);
  log::SetFormat(options.format == "json" ? log::Format::kJson : log::Format::kText);
  return true;
}

bool WritePortFile(const std::string& path, unsigned port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

int RunCli(int argc, char** argv) {
  CLI::App app{"retl-relay: start RudderStack Reverse ETL syncs when dbt Cloud jobs finish"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "retl-relay 0.1.0");
  Runner selected;
  std::vector<std::pair<CLI::App*, Runner>> runners;
  for (const Command& c : Commands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    runners.emplace_back(sub, c.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  for (auto& [sub, run] : runners) {
    if (sub->parsed()) return run();
  }
  return kExitUsage;
}

}  // namespace relay::cli
