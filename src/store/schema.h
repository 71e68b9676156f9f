#pragma once
// The SQLite schema and its versioned migrations. See docs/schema.md for the tables.

#include <string>
#include <vector>

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

// The migrations, in order (SQLite's: index 0 is version 1). Released entries are frozen
// literal texts (store_conformance_test.cc pins their SHA-256); a change is a new entry.
const std::vector<std::string>& SqliteMigrations();

// The migrations both dialects share in spirit, each dialect's own frozen text:
// the start-range model (docs/schema.md, "Starts"): SQLite's 5, PostgreSQL's 2;
extern const char* const kSqliteStartsMigration;
extern const char* const kPostgresStartsMigration;
// event sources, run outcomes, verification and reconciliation watermarks: SQLite's 6, and
// PostgreSQL's 4 with its retl_relay_append after it;
extern const char* const kRunsMigration;
// fan-in progress, the runs of fan-in triggers, alerts and alert sinks: SQLite's 7, PostgreSQL's 5.
extern const char* const kSqliteAlertsMigration;
extern const char* const kPostgresAlertsMigration;

// Writes nothing: OK when the database has exactly this build's schema, else SchemaProblem's
// FailedPrecondition (no schema yet, older, newer).
Status CheckSchema(Db& db);

}  // namespace relay::store
