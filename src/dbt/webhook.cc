#include "dbt/webhook.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <limits>

#include "common/ids.h"

namespace relay::dbt {
namespace json = boost::json;
namespace {

Status FieldError(std::string_view field, std::string_view problem) {
  return InvalidArgumentError(std::string(field) + ": " + std::string(problem));
}

// Digit strings and JSON integers both become int64; fractions, exponents, signs, negative
// numbers, overflow and empty strings are rejected. The text is canonical (no leading zeros):
// "555", "0555" and 555 are one id for dedupe and routing.
StatusOr<Id> ParseId(const json::value& v, std::string_view field) {
  Id id;
  if (v.is_int64()) {
    if (v.get_int64() < 0) return FieldError(field, "must not be negative");
    id.value = v.get_int64();
    id.text = std::to_string(id.value);
    return id;
  }
  if (v.is_uint64()) return FieldError(field, "integer out of range");
  if (v.is_string()) {
    const json::string& s = v.get_string();
    if (s.empty() || s.size() > 19) return FieldError(field, "not a decimal id");
    for (char c : s) {
      if (c < '0' || c > '9') return FieldError(field, "not a decimal id");
    }
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), id.value);
    if (ec != std::errc() || ptr != s.data() + s.size()) return FieldError(field, "integer out of range");
    id.text = std::to_string(id.value);
    return id;
  }
  return FieldError(field, "must be a string of digits or an integer");
}

StatusOr<Id> RequiredId(const json::object& o, std::string_view key, std::string_view field) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return FieldError(field, "missing");
  return ParseId(*v, field);
}

Status OptionalId(const json::object& o, std::string_view key, std::string_view field,
                  std::optional<Id>* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return Status::Ok();
  StatusOr<Id> id = ParseId(*v, field);
  if (!id.ok()) return id.status();
  *out = std::move(id).value();
  return Status::Ok();
}

// A required text identifier: bounded, no control characters (common/ids.h).
Status RequiredString(const json::object& o, std::string_view key, std::string* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return FieldError(key, "missing");
  if (!v->is_string() || v->get_string().empty()) return FieldError(key, "must be a non-empty string");
  std::string_view text(v->get_string().data(), v->get_string().size());
  if (Status s = CheckIdentifier(text, key); !s.ok()) return s;
  out->assign(text);
  return Status::Ok();
}

void OptionalString(const json::object& o, std::string_view key, std::string* out) {
  const json::value* v = o.if_contains(key);
  if (v != nullptr && v->is_string()) out->assign(v->get_string().data(), v->get_string().size());
}

Status ParseData(const json::object& data, RunEvent* ev) {
  StatusOr<Id> job = RequiredId(data, "jobId", "data.jobId");
  if (!job.ok()) return job.status();
  ev->job_id = std::move(job).value();
  StatusOr<Id> run = RequiredId(data, "runId", "data.runId");
  if (!run.ok()) return run.status();
  ev->run_id = std::move(run).value();
  StatusOr<Id> code = RequiredId(data, "runStatusCode", "data.runStatusCode");
  if (!code.ok()) return code.status();
  if (code->value > std::numeric_limits<int>::max()) {
    return FieldError("data.runStatusCode", "integer out of range");
  }
  ev->run_status_code = static_cast<int>(code->value);
  if (Status s = OptionalId(data, "environmentId", "data.environmentId", &ev->environment_id); !s.ok()) return s;
  if (Status s = OptionalId(data, "projectId", "data.projectId", &ev->project_id); !s.ok()) return s;
  OptionalString(data, "jobName", &ev->job_name);
  OptionalString(data, "runStatus", &ev->run_status);
  return Status::Ok();
}

}  // namespace

bool IsTerminalEventType(std::string_view event_type) {
  return event_type == kEventRunCompleted || event_type == kEventRunErrored;
}

StatusOr<RunEvent> ParseRunWebhook(std::string_view body) {
  boost::system::error_code ec;
  json::value root = json::parse(body, ec);
  if (ec) return FieldError("body", "not valid JSON (" + ec.message() + ")");
  if (!root.is_object()) return FieldError("body", "not a JSON object");
  const json::object& o = root.get_object();

  RunEvent ev;
  if (Status s = RequiredString(o, "eventId", &ev.event_id); !s.ok()) return s;
  if (Status s = RequiredString(o, "eventType", &ev.event_type); !s.ok()) return s;
  if (Status s = OptionalId(o, "accountId", "accountId", &ev.account_id); !s.ok()) return s;
  OptionalString(o, "webhookId", &ev.webhook_id);
  if (ev.webhook_id.empty()) OptionalString(o, "webhooksID", &ev.webhook_id);
  if (!ev.webhook_id.empty()) {
    if (Status s = CheckIdentifier(ev.webhook_id, "webhookId"); !s.ok()) return s;
  }
  OptionalString(o, "timestamp", &ev.timestamp);

  const json::value* data = o.if_contains("data");
  if (data == nullptr || data->is_null()) return FieldError("data", "missing");
  if (!data->is_object()) return FieldError("data", "must be an object");
  if (Status s = ParseData(data->get_object(), &ev); !s.ok()) return s;
  return ev;
}

bool RecordsOutcome(const RunEvent& ev) {
  return IsTerminalEventType(ev.event_type) &&
         (ev.run_status_code == kRunStatusSuccess || ev.run_status_code == kRunStatusError ||
          ev.run_status_code == kRunStatusCancelled);
}

}  // namespace relay::dbt
