#pragma once
// The SQLite schema and its versioned migrations. See docs/schema.md for the tables.

#include <string>

#include "common/status.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace relay::store {

// The schema version this build writes.
int LatestSchemaVersion();

// Brings the database to LatestSchemaVersion(), all pending migrations in one transaction (two
// processes starting together cannot apply one twice). Fails with FailedPrecondition when the
// file was written by a newer build. `up_to` > 0 stops at that version (tests).
Status ApplyMigrations(Db& db, int up_to = 0);

// The migration to the start-range model (docs/schema.md, "Starts"): SQLite's 5, PostgreSQL's 2.
std::string SchemaStartsMigration(bool postgres);
// Event sources, run outcomes, verification and reconciliation watermarks: SQLite's 6,
// PostgreSQL's 4 (which also replaces retl_relay_append).
std::string SchemaRunsMigration();
// Fan-in progress, the runs of fan-in triggers, alerts and alert sinks: SQLite's 7, PostgreSQL's 5.
std::string SchemaAlertsMigration(bool postgres);

// Writes nothing: OK when the database has exactly this build's schema, else SchemaProblem's
// FailedPrecondition (no schema yet, older, newer).
Status CheckSchema(Db& db);

}  // namespace relay::store
