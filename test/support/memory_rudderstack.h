#pragma once
// An in-memory RudderStack RETL API on a FakeClock, for deterministic dispatcher tests: syncs
// run for `sync_duration` and end with `outcome`; 409 while one runs; external syncs; scripted
// faults, optionally "performed" (the start happens, the answer is an error).

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "rudderstack/client.h"

namespace relay::testing {

class MemoryRudderstack : public rudderstack::Client {
 public:
  explicit MemoryRudderstack(Clock& clock) : clock_(clock) {}

  Duration sync_duration = std::chrono::minutes(5);
  std::string outcome = "succeeded";
  // Runs at the start of every stop call, before it takes effect (to inspect what the caller
  // committed before acting).
  std::function<void()> before_stop;

  struct Fault {
    std::string endpoint;  // start | stop | list | get
    Status status;
    bool perform = false;
  };
  void Fail(std::string endpoint, Status status, bool perform = false) {
    std::lock_guard<std::mutex> lock(mu_);
    faults_.push_back({std::move(endpoint), std::move(status), perform});
  }

  void ClearFaults() {
    std::lock_guard<std::mutex> lock(mu_);
    faults_.clear();
  }

  // A sync started outside the relay (schedule, dashboard); returns its id.
  std::string StartExternal(const std::string& connection, Duration duration) {
    std::lock_guard<std::mutex> lock(mu_);
    return Create(connection, "incremental", duration).id;
  }

  struct Call {
    std::string endpoint, connection_id, detail;  // detail: sync type, status filter or sync id
    bool performed = false;
  };
  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // Starts that really created a sync (whatever was answered).
  int performed_starts() const {
    int n = 0;
    for (const auto& c : calls()) n += c.endpoint == "start" && c.performed;
    return n;
  }
  int count(const std::string& endpoint) const {
    int n = 0;
    for (const auto& c : calls()) n += c.endpoint == endpoint;
    return n;
  }

  // rudderstack::Client
  StatusOr<std::string> StartSync(const std::string& connection_id, const std::string& sync_type,
                                  rudderstack::CallMeta* meta) override {
    std::lock_guard<std::mutex> lock(mu_);
    Answer(meta);
    auto fault = TakeFault("start");
    const bool run = !fault || fault->perform;
    calls_.push_back({"start", connection_id, sync_type, run && Running(connection_id) == nullptr});
    if (run && Running(connection_id) != nullptr) {
      if (!fault) return Status(StatusCode::kConflict, "HTTP 409 already running");
      calls_.back().performed = false;
    } else if (run) {
      std::string id = Create(connection_id, sync_type, sync_duration).id;
      if (!fault) return id;
    }
    return fault->status;
  }

  Status StopSync(const std::string& connection_id, rudderstack::CallMeta* meta) override {
    if (before_stop) before_stop();
    std::lock_guard<std::mutex> lock(mu_);
    Answer(meta);
    calls_.push_back({"stop", connection_id, "", true});
    if (auto fault = TakeFault("stop")) return fault->status;
    if (Sync* s = Running(connection_id)) {
      s->end = clock_.Now();
      s->final_status = "failed";
      s->error = "stopped";
    }
    return Status::Ok();
  }

  StatusOr<std::vector<rudderstack::SyncInfo>> ListSyncs(const std::string& connection_id, const std::string& status,
                                                         int per_page, rudderstack::CallMeta* meta) override {
    std::lock_guard<std::mutex> lock(mu_);
    Answer(meta);
    calls_.push_back({"list", connection_id, status, true});
    if (auto fault = TakeFault("list")) return fault->status;
    std::vector<rudderstack::SyncInfo> out;
    auto& all = syncs_[connection_id];
    for (auto it = all.rbegin(); it != all.rend() && static_cast<int>(out.size()) < per_page; ++it) {
      rudderstack::SyncInfo info = Info(*it);
      if (status.empty() || info.status == status) out.push_back(info);
    }
    return out;
  }

  StatusOr<rudderstack::SyncInfo> GetSync(const std::string& connection_id, const std::string& sync_id,
                                          rudderstack::CallMeta* meta) override {
    std::lock_guard<std::mutex> lock(mu_);
    Answer(meta);
    calls_.push_back({"get", connection_id, sync_id, true});
    if (auto fault = TakeFault("get")) return fault->status;
    for (const Sync& s : syncs_[connection_id]) {
      if (s.id == sync_id) return Info(s);
    }
    return Status(StatusCode::kNotFound, "HTTP 404 sync not found");
  }

 private:
  struct Sync {
    std::string id, sync_type;
    TimePoint start, end;
    std::string final_status, error;
  };

  void Answer(rudderstack::CallMeta* meta) {
    if (meta) *meta = {200, 1};
  }
  std::optional<Fault> TakeFault(const std::string& endpoint) {
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if (it->endpoint == endpoint) {
        Fault f = *it;
        faults_.erase(it);
        return f;
      }
    }
    return std::nullopt;
  }
  Sync* Running(const std::string& connection) {
    for (Sync& s : syncs_[connection]) {
      if (clock_.Now() < s.end) return &s;
    }
    return nullptr;
  }
  Sync& Create(const std::string& connection, const std::string& type, Duration duration) {
    TimePoint now = clock_.Now();
    syncs_[connection].push_back({"sync_" + std::to_string(++next_id_), type, now, now + duration, outcome,
                                  outcome == "failed" ? "destination rejected 3 records" : ""});
    return syncs_[connection].back();
  }
  rudderstack::SyncInfo Info(const Sync& s) const {
    rudderstack::SyncInfo info;
    info.id = s.id;
    const bool done = clock_.Now() >= s.end;
    info.status = done ? s.final_status : "running";
    info.started_at = FormatIso8601(s.start);
    if (done) info.finished_at = FormatIso8601(s.end);
    if (done && s.final_status == "failed") info.error = s.error;
    info.succeeded = done ? 40 : 0;
    info.failed = done && s.final_status == "failed" ? 3 : 0;
    info.changed = done ? 43 : 0;
    info.total = done ? 43 : 0;
    return info;
  }

  Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<Sync>> syncs_;
  std::deque<Fault> faults_;
  std::vector<Call> calls_;
  int next_id_ = 0;
};

}  // namespace relay::testing
