#pragma once
// Test helpers for black-box tests of the real binary: child processes, port files, and HTTP
// calls over loopback.

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace relay::testing {

// A child process running `argv` with extra environment variables; stdout/stderr go to
// `log_path`. Killed (SIGKILL) on destruction if still running.
class Process {
 public:
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env, std::string log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `sig` and waits for the exit; returns the exit status (or 128+signal).
  int Stop(int sig = SIGTERM, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits for a normal exit without sending anything; -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
};

// Waits until `path` holds a port number; returns 0 on timeout.
int WaitForPortFile(const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(10));

struct HttpResult {
  long status = 0;  // 0 when the request failed
  std::string body;
  std::string headers;  // the raw header lines of the answer(s)
};
HttpResult HttpCall(const std::string& method, const std::string& url, const std::string& body = "",
                    const std::vector<std::string>& headers = {});

// Runs the binary to completion with `args`, extra environment and optional standard input.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                         const std::string& stdin_data = "");

// Polls `predicate` every 20 ms until it holds or `timeout` passes.
template <typename F>
bool Eventually(F predicate, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The retl-relay binary under test.
inline std::string RelayBinary() { return RELAY_BINARY; }

// The value of one series ("name{labels}") in a Prometheus text exposition, or -1 when absent.
double MetricValue(const std::string& text, const std::string& series);

}  // namespace relay::testing

#include "process_inl.h"
