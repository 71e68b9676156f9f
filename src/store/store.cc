#include "store/store.h"

#include <future>

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace relay::store {

StatusOr<AppendResult> IngestStore::Append(NewEvent event, std::vector<NewTrigger> triggers) {
  std::promise<StatusOr<AppendResult>> p;
  auto f = p.get_future();
  AppendAsync(std::move(event), std::move(triggers), [&p](StatusOr<AppendResult> r) { p.set_value(std::move(r)); });
  return f.get();
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
