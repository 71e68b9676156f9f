
#include <iostream>
#include <random>

#include "cli/commands.h"
#include "config/config_loader.h"
#include "dbt/payload_builder.h"
#include "dbt/signature.h"
#include "httpc/curl_api.h"

namespace relay::cli {
namespace {

struct SendTestOptions {
  std::string url = "http://127.0.0.1:8080/webhooks/dbt";
  std::string secret;
  std::string event = "completed";
  std::string status = "success";
  std::string job_id = "123";
  int64_t account_id = 1;
  std::string run_id;
  std::string event_id;
  bool print_only = false;
};

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

int SendTest(const SendTestOptions& opt, bool secret_on_command_line) {
  std::string secret = opt.secret;
  if (secret_on_command_line) {
    std::cerr << "warning: --secret on the command line is visible in the process list; prefer DBT_WEBHOOK_SECRET\n";
  } else if (const char* v = std::getenv("DBT_WEBHOOK_SECRET")) {
    secret = v;
  }
  dbt::PayloadSpec spec;
  spec.event_type = "job.run." + opt.event;
  std::string canonical;
  const std::optional<int> code = config::RunStatusCodeFor(opt.status, &canonical);
  if (!code) {
    std::cerr << "error: --status must be success, error or cancelled\n";
    return kExitUsage;
  }
  if (canonical != opt.status) std::cerr << "note: --status " << opt.status << " read as " << canonical << "\n";
  spec.run_status_code = opt.event == "started" ? 3 : *code;
  spec.job_id = opt.job_id;
  spec.account_id = opt.account_id;
  spec.run_id = opt.run_id;
  spec.event_id = opt.event_id;
  std::mt19937_64 rng(std::random_device{}());
  const std::string body = dbt::BuildPayload(spec, rng);
  if (opt.print_only) {
    std::cout << body << "\n";
    return kExitOk;
  }

  StatusOr<const httpc::CurlApi*> loaded = httpc::Curl();
  if (!loaded.ok()) {
    std::cerr << "error: " << loaded.status().message() << "\n";
    return kExitFailure;
  }
  const httpc::CurlApi* api = *loaded;
  CURL* h = api->easy_init();
  std::string answer;
  curl_slist* headers = api->slist_append(nullptr, "Content-Type: application/json");
  std::string auth;
  if (!secret.empty()) {
    auth = "Authorization: " + dbt::SignBody(body, secret);
    headers = api->slist_append(headers, auth.c_str());
  } else {
    std::cerr << "note: no secret (DBT_WEBHOOK_SECRET); sending unsigned\n";
  }
  api->easy_setopt(h, CURLOPT_URL, opt.url.c_str());
  api->easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  api->easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  api->easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  api->easy_setopt(h, CURLOPT_TIMEOUT, 15L);
  api->easy_setopt(h, CURLOPT_WRITEFUNCTION, Collect);
  api->easy_setopt(h, CURLOPT_WRITEDATA, &answer);
  CURLcode rc = api->easy_perform(h);
  long status = 0;
  api->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  api->slist_free_all(headers);
  api->easy_cleanup(h);
  if (rc != CURLE_OK) {
    std::cerr << "error: POST " << opt.url << ": " << api->easy_strerror(rc) << "\n";
    return kExitFailure;
  }
  std::cout << "HTTP " << status << " " << answer << "\n";
  return status >= 200 && status < 300 ? kExitOk : kExitFailure;
}

}  // namespace

Runner SetupSendTest(CLI::App& app) {
  auto opt = std::make_shared<SendTestOptions>();
  app.add_option("--url", opt->url, "the relay's webhook URL")->capture_default_str();
  CLI::Option* secret = app.add_option("--secret", opt->secret,
                                       "signing secret (default: $DBT_WEBHOOK_SECRET; a value here shows in ps)");
  app.add_option("--event", opt->event, "event type")
      ->check(CLI::IsMember({"completed", "errored", "started"}))
      ->capture_default_str();
  app.add_option("--status", opt->status, "run outcome: success, error or cancelled (as in the config's `on`)")
      ->capture_default_str();
  app.add_option("--job-id", opt->job_id, "dbt job id")->capture_default_str();
  app.add_option("--account-id", opt->account_id, "dbt account id")->capture_default_str();
  app.add_option("--run-id", opt->run_id, "dbt run id (default: random)");
  app.add_option("--event-id", opt->event_id, "eventId (default: random; reuse one to test deduplication)");
  app.add_flag("--print", opt->print_only, "print the payload instead of sending it");
  return [opt, secret] { return SendTest(*opt, secret->count() > 0); };
}

}  // namespace relay::cli
