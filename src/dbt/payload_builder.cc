#include "dbt/payload_builder.h"

#include "common/log.h"

namespace relay::dbt {
namespace {

std::string RandomEventId(std::mt19937_64& rng) {
  static constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string id = "wev_";
  for (int i = 0; i < 27; ++i) id += kBase62[rng() % 62];
  return id;
}

std::string StatusText(int code) {
  switch (code) {
    case 3: return "Running";
    case 10: return "Success";
    case 20: return "Errored";
    case 30: return "Cancelled";
    default: return "Unknown";
  }
}

void Field(std::string& out, const char* key, const std::string& value, bool comma = true) {
  out += "\"";
  out += key;
  out += "\":\"";
  log::AppendJsonEscaped(out, value);
  out += comma ? "\"," : "\"";
}

}  // namespace

std::string BuildPayload(const PayloadSpec& spec, std::mt19937_64& rng) {
  const std::string event_id = spec.event_id.empty() ? RandomEventId(rng) : spec.event_id;
  const std::string run_id = spec.run_id.empty() ? std::to_string(100000 + rng() % 900000000) : spec.run_id;
  std::string out = "{\"accountId\":" + std::to_string(spec.account_id) + ",";
  Field(out, "webhookId", "wsu_retlrelaytest");
  Field(out, "eventId", event_id);
  Field(out, "timestamp", "2026-01-01T00:00:00.000000000Z");
  Field(out, "eventType", spec.event_type);
  Field(out, "webhookName", "retl-relay send-test");
  out += "\"data\":{";
  Field(out, "jobId", spec.job_id);
  Field(out, "jobName", "retl-relay test job");
  Field(out, "runId", run_id);
  Field(out, "environmentId", spec.environment_id);
  Field(out, "environmentName", "Production");
  Field(out, "dbtVersion", "1.0.0");
  Field(out, "projectName", "retl-relay test project");
  Field(out, "projectId", spec.project_id);
  Field(out, "runStatus", StatusText(spec.run_status_code));
  out += "\"runStatusCode\":" + std::to_string(spec.run_status_code) + ",";
  Field(out, "runStatusMessage", "None");
  Field(out, "runReason", "Sent by retl-relay send-test");
  Field(out, "runStartedAt", "2026-01-01T00:00:00Z", spec.event_type != "job.run.started");
  if (spec.event_type == "job.run.completed") Field(out, "runFinishedAt", "2026-01-01T00:01:00Z", false);
  if (spec.event_type == "job.run.errored") Field(out, "runErroredAt", "2026-01-01T00:01:00Z", false);
  if (spec.event_type != "job.run.started" && spec.event_type != "job.run.completed" &&
      spec.event_type != "job.run.errored") {
    out.pop_back();  // no trailing field was added: drop the comma
  }
  out += "}}";
  return out;
}

}  // namespace relay::dbt
