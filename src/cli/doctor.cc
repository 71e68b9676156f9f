// `retl-relay doctor`: the online preflight of a deployment, before dbt Cloud sends to it. One
// line per check, with the fix when it fails; exit 0 only when every check passes.
//
//   config       loads exactly as serve does (every problem listed)
//   secret       a dbt webhook secret is set (allow_unsigned fails here, knowingly)
//   store        reachable, this build's schema (or none yet: serve creates it), writable
//   rudderstack  the token is accepted and each configured connection exists
//                (401 → the token or its role; 403 → its permissions; 404 → the id or region)
//   dbt_cloud    with [dbt_cloud]: the token reads the account's runs
//   listen       server.listen (and admin.listen) is free, or a healthy relay already holds it
//
// Nothing is created or migrated: the store is opened as the inspection commands open it.

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "common/log.h"
#include "config/config_loader.h"
#include "dbtcloud/client.h"
#include "httpc/http_call.h"
#include "rudderstack/http_client.h"
#include "store/store.h"

namespace relay::cli {
namespace {

namespace json = boost::json;

struct Check {
  std::string name;
  bool ok = false;
  std::string detail;
  std::string fix;  // when !ok
};

struct DoctorOptions {
  std::string config_path;
  std::string store_url;
  bool json = false;
};

// Calls made by doctor wait at most this long: it is run by hand, or by a deploy script.
constexpr Duration kCallTimeout = std::chrono::seconds(10);

Check Fail(std::string name, std::string detail, std::string fix) {
  return {std::move(name), false, std::move(detail), std::move(fix)};
}
Check Pass(std::string name, std::string detail) { return {std::move(name), true, std::move(detail), ""}; }

Check SecretCheck(const config::Config& c) {
  if (!c.dbt.webhook_secrets.empty()) {
    const size_t n = c.dbt.webhook_secrets.size();
    return Pass("secret", std::to_string(n) + (n == 1 ? " webhook secret" : " webhook secrets") +
                              " set: deliveries are verified (HMAC-SHA256, failing closed)");
  }
  return Fail("secret", "no webhook secret: dbt.allow_unsigned lets anyone who can reach the URL start syncs",
              "set DBT_WEBHOOK_SECRET (or dbt.webhook_secret) to the Secret Key dbt Cloud shows for the webhook");
}

// The nearest existing ancestor of `path`'s directory.
std::filesystem::path ExistingAncestor(std::filesystem::path dir) {
  std::error_code ec;
  while (!dir.empty() && !std::filesystem::exists(dir, ec) && dir != dir.root_path()) dir = dir.parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

Check StoreCheck(const std::string& url) {
  const std::string shown = config::RedactedStoreUrl(url);
  if (url.starts_with("sqlite://")) {
    const std::filesystem::path file(url.substr(9));
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
      const std::filesystem::path dir = ExistingAncestor(file.parent_path());
      if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        return Fail("store", shown + ": no database yet, and " + dir.string() + " is not writable by this user",
                    "create " + file.parent_path().string() + " writable by the relay's user, or set store.url");
      }
      return Pass("store", shown + ": no database yet; serve creates it at its first start (" + dir.string() +
                               " is writable)");
    }
  }
  auto store = store::OpenStore(url, {.create_if_missing = false, .migrate = false});
  if (!store.ok()) {
    const Status status = store.status();
    const std::string& m = status.message();
    if (status.code() == StatusCode::kFailedPrecondition && m.find("newer") == std::string::npos) {
      // No schema yet, or an older one: serve creates or migrates it at start.
      return Pass("store", shown + ": reachable; " + m);
    }
    if (status.code() == StatusCode::kFailedPrecondition) {
      return Fail("store", shown + ": " + m, "run a retl-relay at least as new as the one that last served this store");
    }
    return Fail("store", shown + ": " + m,
                url.starts_with("sqlite://")
                    ? "check the file's owner and permissions (the relay's user must read and write it)"
                    : "check the host, port, database, user and password in store.url (RETL_RELAY_STORE_URL), and "
                      "that this host can reach PostgreSQL");
  }
  if (Status s = (*store)->Ping(); !s.ok()) {
    return Fail("store", shown + ": not writable: " + s.message(),
                "give the relay's database user write access (INSERT, UPDATE, DELETE) and check free disk space");
  }
  return Pass("store", shown + ": reachable, schema current, writable");
}

std::vector<Check> RudderstackChecks(const config::Config& c) {
  const config::RudderstackConfig& rs = c.rudderstack;
  const std::string base = config::ApiBase(rs);
  std::set<std::string> ids;
  for (const config::Route& r : c.routes) ids.insert(r.connections.begin(), r.connections.end());
  auto client = rudderstack::NewHttpClient({base, rs.token, std::min(rs.connect_timeout, kCallTimeout),
                                            std::min(rs.request_timeout, kCallTimeout)});
  std::vector<Check> out;
  for (const std::string& id : ids) {
    auto syncs = client->ListSyncs(id, "", 1, nullptr);
    const std::string what = "connection " + id;
    switch (syncs.ok() ? StatusCode::kOk : syncs.status().code()) {
      case StatusCode::kOk:
        out.push_back(Pass("rudderstack", what + ": found at " + base + ", token accepted"));
        continue;
      case StatusCode::kUnauthenticated:
        // Every other connection would say the same.
        out.push_back(Fail("rudderstack", "token rejected by " + base + " (401)",
                           "use a workspace Service Access Token (Settings → Workspace → Access tokens) with Edit "
                           "and Connect on the connection's source and destination; check that RUDDERSTACK_API_TOKEN "
                           "(rudderstack.token) holds all of it and that it has not expired or been revoked"));
        return out;
      case StatusCode::kPermissionDenied:
        out.push_back(Fail("rudderstack", what + ": the token may not use it (403)",
                           "give the Service Access Token Edit and Connect on this connection's source and destination"));
        continue;
      case StatusCode::kNotFound:
        out.push_back(Fail("rudderstack", what + ": not found at " + base + " (404)",
                           "copy the id from the connection's Settings tab in RudderStack (Reverse ETL → the source → "
                           "the connection); an EU workspace needs rudderstack.region = \"eu\" (RUDDERSTACK_REGION=eu)"));
        continue;
      default:
        out.push_back(Fail("rudderstack", what + ": " + syncs.status().message(),
                           "check that this host can reach " + base + " (proxy, firewall, DNS), then run doctor again"));
        continue;
    }
  }
  return out;
}

Check DbtCloudCheck(const config::Config& c) {
  const config::DbtCloudConfig& d = c.dbt_cloud;
  auto client = dbtcloud::NewHttpClient({d.api_base, d.account_id, d.token, kCallTimeout, kCallTimeout});
  dbtcloud::RunsQuery query;
  query.limit = 1;
  auto runs = client->ListRuns(query);
  const std::string what = "account " + d.account_id + " at " + d.api_base;
  if (runs.ok()) return Pass("dbt_cloud", what + ": token accepted, runs readable");
  switch (runs.status().code()) {
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return Fail("dbt_cloud", what + ": token rejected (" + runs.status().message() + ")",
                  "use a dbt Cloud service token with Job Viewer (or Read-Only) on the account in "
                  "DBT_CLOUD_API_TOKEN (dbt_cloud.token)");
    case StatusCode::kNotFound:
      return Fail("dbt_cloud", what + ": not found (404)",
                  "check dbt_cloud.account_id and dbt_cloud.api_base (your account's Access URL, e.g. "
                  "https://emea.dbt.com or https://ACCOUNT_PREFIX.us1.dbt.com)");
    default:
      return Fail("dbt_cloud", what + ": " + runs.status().message(),
                  "check that this host can reach " + d.api_base + ", then run doctor again");
  }
}

Check ListenCheck(const std::string& key, const std::string& address) {
  boost::asio::io_context ioc;
  http::Server probe(ioc, {}, nullptr);
  StatusOr<uint16_t> port = probe.Listen(address);
  if (port.ok()) return Pass("listen", key + " " + address + ": free");
  if (port.status().code() == StatusCode::kInvalidArgument) {
    return Fail("listen", key + " " + address + ": " + port.status().message(), "use IP:port, e.g. 0.0.0.0:8080");
  }
  // Taken: by a relay (healthy?) or by something else.
  httpc::Request req;
  req.url = LocalUrl(address, "/healthz");
  req.connect_timeout = std::chrono::seconds(2);
  req.timeout = std::chrono::seconds(3);
  const httpc::Exchange ex = httpc::Perform(req);
  if (ex.status == 200 && ex.body.find("\"ok\"") != std::string::npos) {
    return Pass("listen", key + " " + address + ": in use by a healthy relay (/healthz 200)");
  }
  return Fail("listen", key + " " + address + ": in use by another program" +
                            (ex.status != 0 ? " (/healthz answered " + std::to_string(ex.status) + ")" : ""),
              "stop what listens there (ss -ltnp) or choose another " + key);
}

int Doctor(const DoctorOptions& opt) {
  // Doctor's own lines are the report; the log would repeat them as JSON.
  log::SetLevel(log::Level::kError);
  const auto env = config::ProcessEnv();
  const std::string path = config::ConfigPath(opt.config_path, env);
  const config::LoadOptions load{.for_serve = true, .listen = "", .store_url = opt.store_url};
  StatusOr<config::Config> cfg = config::LoadConfig(path, env, load);
  std::vector<Check> checks;
  std::vector<std::string> problems;
  if (!cfg.ok()) {
    checks.push_back(Fail("config", path.empty() ? "environment (zero-config mode)" : path,
                          "correct each problem below (retl-relay check-config shows them too)"));
    problems = config::ProblemLines(cfg.status().message());
  } else {
    const config::Config& c = *cfg;
    std::set<std::string> connections;
    for (const config::Route& r : c.routes) connections.insert(r.connections.begin(), r.connections.end());
    checks.push_back(Pass("config", (path.empty() ? std::string("environment (zero-config mode)") : path) + ": " +
                                        std::to_string(c.routes.size()) + " route(s), " +
                                        std::to_string(connections.size()) + " connection(s)"));
    checks.push_back(SecretCheck(c));
    checks.push_back(StoreCheck(c.store.url));
    for (Check& r : RudderstackChecks(c)) checks.push_back(std::move(r));
    if (c.dbt_cloud.enabled()) checks.push_back(DbtCloudCheck(c));
    checks.push_back(ListenCheck("server.listen", c.server.listen));
    if (!c.admin.listen.empty()) checks.push_back(ListenCheck("admin.listen", c.admin.listen));
  }
  int failed = 0;
  for (const Check& c : checks) failed += c.ok ? 0 : 1;
  if (opt.json) {
    json::array arr;
    for (const Check& c : checks) {
      json::object o{{"check", c.name}, {"ok", c.ok}, {"detail", c.detail}};
      if (!c.ok) o["fix"] = c.fix;
      arr.push_back(std::move(o));
    }
    json::array probs;
    for (const std::string& p : problems) probs.push_back(json::value(p));
    json::object out{{"ok", failed == 0}, {"checks", std::move(arr)}};
    if (!problems.empty()) out["problems"] = std::move(probs);
    if (cfg.ok() && !cfg->warnings.empty()) {
      json::array w;
      for (const std::string& s : cfg->warnings) w.push_back(json::value(s));
      out["warnings"] = std::move(w);
    }
    std::cout << json::serialize(out) << "\n";
    return failed == 0 ? kExitOk : kExitFailure;
  }
  for (const Check& c : checks) {
    std::string name = c.name;
    name.resize(12, ' ');
    std::cout << (c.ok ? "ok    " : "FAIL  ") << name << c.detail << "\n";
    if (!c.ok) std::cout << "      " << std::string(12, ' ') << "fix: " << c.fix << "\n";
  }
  for (const std::string& p : problems) std::cout << "      " << std::string(12, ' ') << "- " << p << "\n";
  if (cfg.ok()) {
    for (const std::string& w : cfg->warnings) std::cout << "warning: " << w << "\n";
  }
  if (failed == 0) {
    std::cout << "all " << checks.size() << " checks passed\n";
  } else {
    std::cout << failed << " of " << checks.size() << " checks failed"
              << (cfg.ok() ? "" : " (the others need a valid configuration first)") << "\n";
  }
  return failed == 0 ? kExitOk : kExitFailure;
}

}  // namespace

Runner SetupDoctor(CLI::App& app) {
  auto opt = std::make_shared<DoctorOptions>();
  app.add_option("-c,--config", opt->config_path, kConfigHelp);
  app.add_option("--store", opt->store_url, "store URL, overriding the config");
  app.add_flag("--json", opt->json, "print {\"ok\", \"checks\": [{\"check\", \"ok\", \"detail\", \"fix\"}]}");
  return [opt] { return Doctor(*opt); };
}

}  // namespace relay::cli
