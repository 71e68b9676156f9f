#pragma once
// A fake RudderStack Reverse ETL API for tests, the Quick start and the sandbox. It implements
// the four endpoints of docs/rudderstack_api.md with their documented codes:
//
//   POST /v2/retl-connections/{id}/start   200 {"syncId"} · 409 while a sync runs · 401 bad token
//   POST /v2/retl-connections/{id}/stop    204 (the running sync ends as failed, "stopped")
//   GET  /v2/retl-connections/{id}/syncs   200 {"syncs":[…],"paging":{…}} (?status=, ?per_page=)
//   GET  /v2/retl-connections/{id}/syncs/{syncId}   200 sync object · 404
//   any of them for a connection not in FakeOptions::connections (when set) → 404
//
// Syncs run for a configurable time, then succeed (or fail, if configured). Test hooks, under
// /_fake/ (no token needed):
//   GET  /_fake/calls               every API call received: method, path, headers, body, answer
//   POST /_fake/reset               forget calls, syncs and faults
//   POST /_fake/faults              {"endpoint":"start|stop|list|get|any","status":500,"times":2,
//                                    "retry_after":1,"latency_ms":0,"perform":false,"drop":false}
//                                    — the next `times` matching calls answer `status` (0 = the
//                                    normal answer) after `latency_ms`; with "perform" the call is
//                                    carried out first (a start really starts a sync), with "drop"
//                                    the connection is closed without an answer. Calls record
//                                    "status" (what was answered, 0 = dropped) and "real_status".
//                                    With "rate": 0.3 the fault is never used up: it hits each
//                                    matching call with that probability (seeded: --seed), and
//                                    faults are tried in the order they were added. With
//                                    "merge": {…} (and status 0) the real answer is given with
//                                    those fields laid over it (a 100 KB "error", say). With
//                                    "connection": "id" only that connection's calls match.
//   POST /_fake/connections/{id}/external   start a sync "from outside" (schedule, dashboard)
// Thread-safe; handlers never block the io thread (latency is an asynchronous timer).

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "http/server.h"

namespace relay::fake {

struct FakeOptions {
  std::string token;                                        // expected Bearer token
  Duration sync_duration = std::chrono::milliseconds(500);  // how long a sync runs
  std::string outcome = "succeeded";                        // final status: succeeded | failed
  uint64_t seed = 1;                                        // for faults with a "rate"
  // The connections that exist; others answer 404 as RudderStack does. Empty: every id exists.
  std::vector<std::string> connections;
};

class FakeRudderstack {
 public:
  FakeRudderstack(FakeOptions options, Clock& clock);
  ~FakeRudderstack();
  boost::asio::awaitable<http::Response> Handle(http::Request&& req);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace relay::fake
