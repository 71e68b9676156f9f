#include "store/schema.h"

#include <algorithm>
#include <string>
#include <vector>

namespace relay::store {

// Each released migration is its own literal text, frozen: never built at run time by cutting
// another one, never edited (store_conformance_test.cc pins each text's SHA-256). A change
// to the schema is a new migration.

// SQLite's 5, PostgreSQL's 2: the start-range model (docs/schema.md, "Starts").
const char* const kSqliteStartsMigration = R"sql(
      ALTER TABLE triggers ADD COLUMN conn_seq BIGINT;
      ALTER TABLE connections ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN covered BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN last_full_seq BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN last_skip_seq BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN last_queue_seq BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN last_restart_seq BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE attempts ADD COLUMN start_id BIGINT;
      CREATE TABLE starts (
        id INTEGER PRIMARY KEY,
        connection_id TEXT NOT NULL,
        seq_lo BIGINT NOT NULL,
        seq_hi BIGINT NOT NULL,
        triggers BIGINT NOT NULL,
        sync_type TEXT NOT NULL,
        policies INTEGER NOT NULL,
        state TEXT NOT NULL,
        sync_id TEXT,
        error TEXT,
        oldest_at BIGINT NOT NULL,
        attempted_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE INDEX starts_range ON starts (connection_id, seq_hi);
      CREATE INDEX starts_open ON starts (connection_id) WHERE state IN ('starting', 'queued', 'running');
      CREATE INDEX triggers_seq ON triggers (connection_id, conn_seq) WHERE conn_seq IS NOT NULL;
      CREATE INDEX triggers_unsequenced ON triggers (connection_id) WHERE conn_seq = 0;
      CREATE INDEX attempts_start ON attempts (start_id) WHERE start_id IS NOT NULL;
      UPDATE triggers SET conn_seq = r.n FROM (
        SELECT id, ROW_NUMBER() OVER (PARTITION BY connection_id
                                      ORDER BY CASE WHEN state = 'pending' THEN 1 ELSE 0 END, id) AS n
        FROM triggers WHERE state IN ('pending', 'starting', 'running')) r
        WHERE triggers.id = r.id;
      INSERT INTO starts (connection_id, seq_lo, seq_hi, triggers, sync_type, policies, state, sync_id, error,
                          oldest_at, attempted_at, created_at, updated_at)
        SELECT t.connection_id, 0, COUNT(*), COUNT(*),
               CASE WHEN MAX(CASE WHEN t.sync_type = 'full' THEN 1 ELSE 0 END) = 1 THEN 'full' ELSE 'incremental' END,
               MAX(CASE WHEN t.if_running = 'skip' THEN 1 ELSE 0 END) + MAX(CASE WHEN t.if_running = 'queue' THEN 2 ELSE 0 END)
                 + MAX(CASE WHEN t.if_running = 'restart' THEN 4 ELSE 0 END),
               CASE WHEN MAX(CASE WHEN t.state = 'running' THEN 1 ELSE 0 END) = 1 THEN 'running' ELSE 'starting' END,
               MAX(t.sync_id), NULL, MIN(t.created_at), MAX(c.start_attempted_at), MIN(t.created_at), MAX(t.updated_at)
        FROM triggers t JOIN connections c ON c.id = t.connection_id
        WHERE t.state IN ('starting', 'running') GROUP BY t.connection_id;
      UPDATE connections SET
        seq = COALESCE((SELECT MAX(t.conn_seq) FROM triggers t WHERE t.connection_id = connections.id), 0),
        covered = COALESCE((SELECT s.seq_hi FROM starts s WHERE s.connection_id = connections.id), 0),
        last_full_seq = COALESCE((SELECT MAX(t.conn_seq) FROM triggers t
                                  WHERE t.connection_id = connections.id AND t.sync_type = 'full'), 0),
        last_skip_seq = COALESCE((SELECT MAX(t.conn_seq) FROM triggers t
                                  WHERE t.connection_id = connections.id AND t.if_running = 'skip'), 0),
        last_queue_seq = COALESCE((SELECT MAX(t.conn_seq) FROM triggers t
                                   WHERE t.connection_id = connections.id AND t.if_running = 'queue'), 0),
        last_restart_seq = COALESCE((SELECT MAX(t.conn_seq) FROM triggers t
                                     WHERE t.connection_id = connections.id AND t.if_running = 'restart'), 0);
      CREATE VIEW trigger_view AS
        SELECT t.id, t.event_id, t.event_seq, t.route, t.connection_id, t.sync_type, t.if_running, t.attempts,
               t.created_at, t.next_attempt_at, t.conn_seq, s.id AS start_id,
               CASE WHEN t.conn_seq IS NULL THEN t.state
                    WHEN t.conn_seq = 0 OR s.id IS NULL OR s.state = 'queued' THEN 'pending' ELSE s.state END AS state,
               CASE WHEN t.conn_seq IS NULL THEN t.sync_id WHEN s.state = 'queued' THEN NULL ELSE s.sync_id END AS sync_id,
               CASE WHEN t.conn_seq IS NULL THEN t.last_error WHEN s.state = 'queued' THEN NULL ELSE s.error END
                 AS last_error
        FROM triggers t LEFT JOIN starts s ON s.id = (
          SELECT x.id FROM starts x WHERE x.connection_id = t.connection_id AND x.seq_hi >= t.conn_seq
          AND t.conn_seq > 0 ORDER BY x.seq_hi LIMIT 1);
)sql";
const char* const kPostgresStartsMigration = R"sql(
      ALTER TABLE triggers ADD COLUMN conn_seq BIGINT;
      ALTER TABLE connections ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN covered BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN last_full_seq BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN last_skip_seq BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN last_queue_seq BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN last_restart_seq BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE attempts ADD COLUMN start_id BIGINT;
      CREATE TABLE starts (
        id BIGSERIAL PRIMARY KEY,
        connection_id TEXT NOT NULL,
        seq_lo BIGINT NOT NULL,
        seq_hi BIGINT NOT NULL,
        triggers BIGINT NOT NULL,
        sync_type TEXT NOT NULL,
        policies INTEGER NOT NULL,
        state TEXT NOT NULL,
        sync_id TEXT,
        error TEXT,
        oldest_at BIGINT NOT NULL,
        attempted_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE INDEX starts_range ON starts (connection_id, seq_hi);
      CREATE INDEX starts_open ON starts (connection_id) WHERE state IN ('starting', 'queued', 'running');
      CREATE INDEX triggers_seq ON triggers (connection_id, conn_seq) WHERE conn_seq IS NOT NULL;
      CREATE INDEX triggers_unsequenced ON triggers (connection_id) WHERE conn_seq = 0;
      CREATE INDEX attempts_start ON attempts (start_id) WHERE start_id IS NOT NULL;
      UPDATE triggers SET conn_seq = r.n FROM (
        SELECT id, ROW_NUMBER() OVER (PARTITION BY connection_id
                                      ORDER BY CASE WHEN state = 'pending' THEN 1 ELSE 0 END, id) AS n
        FROM triggers WHERE state IN ('pending', 'starting', 'running')) r
        WHERE triggers.id = r.id;
      INSERT INTO starts (connection_id, seq_lo, seq_hi, triggers, sync_type, policies, state, sync_id, error,
                          oldest_at, attempted_at, created_at, updated_at)
        SELECT t.connection_id, 0, COUNT(*), COUNT(*),
               CASE WHEN MAX(CASE WHEN t.sync_type = 'full' THEN 1 ELSE 0 END) = 1 THEN 'full' ELSE 'incremental' END,
               MAX(CASE WHEN t.if_running = 'skip' THEN 1 ELSE 0 END) + MAX(CASE WHEN t.if_running = 'queue' THEN 2 ELSE 0 END)
                 + MAX(CASE WHEN t.if_running = 'restart' THEN 4 ELSE 0 END),
               CASE WHEN MAX(CASE WHEN t.state = 'running' THEN 1 ELSE 0 END) = 1 THEN 'running' ELSE 'starting' END,
               MAX(t.sync_id), NULL, MIN(t.created_at), MAX(c.start_attempted_at), MIN(t.created_at), MAX(t.updated_at)
        FROM triggers t JOIN connections c ON c.id = t.connection_id
        WHERE t.state IN ('starting', 'running') GROUP BY t.connection_id;
      UPDATE connections SET
        seq = COALESCE((SELECT MAX(t.conn_seq) FROM triggers t WHERE t.connection_id = connections.id), 0),
        covered = COALESCE((SELECT s.seq_hi FROM starts s WHERE s.connection_id = connections.id), 0),
        last_full_seq = COALESCE((SELECT MAX(t.conn_seq) FROM triggers t
                                  WHERE t.connection_id = connections.id AND t.sync_type = 'full'), 0),
        last_skip_seq = COALESCE((SELECT MAX(t.conn_seq) FROM triggers t
                                  WHERE t.connection_id = connections.id AND t.if_running = 'skip'), 0),
        last_queue_seq = COALESCE((SELECT MAX(t.conn_seq) FROM triggers t
                                   WHERE t.connection_id = connections.id AND t.if_running = 'queue'), 0),
        last_restart_seq = COALESCE((SELECT MAX(t.conn_seq) FROM triggers t
                                     WHERE t.connection_id = connections.id AND t.if_running = 'restart'), 0);
      CREATE VIEW trigger_view AS
        SELECT t.id, t.event_id, t.route, t.connection_id, t.sync_type, t.if_running, t.attempts,
               t.created_at, t.next_attempt_at, t.conn_seq, s.id AS start_id,
               CASE WHEN t.conn_seq IS NULL THEN t.state
                    WHEN t.conn_seq = 0 OR s.id IS NULL OR s.state = 'queued' THEN 'pending' ELSE s.state END AS state,
               CASE WHEN t.conn_seq IS NULL THEN t.sync_id WHEN s.state = 'queued' THEN NULL ELSE s.sync_id END AS sync_id,
               CASE WHEN t.conn_seq IS NULL THEN t.last_error WHEN s.state = 'queued' THEN NULL ELSE s.error END
                 AS last_error
        FROM triggers t LEFT JOIN starts s ON s.id = (
          SELECT x.id FROM starts x WHERE x.connection_id = t.connection_id AND x.seq_hi >= t.conn_seq
          AND t.conn_seq > 0 ORDER BY x.seq_hi LIMIT 1);
)sql";

// SQLite's 6; PostgreSQL's 4 adds its retl_relay_append to it. Event sources, run outcomes,
// verification and reconciliation watermarks.
const char* const kRunsMigration = R"sql(
      ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'webhook';
      ALTER TABLE events ADD COLUMN run_once INTEGER;
      ALTER TABLE events ADD COLUMN verify_state TEXT;
      ALTER TABLE events ADD COLUMN verify_note TEXT;
      ALTER TABLE events ADD COLUMN verify_next_at BIGINT;
      ALTER TABLE events ADD COLUMN verify_attempts INTEGER NOT NULL DEFAULT 0;
      CREATE UNIQUE INDEX events_run_outcome ON events (run_id, run_status_code) WHERE run_once = 1;
      CREATE INDEX events_verify ON events (verify_next_at) WHERE verify_state = 'pending';
      CREATE TABLE reconcile_watermarks (
        scope TEXT PRIMARY KEY,
        watermark BIGINT NOT NULL
      );
)sql";

