#pragma once
// A fake of the two dbt Cloud Admin API v2 endpoints the relay reads (dbtcloud/client.h), for
// tests and the sandbox:
//
//   GET /api/v2/accounts/{account}/runs/       ?job_definition_id= &project_id= &environment_id=
//                                              &order_by=-finished_at &limit= &offset=
//       200 {"status":{…},"data":[run…],"extra":{"pagination":{"count","total_count"}}}; runs
//       not finished first (PostgreSQL's NULLS FIRST on a descending order), then newest
//       finished first
//   GET /api/v2/accounts/{account}/runs/{id}/  200 {"status":{…},"data":run} · 404
//   401 for another token, 404 for another account, each with dbt's error envelope.
//
// Test hooks under /_fake/ (no token needed):
//   POST /_fake/runs              {"job_id":1,"status":10,"project_id":2,"environment_id":3,
//                                  "finished_ago_s":0,"id":optional} → the run; a status below
//                                  10 makes a run that has not finished
//   POST /_fake/runs/{id}/finish  {"status":10} finishes it now
//   POST /_fake/faults            {"endpoint":"list|get|any","status":429,"times":2,"retry_after":1}
//   GET  /_fake/calls             every API call: method, path, status
//   POST /_fake/reset             forget runs, calls and faults
// Thread-safe.

#include <memory>
#include <string>

#include "common/clock.h"
#include "http/server.h"

namespace relay::fake {

class FakeDbtCloud {
 public:
  FakeDbtCloud(std::string token, std::string account_id, Clock& clock);
  ~FakeDbtCloud();
  boost::asio::awaitable<http::Response> Handle(http::Request&& req);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace relay::fake
