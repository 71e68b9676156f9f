#pragma once
// Builds dbt Cloud-shaped webhook bodies (the same fields and types as the spec's examples), for
// `send-test`, tests and benchmarks. No I/O.

#include <cstdint>
#include <random>
#include <string>

namespace relay::dbt {

struct PayloadSpec {
  std::string event_type = "job.run.completed";  // or job.run.errored, job.run.started
  int run_status_code = 10;                       // 10 success, 20 error, 30 cancelled, 3 running
  std::string event_id;                           // empty: a fresh random "wev_…" id
  int64_t account_id = 1;
  std::string job_id = "123";
  std::string run_id;                             // empty: a fresh random id
  std::string project_id = "167194";
  std::string environment_id = "1234";
};

// Compact JSON, as dbt Cloud sends it. `rng` supplies fresh ids.
std::string BuildPayload(const PayloadSpec& spec, std::mt19937_64& rng);

}  // namespace relay::dbt
