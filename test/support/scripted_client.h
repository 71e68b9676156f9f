#pragma once
// A rudderstack::Client whose StartSync answers come from a script, recording each call.

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "rudderstack/client.h"

namespace relay::testing {

class ScriptedClient : public rudderstack::Client {
 public:
  struct Call {
    std::string connection_id;
    std::string sync_type;
  };
  // Queues the answer to the next StartSync: a sync id, or an error.
  void Then(StatusOr<std::string> answer) { script_.push_back(std::move(answer)); }
  const std::vector<Call>& starts() const { return starts_; }

  StatusOr<std::string> StartSync(const std::string& connection_id, const std::string& sync_type,
                                  rudderstack::CallMeta* meta) override {
    std::lock_guard<std::mutex> lock(mu_);
    starts_.push_back({connection_id, sync_type});
    if (meta) *meta = {200, 1};
    if (script_.empty()) return std::string("sync_" + std::to_string(starts_.size()));
    StatusOr<std::string> next = script_.front();
    script_.pop_front();
    if (meta && !next.ok()) meta->http_status = 500;
    return next;
  }
  Status StopSync(const std::string&, rudderstack::CallMeta*) override { return Status::Ok(); }
  StatusOr<std::vector<rudderstack::SyncInfo>> ListSyncs(const std::string&, const std::string&, int,
                                                         rudderstack::CallMeta*) override {
    return std::vector<rudderstack::SyncInfo>{};
  }
  StatusOr<rudderstack::SyncInfo> GetSync(const std::string&, const std::string&, rudderstack::CallMeta*) override {
    return Status(StatusCode::kNotFound, "not scripted");
  }

 private:
  std::mutex mu_;
  std::deque<StatusOr<std::string>> script_;
  std::vector<Call> starts_;
};

}  // namespace relay::testing
