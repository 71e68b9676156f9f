#include <iostream>

#include "cli/commands.h"
#include "config/config_loader.h"

namespace relay::cli {
namespace {

std::string Join(const std::vector<int64_t>& v) {
  if (v.empty()) return "any";
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out;
}

std::string Outcomes(const std::vector<int>& codes) {
  std::string out;
  for (size_t i = 0; i < codes.size(); ++i) {
    out += i ? ", " : "";
    out += codes[i] == 10 ? "success" : codes[i] == 20 ? "error" : "cancelled";
  }
  return out;
}

int CheckConfig(const std::string& path) {
  auto env = config::ProcessEnv();
  StatusOr<config::Config> c = path.empty() ? config::ConfigFromEnvironment(env) : config::LoadConfigFile(path, env);
  if (!c.ok()) {
    std::cerr << "error: " << c.status().message() << "\n";
    return kExitFailure;
  }
  std::vector<std::string> problems = config::ServeProblems(*c);
  for (const std::string& w : c->warnings) std::cerr << "warning: " << w << "\n";
  std::cout << "config: " << c->source << "\n"
            << "listen: " << c->server.listen << "\n"
            << "store: " << c->store.url << "\n"
            << "rudderstack: " << config::ApiBase(c->rudderstack) << " (token "
            << (c->rudderstack.token.empty() ? "missing" : "set, redacted") << ")\n"
            << "dbt webhook secrets: " << c->dbt.webhook_secrets.size() << " (redacted)"
            << (c->dbt.allow_unsigned ? ", allow_unsigned = true" : "") << "\n"
            << "routes:\n";
  for (const config::Route& r : c->routes) {
    std::cout << "  - " << r.name << ": on " << Outcomes(r.on_status_codes) << "; jobs " << Join(r.job_ids)
              << "; projects " << Join(r.project_ids) << "; environments " << Join(r.environment_ids)
              << "; accounts " << Join(r.account_ids) << "\n    → ";
    for (size_t i = 0; i < r.connections.size(); ++i) std::cout << (i ? ", " : "") << r.connections[i];
    std::cout << " (" << config::SyncTypeName(r.sync_type) << ", if_running = " << config::IfRunningName(r.if_running)
              << ")\n";
  }
  for (const std::string& p : problems) std::cerr << "error: " << p << "\n";
  return problems.empty() ? kExitOk : kExitFailure;
}

}  // namespace

Runner SetupCheckConfig(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  app.add_option("-c,--config", *path, "TOML config file (default: zero-config mode from the environment)");
  return [path] { return CheckConfig(*path); };
}

}  // namespace relay::cli
