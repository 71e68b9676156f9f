#pragma once
// The libcurl implementation of Client. Blocking: call it from dispatcher threads only.
// Each calling thread keeps its own curl handle, so connections to the API are reused.

#include <atomic>
#include <memory>
#include <string>

#include "rudderstack/client.h"

namespace relay::rudderstack {

struct HttpClientOptions {
  std::string api_base;  // "https://api.rudderstack.com" or "http://127.0.0.1:PORT"
  std::string token;     // Bearer token; never logged or put in error messages
  Duration connect_timeout = std::chrono::seconds(10);
  Duration request_timeout = std::chrono::seconds(30);
  // When set and true, a call in progress is abandoned within about a second (shutdown). It
  // then fails like a dropped connection: ambiguous, recovered by the connection machine.
  const std::atomic<bool>* abort = nullptr;
};

std::unique_ptr<Client> NewHttpClient(HttpClientOptions options);

// Parses the JSON of a sync object; InvalidArgument when it is not one. Exposed for tests.
StatusOr<SyncInfo> ParseSyncJson(std::string_view body);

}  // namespace relay::rudderstack
