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

}  // namespace relay::store