// SQLite's 7, PostgreSQL's 5: fan-in progress, the runs a fan-in trigger recorded
// (trigger_view gains the column), alerts raised and each sink's delivery position. Alert ids
// never come back (SQLite: AUTOINCREMENT; PostgreSQL: a sequence): a sink's position must not
// meet a reused id after the history was pruned.
const char* const kSqliteAlertsMigration = R"sql(
      CREATE TABLE fanin_progress (
        route TEXT NOT NULL,
        job_id BIGINT NOT NULL,
        run_id BIGINT NOT NULL,
        event_id TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (route, job_id, run_id)
      );
      ALTER TABLE triggers ADD COLUMN fan_in_runs TEXT;
      CREATE TABLE alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        at BIGINT NOT NULL,
        connection_id TEXT NOT NULL DEFAULT '',
        sync_id TEXT NOT NULL DEFAULT '',
        start_id BIGINT NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        summary TEXT NOT NULL,
        dedupe_key TEXT UNIQUE
      );
      CREATE TABLE alert_sinks (
        name TEXT PRIMARY KEY,
        last_alert_id BIGINT NOT NULL,
        last_sent_at BIGINT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        delivered BIGINT NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until BIGINT
      );
      DROP VIEW trigger_view;
CREATE VIEW trigger_view AS
        SELECT t.id, t.event_id, t.event_seq, t.route, t.connection_id, t.sync_type, t.if_running, t.attempts,
               t.created_at, t.next_attempt_at, t.fan_in_runs, t.conn_seq, s.id AS start_id,
               CASE WHEN t.conn_seq IS NULL THEN t.state
                    WHEN t.conn_seq = 0 OR s.id IS NULL OR s.state = 'queued' THEN 'pending' ELSE s.state END AS state,
               CASE WHEN t.conn_seq IS NULL THEN t.sync_id WHEN s.state = 'queued' THEN NULL ELSE s.sync_id END AS sync_id,
               CASE WHEN t.conn_seq IS NULL THEN t.last_error WHEN s.state = 'queued' THEN NULL ELSE s.error END
                 AS last_error
        FROM triggers t LEFT JOIN starts s ON s.id = (
          SELECT x.id FROM starts x WHERE x.connection_id = t.connection_id AND x.seq_hi >= t.conn_seq
          AND t.conn_seq > 0 ORDER BY x.seq_hi LIMIT 1);
)sql";
const char* const kPostgresAlertsMigration = R"sql(
      CREATE TABLE fanin_progress (
        route TEXT NOT NULL,
        job_id BIGINT NOT NULL,
        run_id BIGINT NOT NULL,
        event_id TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (route, job_id, run_id)
      );
      ALTER TABLE triggers ADD COLUMN fan_in_runs TEXT;
      CREATE TABLE alerts (
        id BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL,
        at BIGINT NOT NULL,
        connection_id TEXT NOT NULL DEFAULT '',
        sync_id TEXT NOT NULL DEFAULT '',
        start_id BIGINT NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        summary TEXT NOT NULL,
        dedupe_key TEXT UNIQUE
      );
      CREATE TABLE alert_sinks (
        name TEXT PRIMARY KEY,
        last_alert_id BIGINT NOT NULL,
        last_sent_at BIGINT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        delivered BIGINT NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until BIGINT
      );
      DROP VIEW trigger_view;
