#pragma once
// The SQLite schema and its versioned migrations. See docs/schema.md for the tables.

#include "common/status.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace relay::store {

// The schema version this build writes.
int LatestSchemaVersion();

// Brings the database to LatestSchemaVersion(), all pending migrations in one transaction (two
// processes starting together cannot apply one twice). Fails with FailedPrecondition when the
// file was written by a newer build.
Status ApplyMigrations(Db& db);

// Writes nothing: OK when the database has exactly this build's schema, else SchemaProblem's
// FailedPrecondition (no schema yet, older, newer).
Status CheckSchema(Db& db);

}  // namespace relay::store
