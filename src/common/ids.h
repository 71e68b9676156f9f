#pragma once
// The shapes of the identifiers the relay accepts from outside, defined once. Every entry point
// (config, CLI, admin API, webhook parser) checks with these, and RudderStack URLs are built
// only from ids that pass CheckRudderstackId, so no input can steer a call to another path.

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace relay {

// RudderStack connection and sync ids are alphanumeric; '_' and '-' are allowed as well.
inline constexpr size_t kMaxRudderstackIdBytes = 128;
// dbt's text identifiers (eventId, eventType, webhookId) and other free-form ids.
inline constexpr size_t kMaxIdentifierBytes = 256;

// OK for 1..kMaxRudderstackIdBytes characters of [A-Za-z0-9_-]; otherwise InvalidArgument
// "FIELD: …" saying what is wrong (the id itself is not echoed: it may be anything).
Status CheckRudderstackId(std::string_view id, std::string_view field);
bool IsRudderstackId(std::string_view id);

// OK for 1..kMaxIdentifierBytes bytes of valid UTF-8 without control characters (below 0x20, and 0x7F), so a
// stored id can be printed on a terminal and padded in a table; otherwise InvalidArgument.
Status CheckIdentifier(std::string_view id, std::string_view field);

}  // namespace relay