CREATE VIEW trigger_view AS
        SELECT t.id, t.event_id, t.route, t.connection_id, t.sync_type, t.if_running, t.attempts,
               t.created_at, t.next_attempt_at, t.fan_in_runs, t.conn_seq, s.id AS start_id,
               CASE WHEN t.conn_seq IS NULL THEN t.state
                    WHEN t.conn_seq = 0 OR s.id IS NULL OR s.state = 'queued' THEN 'pending' ELSE s.state END AS state,
               CASE WHEN t.conn_seq IS NULL THEN t.sync_id WHEN s.state = 'queued' THEN NULL ELSE s.sync_id END AS sync_id,
               CASE WHEN t.conn_seq IS NULL THEN t.last_error WHEN s.state = 'queued' THEN NULL ELSE s.error END
                 AS last_error
        FROM triggers t LEFT JOIN starts s ON s.id = (
          SELECT x.id FROM starts x WHERE x.connection_id = t.connection_id AND x.seq_hi >= t.conn_seq
          AND t.conn_seq > 0 ORDER BY x.seq_hi LIMIT 1);
)sql";

// Migrations are append-only: never edit a released entry, add a new one.
const std::vector<std::string>& SqliteMigrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: events, triggers, connection leases, syncs, attempts.
      R"sql(
      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        event_type TEXT NOT NULL,
        account_id INTEGER,
        job_id INTEGER NOT NULL,
        run_id INTEGER NOT NULL,
        run_status_code INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        raw_body BLOB NOT NULL
      );
      CREATE INDEX events_job ON events (job_id, received_at);
      CREATE TABLE triggers (
        id INTEGER PRIMARY KEY,
        event_id TEXT REFERENCES events (event_id),
        route TEXT NOT NULL,
        connection_id TEXT NOT NULL,
        sync_type TEXT NOT NULL,
        if_running TEXT NOT NULL,
        dedupe_key TEXT UNIQUE,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_error TEXT,
        sync_id TEXT
      );
      CREATE INDEX triggers_due ON triggers (state, next_attempt_at);
      CREATE INDEX triggers_connection ON triggers (connection_id, state);
      CREATE TABLE connections (
        id TEXT PRIMARY KEY,
        lease_owner TEXT,
        lease_until INTEGER,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE syncs (
        connection_id TEXT NOT NULL,
        sync_id TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        error TEXT,
        PRIMARY KEY (connection_id, sync_id)
      );
      CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        connection_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at INTEGER NOT NULL,
        latency_ms INTEGER NOT NULL,
        http_status INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        sync_id TEXT,
        trigger_ids TEXT
      );
      CREATE INDEX attempts_connection ON attempts (connection_id, id);
      )sql",
      // 2: the per-connection sync lifecycle: phases, crash-safe start, sync outcomes.
      R"sql(
      ALTER TABLE connections ADD COLUMN phase TEXT NOT NULL DEFAULT 'idle';
      ALTER TABLE connections ADD COLUMN sync_id TEXT;
      ALTER TABLE connections ADD COLUMN start_attempted_at INTEGER;
      ALTER TABLE connections ADD COLUMN sync_type TEXT;
      ALTER TABLE connections ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN next_check_at INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN phase_since INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE connections ADD COLUMN last_error TEXT;
      INSERT OR IGNORE INTO connections (id, updated_at)
        SELECT DISTINCT connection_id, 0 FROM triggers;
      UPDATE triggers SET state = 'running' WHERE state = 'started';
      ALTER TABLE syncs ADD COLUMN origin TEXT NOT NULL DEFAULT 'relay';
      ALTER TABLE syncs ADD COLUMN sync_type TEXT;
      ALTER TABLE syncs ADD COLUMN started_at_text TEXT;
      ALTER TABLE syncs ADD COLUMN finished_at_text TEXT;
      ALTER TABLE syncs ADD COLUMN metrics_succeeded INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE syncs ADD COLUMN metrics_failed INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE syncs ADD COLUMN metrics_changed INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE syncs ADD COLUMN metrics_total INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE syncs ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX triggers_sync ON triggers (sync_id);
      )sql",
      // 3: no query reads triggers by (state, next_attempt_at) or by sync_id, yet every
      // trigger insert and state change updated those two indexes (triggers_due alone was
      // ~12% of the writer's time per webhook); the gauges that filtered by state go through
      // triggers_connection per connection instead.
      R"sql(
      DROP INDEX triggers_due;
      DROP INDEX triggers_sync;
      )sql",
      // 4: an event's triggers were found by scanning the whole table (~100 ms per event at 1M
      // triggers; `events` shows 20). An index on the text event_id costs each webhook a
      // random-key insert; event_seq, the event's row id, grows with every webhook, so its
      // index only ever appends at the right edge. Manual triggers (no event) stay out of it.
      R"sql(
      ALTER TABLE triggers ADD COLUMN event_seq INTEGER;
      UPDATE triggers SET event_seq = (SELECT e.id FROM events e WHERE e.event_id = triggers.event_id)
        WHERE event_id IS NOT NULL;
      CREATE INDEX triggers_event_seq ON triggers (event_seq) WHERE event_seq IS NOT NULL;
      )sql",
      // 5: starts. Every transition used to update each trigger it covered (and every claim
      // read them all): O(backlog) writer time and memory. Now each trigger takes the next
      // per-connection seq at ingest, a start covers a seq range (seq_lo, seq_hi], and a
      // trigger's state, sync and error are its start's; connections keep the counters a
      // claim decides from. Unfinished triggers are numbered (those in flight first), and the
      // in-flight ones of each connection become one start; finished rows keep their own state
      // (conn_seq NULL). PostgreSQL's migration 2 is the same.
      kSqliteStartsMigration,
      // 6: reconciliation with dbt Cloud and run verification (PostgreSQL's migration 4).
      kRunsMigration,
      // 7: fan-in progress and alerts (PostgreSQL's migration 5).
      kSqliteAlertsMigration,
  };
  return kMigrations;
}

