#pragma once
// The SQLite schema and its versioned migrations. See docs/schema.md for the tables.

#include "common/status.h"
#include "store/sqlite_db.h"

namespace relay::store {

// The schema version this build writes.
int LatestSchemaVersion();

// Brings the database to LatestSchemaVersion(), one migration per transaction. Fails with
// FailedPrecondition when the file was written by a newer build.
Status ApplyMigrations(Db& db);

}  // namespace relay::store
