#include <boost/json.hpp>
#include <iostream>

#include "cli/commands.h"
#include "config/config_loader.h"

namespace relay::cli {
namespace {

namespace json = boost::json;

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

json::object RouteJson(const config::Route& r) {
  auto ids = [](const std::vector<int64_t>& v) {
    json::array a;
    for (int64_t x : v) a.push_back(json::value(std::to_string(x)));
    return a;
  };
  json::array on, connections;
  for (int code : r.on_status_codes) on.push_back(json::value(code == 10 ? "success" : code == 20 ? "error" : "cancelled"));
  for (const std::string& c : r.connections) connections.push_back(json::value(c));
  return {{"name", r.name},
          {"on", on},
          {"job_ids", ids(r.job_ids)},
          {"project_ids", ids(r.project_ids)},
          {"environment_ids", ids(r.environment_ids)},
          {"account_ids", ids(r.account_ids)},
          {"connections", connections},
          {"sync_type", std::string(config::SyncTypeName(r.sync_type))},
          {"if_running", std::string(config::IfRunningName(r.if_running))},
          {"after_all", ids(r.after_all)},
          {"within_s", std::chrono::duration_cast<std::chrono::seconds>(r.within).count()}};
}

json::object AlertJson(const config::AlertSink& a) {
  json::array on;
  for (const std::string& k : a.on) on.push_back(json::value(k));
  return {{"name", a.name},   {"kind", a.kind},     {"url", config::RedactedUrl(a.url)},
          {"signed", !a.secret.empty()}, {"on", on}, {"min_interval_s", a.min_interval.count() / 1000}};
}

// Exactly serve's validation (LoadOptions::for_serve), every problem at once; nothing is
// created or opened. Secrets are never printed: only whether they are set.
int CheckConfig(const std::string& path_flag, bool as_json) {
  auto env = config::ProcessEnv();
  const std::string path = config::ConfigPath(path_flag, env);
  config::LoadOptions load;
  load.for_serve = true;
  StatusOr<config::Config> c = config::LoadConfig(path, env, load);
  if (as_json) {
    json::object out{{"ok", c.ok()}, {"source", path.empty() ? "environment" : path}};
    json::array problems, warnings;
    if (!c.ok()) {
      for (const std::string& p : config::ProblemLines(c.status().message())) problems.push_back(json::value(p));
    } else {
      for (const std::string& w : c->warnings) warnings.push_back(json::value(w));
      json::array routes;
      for (const config::Route& r : c->routes) routes.push_back(RouteJson(r));
      out["listen"] = c->server.listen;
      out["store"] = config::RedactedStoreUrl(c->store.url);
      out["rudderstack"] = {{"api_base", config::ApiBase(c->rudderstack)}, {"token_set", !c->rudderstack.token.empty()}};
      out["dbt"] = {{"webhook_secrets", c->dbt.webhook_secrets.size()}, {"allow_unsigned", c->dbt.allow_unsigned}};
      out["admin_api"] = !c->admin.token.empty();
      if (c->dbt_cloud.enabled()) {
        const config::DbtCloudConfig& d = c->dbt_cloud;
        out["dbt_cloud"] = {{"api_base", d.api_base},
                            {"account_id", d.account_id},
                            {"token_set", !d.token.empty()},
                            {"reconcile_interval_s", d.reconcile_interval.count() / 1000},
                            {"lookback_s", d.lookback.count() / 1000},
                            {"verify_runs", d.verify_runs}};
      }
      out["routes"] = routes;
      json::array alerts;
      for (const config::AlertSink& a : c->alerts) alerts.push_back(AlertJson(a));
      out["alerts"] = alerts;
    }
    out["problems"] = problems;
    out["warnings"] = warnings;
    std::cout << json::serialize(out) << "\n";
    return c.ok() ? kExitOk : kExitFailure;
  }
  if (!c.ok()) {
    std::cerr << "error: " << c.status().message() << "\n";
    return kExitFailure;
  }
  for (const std::string& w : c->warnings) std::cerr << "warning: " << w << "\n";
  std::cout << "config: " << c->source << "\n"
            << "listen: " << c->server.listen << "\n"
            << "store: " << config::RedactedStoreUrl(c->store.url) << "\n"
            << "rudderstack: " << config::ApiBase(c->rudderstack) << " (token "
            << (c->rudderstack.token.empty() ? "missing" : "set, redacted") << ")\n"
            << "dbt webhook secrets: " << c->dbt.webhook_secrets.size() << " (redacted)"
            << (c->dbt.allow_unsigned ? ", allow_unsigned = true" : "") << "\n";
  if (c->dbt_cloud.enabled()) {
    const config::DbtCloudConfig& d = c->dbt_cloud;
    std::cout << "dbt cloud: " << d.api_base << " account " << d.account_id << " (token "
              << (d.token.empty() ? "missing" : "set, redacted") << "); reconcile "
              << (d.reconcile_interval.count() == 0 ? std::string("off")
                                                    : "every " + std::to_string(d.reconcile_interval.count() / 1000) +
                                                          " s, lookback " + std::to_string(d.lookback.count() / 1000) + " s")
              << "; verify_runs " << (d.verify_runs ? "on" : "off") << "\n";
  }
  std::cout << "routes:\n";
  for (const config::Route& r : c->routes) {
    std::cout << "  - " << r.name << ": on " << Outcomes(r.on_status_codes) << "; "
              << (r.fan_in() ? "after all of jobs " + Join(r.after_all) +
                                   (r.within.count() ? " within " + std::to_string(r.within.count() / 1000) + " s" : "")
                             : "jobs " + Join(r.job_ids))
              << "; projects " << Join(r.project_ids) << "; environments " << Join(r.environment_ids)
              << "; accounts " << Join(r.account_ids) << "\n    → ";
    for (size_t i = 0; i < r.connections.size(); ++i) std::cout << (i ? ", " : "") << r.connections[i];
    std::cout << " (" << config::SyncTypeName(r.sync_type) << ", if_running = " << config::IfRunningName(r.if_running)
              << ")\n";
  }
  for (const config::AlertSink& a : c->alerts) {
    std::cout << "alert " << a.name << ": " << a.kind << " " << config::RedactedUrl(a.url)
              << (a.secret.empty() ? "" : " (signed, secret redacted)") << "; on ";
    for (size_t i = 0; i < a.on.size(); ++i) std::cout << (i ? ", " : "") << a.on[i];
    std::cout << "\n";
  }
  std::cout << "ok: serve would start with this configuration\n";
  return kExitOk;
}

}  // namespace

Runner SetupCheckConfig(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  app.add_option("-c,--config", *path, kConfigHelp);
  app.add_flag("--json", *as_json, "print the result as JSON: ok, the resolved config (secrets as set/unset), problems, warnings");
  return [path, as_json] { return CheckConfig(*path, *as_json); };
}

}  // namespace relay::cli