namespace {

StatusOr<int> CurrentVersion(Db& db) {
  if (Status s = db.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); !s.ok()) return s;
  Query q = db.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  int v = q.Step() ? static_cast<int>(q.Int(0)) : 0;
  if (!q.status().ok()) return q.status();
  return v;
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(SqliteMigrations().size()); }

Status CheckSchema(Db& db) {
  {
    Query table = db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
    const bool found = table.Step();
    if (!table.status().ok()) return table.status();  // not a database, locked, …: the real cause
    if (!found) return SchemaProblem(-1, LatestSchemaVersion());
  }
  Query q = db.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  const int v = q.Step() ? static_cast<int>(q.Int(0)) : 0;
  if (!q.status().ok()) return q.status();
  return SchemaProblem(v, LatestSchemaVersion());
}

Status ApplyMigrations(Db& db, int up_to) {
  const int target = up_to > 0 ? std::min(up_to, LatestSchemaVersion()) : LatestSchemaVersion();
  {
    // Fast path: an up-to-date database needs no write transaction (and its two fsyncs) on
    // every open; that matters for start-up and for every CLI command. A missing table fails
    // to prepare and falls through to the locked path.
    Query q = db.Prepare("SELECT MAX(version) FROM schema_version");
    if (q.Step() && q.status().ok() && q.Int(0) == target) return Status::Ok();
  }
  if (Status s = db.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  StatusOr<int> current = CurrentVersion(db);
  Status result = current.status();
  if (result.ok() && *current < 0) {
    result = Status(StatusCode::kFailedPrecondition, "database schema version " + std::to_string(*current) + " is not valid");
  } else if (result.ok() && *current > LatestSchemaVersion()) {
    result = Status(StatusCode::kFailedPrecondition,
                    "database schema version " + std::to_string(*current) + " is newer than this build's " +
                        std::to_string(LatestSchemaVersion()));
  }
  for (int v = result.ok() ? *current : target; result.ok() && v < target; ++v) {
    result = db.Exec(SqliteMigrations()[static_cast<size_t>(v)]);
    if (result.ok()) result = db.Exec("INSERT INTO schema_version (version) VALUES (" + std::to_string(v + 1) + ")");
  }
  // Migrating inside the same transaction that read the version keeps two starting processes
  // from applying one migration twice.
  if (result.ok()) return db.Exec("COMMIT");
  (void)db.Exec("ROLLBACK");  // the original error is the one worth reporting
  return result;
}

}  // namespace relay::store
