#include "cli/commands.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "common/log.h"

namespace relay::cli {

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"serve", "Receive dbt Cloud webhooks and start RudderStack Reverse ETL syncs", SetupServe,
       "  retl-relay serve --config /etc/retl-relay/relay.toml\n"
       "  RUDDERSTACK_API_TOKEN=… RETL_CONNECTION_ID=2abc… DBT_WEBHOOK_SECRET=… retl-relay serve"},
      {"lambda", "Serve as an AWS Lambda function (the Runtime API loop; PostgreSQL store)", SetupLambda,
       "  AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 retl-relay lambda --config /etc/retl-relay/relay.toml"},
      {"doctor", "Check a deployment before dbt sends to it: config, store, token, connections, listen address",
       SetupDoctor, "  retl-relay doctor --config /etc/retl-relay/relay.toml\n  retl-relay doctor --json"},
      {"probe", "GET the running relay's /healthz (or another URL); exit 0 on 2xx (container health checks)",
       SetupProbe, "  retl-relay probe\n  retl-relay probe http://127.0.0.1:8080/readyz"},
      {"sandbox", "The relay plus a fake RudderStack on loopback, to see the whole flow", SetupSandbox,
       "  retl-relay sandbox\n  retl-relay sandbox --listen 127.0.0.1:9000"},
      {"check-config", "Validate a config exactly as serve does; print the resolved routes (secrets redacted)",
       SetupCheckConfig, "  retl-relay check-config --config relay.toml\n  retl-relay check-config --config relay.toml --json"},
      {"explain", "Show which routes a dbt payload matches, field by field (no side effects)", SetupExplain,
       "  retl-relay explain --config relay.toml payload.json\n  retl-relay explain --config relay.toml - < payload.json"},
      {"send-test", "Sign and send a dbt-shaped test webhook, as dbt Cloud does", SetupSendTest,
       "  DBT_WEBHOOK_SECRET=… retl-relay send-test --url http://127.0.0.1:8080/webhooks/dbt --job-id 123\n"
       "  DBT_WEBHOOK_SECRET=… retl-relay send-test --url http://127.0.0.1:8080/webhooks/dbt --status error"},
      {"status", "Per connection: phase, running sync, pending triggers, last outcome", SetupStatus,
       "  retl-relay status --config relay.toml\n  retl-relay status --store sqlite:///var/lib/retl-relay/relay.db --json"},
      {"events", "Recent dbt events with their triggers", SetupEvents,
       "  retl-relay events --config relay.toml --job-id 123\n"
       "  retl-relay events --config relay.toml --since 2026-11-27T00:00:00Z --limit 50"},
      {"event", "One event's audit trail: triggers, RudderStack calls, sync, outcome", SetupEvent,
       "  retl-relay event --config relay.toml wev_2L6ZDoilyiWzKkSA59Gmc2d7FDD"},
      {"replay", "Route a stored event again, creating new triggers", SetupReplay,
       "  retl-relay replay --config relay.toml wev_2L6ZDoilyiWzKkSA59Gmc2d7FDD"},
      {"dead", "Triggers that were given up on, with the reason", SetupDead,
       "  retl-relay dead --config relay.toml\n  retl-relay dead --config relay.toml --json"},
      {"retry", "Put dead triggers back in the queue", SetupRetry,
       "  retl-relay retry --config relay.toml 42 43\n  retl-relay retry --config relay.toml --all-dead"},
      {"trigger", "Queue a manual sync of a connection (coalescing and 409 policy apply)", SetupTrigger,
       "  retl-relay trigger --config relay.toml 2abc…\n  retl-relay trigger --config relay.toml 2abc… --full --wait"},
      {"syncs", "List a connection's syncs from RudderStack", SetupSyncs,
       "  retl-relay syncs --config relay.toml 2abc…\n  retl-relay syncs --config relay.toml 2abc… --status running"},
      {"sync", "Show one sync from RudderStack", SetupSync, "  retl-relay sync --config relay.toml 2abc… 2Nq…"},
      {"stop", "Ask RudderStack to stop a connection's running sync", SetupStop,
       "  retl-relay stop --config relay.toml 2abc…"},
      {"prune", "Remove events, final triggers, finished syncs and attempts older than a duration", SetupPrune,
       "  retl-relay prune --config relay.toml --older-than 90d --dry-run\n"
       "  retl-relay prune --config relay.toml --older-than 30d"},
      {"reconcile", "Compare dbt Cloud's runs list with the events stored; store the missed runs (one pass)",
       SetupReconcile, "  retl-relay reconcile --config relay.toml --once\n  retl-relay reconcile --config relay.toml --once --json"},
      {"send-test-alert", "Send a test message to every [[alert]] sink and print each answer", SetupSendTestAlert,
       "  retl-relay send-test-alert --config relay.toml"},
      {"fake-rudderstack", "Run a fake RudderStack RETL API on loopback (tests, demos)", SetupFake,
       "  RUDDERSTACK_API_TOKEN=t retl-relay fake-rudderstack --listen 127.0.0.1:9090"},
      {"fake-dbt-cloud", "Run a fake dbt Cloud Admin API (runs list, Retrieve Run) on loopback (tests, demos)",
       SetupFakeDbtCloud, "  DBT_CLOUD_API_TOKEN=t retl-relay fake-dbt-cloud --listen 127.0.0.1:9091 --account-id 1"},
      {"fake-alert-sink", "Run a fake alert sink (records POSTs; /_fake/received, /_fake/faults) on loopback", SetupFakeAlertSink,
       "  retl-relay fake-alert-sink --listen 127.0.0.1:9092"},
  };
  return kCommands;
}

namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string ClosestCommand(std::string_view word) {
  std::string best;
  size_t best_distance = 4;  // more than 3 edits away is no suggestion
  for (const Command& c : Commands()) {
    const std::string_view name = c.name;
    // A prefix ("dea" for "dead") counts as close.
    const size_t d = name.starts_with(word) && !word.empty() ? 1 : EditDistance(word, name);
    if (d < best_distance) {
      best_distance = d;
      best = c.name;
    }
  }
  return best;
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
  // The name is fixed: usage lines say "retl-relay", not the path the binary was run by.
  CLI::App app{"retl-relay: start RudderStack Reverse ETL syncs when dbt Cloud jobs finish", "retl-relay"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "retl-relay 0.1.0");
  app.footer("Run 'retl-relay help COMMAND' or 'retl-relay COMMAND --help' for a command's options and examples.");
  Runner selected;
  std::vector<std::pair<CLI::App*, Runner>> runners;
  for (const Command& c : Commands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    sub->footer(std::string("Examples:\n") + c.examples);
    runners.emplace_back(sub, c.setup(*sub));
  }
  // A first word that is no option and no command: say so, with the closest command.
  if (argc >= 2 && argv[1][0] != '-') {
    const std::string_view word = argv[1];
    if (word == "help") {
      if (argc == 2) {
        std::cout << app.help();
        return kExitOk;
      }
      for (auto& [sub, run] : runners) {
        if (sub->get_name() == argv[2]) {
          // As `retl-relay COMMAND --help`, so that the usage line names the whole command.
          try {
            app.parse(std::vector<std::string>{"--help", argv[2]});  // CLI11 takes them reversed
          } catch (const CLI::ParseError& e) {
            return app.exit(e) == 0 ? kExitOk : kExitUsage;
          }
          return kExitOk;
        }
      }
      std::cerr << "error: unknown command '" << argv[2] << "'";
      if (std::string near = ClosestCommand(argv[2]); !near.empty()) std::cerr << "; did you mean '" << near << "'?";
      std::cerr << "\n(retl-relay --help lists the commands)\n";
      return kExitUsage;
    }
    const bool known = std::any_of(Commands().begin(), Commands().end(), [&](const Command& c) { return word == c.name; });
    if (!known) {
      std::cerr << "error: unknown command '" << word << "'";
      if (std::string near = ClosestCommand(word); !near.empty()) std::cerr << "; did you mean '" << near << "'?";
      std::cerr << "\n(retl-relay --help lists the commands)\n";
      return kExitUsage;
    }
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

std::string LocalUrl(const std::string& listen, std::string_view path) {
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  return "http://" + host + (colon == std::string::npos ? "" : listen.substr(colon)) + std::string(path);
}

}  // namespace relay::cli
