// libFuzzer target: dbt webhook parsing (dbt/webhook.h) on arbitrary bytes.
// Properties: never crashes; a parsed event has the fields the router relies on; every numeric
// id is canonical (non-negative, its text the decimal form of its value, so "0555", "555" and
// 555 dedupe as one run); text ids are bounded and free of control characters.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "common/ids.h"
#include "dbt/webhook.h"

namespace {

void CheckCanonical(const relay::dbt::Id& id) {
  if (id.value < 0 || id.text != std::to_string(id.value)) std::abort();
}

void CheckCanonical(const std::optional<relay::dbt::Id>& id) {
  if (id) CheckCanonical(*id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto event = relay::dbt::ParseRunWebhook(body);
  (void)relay::dbt::IsTerminalEventType(body);
  if (!event.ok()) return 0;
  if (event->event_id.empty()) std::abort();  // a parse must yield an eventId
  CheckCanonical(event->job_id);
  CheckCanonical(event->run_id);
  CheckCanonical(event->account_id);
  CheckCanonical(event->project_id);
  CheckCanonical(event->environment_id);
  if (!relay::CheckIdentifier(event->event_id, "eventId").ok()) std::abort();
  if (!relay::CheckIdentifier(event->event_type, "eventType").ok()) std::abort();
  return 0;
}
