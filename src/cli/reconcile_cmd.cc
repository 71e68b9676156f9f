// `reconcile --once`: one reconciliation pass by hand; `fake-dbt-cloud`: the fake Admin API.

#include <boost/json.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/context.h"
#include "common/log.h"
#include "dbtcloud/client.h"
#include "fake/fake_dbt_cloud.h"
#include "reconcile/reconciler.h"
#include "reconcile/watcher.h"

namespace relay::cli {
namespace json = boost::json;
namespace {

json::value ReportJson(const reconcile::PassReport& r) {
  json::array created;
  for (const reconcile::Reconciled& c : r.created) {
    created.push_back({{"event_id", c.event_id},
                       {"job_id", c.job_id},
                       {"run_id", c.run_id},
                       {"run_status_code", c.status},
                       {"triggers", c.triggers}});
  }
  json::array truncated;
  for (const std::string& s : r.truncated) truncated.push_back(json::value(s));
  return {{"ok", r.status.ok()},
          {"error", r.status.ok() ? json::value(nullptr) : json::value(r.status.ToString())},
          {"scopes", r.scopes},
          {"new_scopes", r.new_scopes},
          {"pages", r.pages},
          {"runs_listed", r.runs_listed},
          {"in_window", r.in_window},
          {"already_recorded", r.known},
          {"created", created},
          {"truncated", truncated}};
}

int RunReconcile(const CommonOptions& common, bool once) {
  if (!once) {
    std::cerr << "error: serve reconciles every dbt_cloud.reconcile_interval by itself; pass --once to run one pass "
                 "now\n";
    return kExitUsage;
  }
  auto ctx = Context::Open(common);
  if (!ctx) return kExitFailure;
  const config::Config& cfg = ctx->config();
  if (!cfg.dbt_cloud.enabled()) {
    std::cerr << "error: no [dbt_cloud] section in the configuration (or DBT_CLOUD_ACCOUNT_ID): nothing to reconcile "
                 "with\n";
    return kExitFailure;
  }
  auto api = dbtcloud::NewHttpClient({cfg.dbt_cloud.api_base, cfg.dbt_cloud.account_id, cfg.dbt_cloud.token,
                                      std::chrono::seconds(10), cfg.dbt_cloud.request_timeout, nullptr});
  SystemClock clock;
  reconcile::Reconciler reconciler(cfg, *api, *ctx->store(), *ctx->store(), clock);
  const reconcile::PassReport report = reconciler.RunPass();
  const json::value v = ReportJson(report);
  if (common.json) {
    std::cout << json::serialize(v) << "\n";
  } else {
    std::cout << "scopes " << report.scopes << " (" << report.new_scopes << " new: watermark set), pages "
              << report.pages << ", runs listed " << report.runs_listed << ", finished in the window "
              << report.in_window << ", already recorded " << report.known << "\n";
    if (report.created.empty()) {
      std::cout << "no missed run\n";
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const reconcile::Reconciled& c : report.created) {
        rows.push_back({c.event_id, std::to_string(c.job_id), std::to_string(c.run_id), std::to_string(c.status),
                        std::to_string(c.triggers)});
      }
      std::cout << "missed runs stored (the relay's dispatcher starts their syncs):\n";
      PrintTable({"EVENT", "JOB", "RUN", "STATUS", "TRIGGERS"}, rows);
    }
    for (const std::string& s : report.truncated) {
      std::cout << "note: " << s << " has more than 2,000 finished runs within lookback; older ones are not "
                   "reconciled (shorten dbt_cloud.lookback)\n";
    }
  }
  if (!report.status.ok()) {
    std::cerr << "error: " << report.status.ToString() << "\n";
    const std::string fix = reconcile::Watcher::FixFor(report.status, cfg.dbt_cloud);
    if (!fix.empty()) std::cerr << "fix: " << fix << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

struct FakeDbtOptions {
  std::string listen = "127.0.0.1:0";
  std::string account_id = "1";
  std::string port_file;
  LogOptions log;
};

int RunFakeDbtCloud(const FakeDbtOptions& opt) {
  if (!ApplyLogOptions(opt.log)) return kExitUsage;
  const char* token = std::getenv("DBT_CLOUD_API_TOKEN");
  if (token == nullptr || *token == '\0') {
    std::cerr << "error: the fake needs a token: set DBT_CLOUD_API_TOKEN\n";
    return kExitUsage;
  }
  SystemClock clock;
  fake::FakeDbtCloud fake(token, opt.account_id, clock);
  return ServeFake("fake dbt cloud", opt.listen, opt.port_file,
                   [&fake](http::Request&& r) { return fake.Handle(std::move(r)); });
}

}  // namespace

Runner SetupReconcile(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto once = std::make_shared<bool>(false);
  AddCommonOptions(app, *common);
  app.add_flag("--once", *once, "run one pass now and print what it found (serve runs them by itself)");
  return [common, once] { return RunReconcile(*common, *once); };
}

Runner SetupFakeDbtCloud(CLI::App& app) {
  auto opt = std::make_shared<FakeDbtOptions>();
  app.add_option("--listen", opt->listen, "host:port to listen on (port 0 picks a free one)")->capture_default_str();
  app.add_option("--account-id", opt->account_id, "the account whose runs it serves")->capture_default_str();
  app.add_option("--port-file", opt->port_file, "write the bound port to this file once listening");
  AddLogOptions(app, opt->log);
  return [opt] { return RunFakeDbtCloud(*opt); };
}

}  // namespace relay::cli
