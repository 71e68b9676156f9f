// libFuzzer target: dbt webhook parsing (dbt/webhook.h) on arbitrary bytes.
// Property: never crashes; a parsed event has the fields the router relies on.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dbt/webhook.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto event = relay::dbt::ParseRunWebhook(body);
  if (event.ok() && event->event_id.empty()) std::abort();  // a parse must yield an eventId
  (void)relay::dbt::IsTerminalEventType(body);
  return 0;
}
