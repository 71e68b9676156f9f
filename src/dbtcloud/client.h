#pragma once
// Client: the two dbt Cloud Admin API v2 endpoints the relay reads (spec §8.2, §8.3 in
// ../shared/spec/dbt-cloud-webhooks.md): the runs list, for reconciliation, and Retrieve Run,
// to confirm a webhook's run. An interface so the reconciler and the verifier are tested
// against an in-memory fake. Implementations are safe for concurrent use; every method blocks
// on the network, so call them from worker threads only.
//
// Outcomes map onto a Status as httpc/http_call.h says (401 → Unauthenticated, 404 →
// NotFound, 429 → ResourceExhausted with Retry-After, 5xx → Unavailable, …); an answer that
// is not the documented JSON is Unavailable (a proxy's error page, say). Deciding what is
// retried belongs to common/retry.h.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace relay::dbtcloud {

// A run as the Admin API describes it (the fields the relay uses).
struct Run {
  int64_t id = 0;
  int64_t account_id = 0;
  int64_t job_id = 0;  // job_definition_id
  std::optional<int64_t> project_id, environment_id;
  int status = 0;  // 1 queued, 2 starting, 3 running, 10 success, 20 error, 30 cancelled
  std::string status_humanized;
  bool is_complete = false;
  std::string finished_at;  // as the API writes it, e.g. "2026-11-30 10:20:30.123456+00:00"
  std::optional<TimePoint> finished;  // parsed; nullopt while the run has not finished
  std::string job_name;
  std::string href;  // the run's page in dbt Cloud
};

// One page of GET /api/v2/accounts/{account}/runs/, newest finished first
// (order_by=-finished_at). Exactly one of the three filters is set, or none (the account).
struct RunsQuery {
  std::optional<int64_t> job_id, project_id, environment_id;
  int limit = 100;
  int offset = 0;
};

class Client {
 public:
  virtual ~Client() = default;
  // At most query.limit runs, whatever the answer holds; runs that are not valid (a status
  // past int, say) are left out.
  virtual StatusOr<std::vector<Run>> ListRuns(const RunsQuery& query) = 0;
  // GET /api/v2/accounts/{account}/runs/{run_id}/. An answer about another run, or one that is
  // not a valid run, is Unavailable.
  virtual StatusOr<Run> GetRun(int64_t run_id) = 0;
};

struct HttpClientOptions {
  std::string api_base;  // "https://cloud.getdbt.com" or "http://127.0.0.1:PORT"
  std::string account_id;
  std::string token;  // never logged or put in error messages
  Duration connect_timeout = std::chrono::seconds(10);
  Duration request_timeout = std::chrono::seconds(30);
  const std::atomic<bool>* abort = nullptr;
};

// The libcurl implementation. Every call is counted in retl_relay_dbt_cloud_requests_total by
// endpoint ("runs_list", "run") and result ("200", "401", "429", "5xx", "error", …).
std::unique_ptr<Client> NewHttpClient(HttpClientOptions options);

// Parses one run object (exposed for tests and the fake); InvalidArgument when it is not one.
StatusOr<Run> ParseRunJson(std::string_view object_json);

}  // namespace relay::dbtcloud
