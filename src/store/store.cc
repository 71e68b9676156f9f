#include "store/store.h"

#include <future>

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace relay::store {

StatusOr<AppendResult> Store::Append(NewEvent event, std::vector<NewTrigger> triggers) {
  std::promise<StatusOr<AppendResult>> p;
  auto f = p.get_future();
  AppendAsync(std::move(event), std::move(triggers), [&p](StatusOr<AppendResult> r) { p.set_value(std::move(r)); });
  return f.get();
}

static_assert(sizeof(ClaimedTrigger) == 24, "store.h promises 24 bytes: a burst claims thousands");

StatusOr<ClaimedTrigger> MakeClaimedTrigger(int64_t id, TimePoint created_at, std::string_view state,
                                            std::string_view sync_type, std::string_view if_running) {
  ClaimedTrigger t;
  t.id = id;
  t.created_at = created_at;
  if (state == kPending) t.state = ClaimedTrigger::State::kPending;
  else if (state == kStarting) t.state = ClaimedTrigger::State::kStarting;
  else if (state == kRunning) t.state = ClaimedTrigger::State::kRunning;
  else return InternalError("trigger " + std::to_string(id) + ": unexpected state in a claim: " + std::string(state));
  if (sync_type == config::SyncTypeName(config::SyncType::kFull)) t.sync_type = config::SyncType::kFull;
  else if (sync_type != config::SyncTypeName(config::SyncType::kIncremental))
    return InternalError("trigger " + std::to_string(id) + ": unknown sync type: " + std::string(sync_type));
  for (config::IfRunning p : {config::IfRunning::kQueue, config::IfRunning::kSkip, config::IfRunning::kRestart}) {
    if (if_running == config::IfRunningName(p)) {
      t.if_running = p;
      return t;
    }
  }
  return InternalError("trigger " + std::to_string(id) + ": unknown if_running policy: " + std::string(if_running));
}

Status SchemaProblem(int found, int latest) {
  if (found == latest) return Status::Ok();
  if (found < 0) {
    return Status(StatusCode::kFailedPrecondition,
                  "the database holds no retl-relay schema (start `retl-relay serve` on it once to create it)");
  }
  if (found < latest) {
    return Status(StatusCode::kFailedPrecondition,
                  "database schema version " + std::to_string(found) + " is older than this build's " +
                      std::to_string(latest) + ": start this build's `retl-relay serve` once to migrate it");
  }
  return Status(StatusCode::kFailedPrecondition, "database schema version " + std::to_string(found) +
                                                     " is newer than this build's " + std::to_string(latest));
}

StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url, OpenOptions options) {
  if (url.starts_with("sqlite://")) return OpenSqliteStore(url.substr(9), options);
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) return OpenPostgresStore(url, options);
  return InvalidArgumentError("store.url: unsupported store URL (use sqlite://PATH or postgresql://…)");
}

}  // namespace relay::store
