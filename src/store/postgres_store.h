#pragma once
// The PostgreSQL Store (libpq), for several relay instances on one database: the database is
// the only shared state. A few writer threads, each with its own connection, batch queued work
// into transactions (group commit, synchronous_commit on); connections are claimed with
// SELECT … FOR UPDATE SKIP LOCKED under leases, so any instance can take over a connection whose
// owner died. Migrations run at open under an advisory lock. A lost connection is re-established by
// the next piece of work that needs it.

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace relay::store {

// `url` is a libpq connection URI ("postgresql://user@host:5432/db"). Fails with Unavailable
// when the server cannot be reached or migrated.
StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, OpenOptions options = {});

// The migrations, in order (index 0 is version 1). Released entries are frozen literal texts
// (store_conformance_test.cc pins their SHA-256); a change is a new entry.
const std::vector<std::string>& PostgresMigrations();

}  // namespace relay::store
