#pragma once
// The SQLite Store: one file, WAL, synchronous=FULL. All statements run on one writer thread
// that batches whatever work is queued into one transaction (group commit): N concurrent
// webhooks cost one fsync, not N. Each queued job runs under its own SAVEPOINT so one job's
// failure does not undo the others.

#include <memory>
#include <string>

#include "common/status.h"
#include "store/store.h"

namespace relay::store {

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, OpenOptions options = {});

// The statement behind Store::EventTriggers (?1 = event_id), for the test that checks its
// query plan searches an index instead of scanning every trigger.
extern const std::string kSqliteEventTriggersSql;

}  // namespace relay::store
