#include "store/postgres_store.h"

#include <algorithm>

#include "store/sql_store.h"
#include "store/pg_db.h"
#include "store/schema.h"

namespace relay::store {
namespace {

constexpr int kWriters = 4;
constexpr size_t kMaxBatch = 128;
constexpr int64_t kMigrationLock = 0x7265746c;  // "retl"
constexpr int64_t kPruneLock = 0x72657470;      // "retp"

}  // namespace

// Migrations are append-only: never edit a released entry, add a new one.
const std::vector<std::string>& PostgresMigrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
      CREATE TABLE events (
        id BIGSERIAL PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        event_type TEXT NOT NULL,
        account_id BIGINT,
        job_id BIGINT NOT NULL,
        run_id BIGINT NOT NULL,
        run_status_code INTEGER NOT NULL,
        received_at BIGINT NOT NULL,
        raw_body TEXT NOT NULL
      );
      CREATE INDEX events_job ON events (job_id, received_at);
      CREATE TABLE triggers (
        id BIGSERIAL PRIMARY KEY,
        event_id TEXT REFERENCES events (event_id),
        route TEXT NOT NULL,
        connection_id TEXT NOT NULL,
        sync_type TEXT NOT NULL,
        if_running TEXT NOT NULL,
        dedupe_key TEXT UNIQUE,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        last_error TEXT,
        sync_id TEXT
      );
      CREATE INDEX triggers_state ON triggers (state, created_at);
      CREATE INDEX triggers_connection ON triggers (connection_id, state);
      CREATE INDEX triggers_event ON triggers (event_id);
      CREATE TABLE connections (
        id TEXT PRIMARY KEY,
        lease_owner TEXT,
        lease_until BIGINT,
        updated_at BIGINT NOT NULL,
        phase TEXT NOT NULL DEFAULT 'idle',
        sync_id TEXT,
        start_attempted_at BIGINT,
        sync_type TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_check_at BIGINT NOT NULL DEFAULT 0,
        phase_since BIGINT NOT NULL DEFAULT 0,
        last_error TEXT
      );
      CREATE TABLE syncs (
        id BIGSERIAL,
        connection_id TEXT NOT NULL,
        sync_id TEXT NOT NULL,
        status TEXT NOT NULL,
        origin TEXT NOT NULL DEFAULT 'relay',
        sync_type TEXT,
        started_at_text TEXT,
        finished_at_text TEXT,
        error TEXT,
        metrics_succeeded BIGINT NOT NULL DEFAULT 0,
        metrics_failed BIGINT NOT NULL DEFAULT 0,
        metrics_changed BIGINT NOT NULL DEFAULT 0,
        metrics_total BIGINT NOT NULL DEFAULT 0,
        updated_at BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (connection_id, sync_id)
      );
      CREATE TABLE attempts (
        id BIGSERIAL PRIMARY KEY,
        connection_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at BIGINT NOT NULL,
        latency_ms BIGINT NOT NULL,
        http_status INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        sync_id TEXT,
        trigger_ids TEXT
      );
      CREATE INDEX attempts_connection ON attempts (connection_id, id);
      )sql",
      // 2: starts (SQLite's migration 5; docs/schema.md).
      kPostgresStartsMigration,
      // 3: ingest in one round trip. A webhook took five (savepoint, event, per trigger an
      // insert and the connection's row, release), each a network round trip; this function
      // does the same server-side. Triggers are stored unsequenced (conn_seq 0): taking the
      // connection's seq here would hold its row's lock to commit, and with one busy connection
      // every writer queued behind it (1.9k webhooks/s instead of 4.8k). The connection's next
      // claim sequences them (Sequence in postgres_store.cc). Returns the new triggers' ids (0
      // for a duplicate dedupe key), or NULL when the event itself is a duplicate.
      R"sql(
      CREATE FUNCTION retl_relay_append(p_event_id TEXT, p_event_type TEXT, p_account_id BIGINT, p_job_id BIGINT,
                                        p_run_id BIGINT, p_code INTEGER, p_at BIGINT, p_raw TEXT, p_routes TEXT[],
                                        p_connections TEXT[], p_types TEXT[], p_policies TEXT[], p_keys TEXT[])
      RETURNS BIGINT[] LANGUAGE plpgsql AS $fn$
      DECLARE
        ids BIGINT[] := '{}';
        tid BIGINT;
      BEGIN
        INSERT INTO events (event_id, event_type, account_id, job_id, run_id, run_status_code, received_at, raw_body)
          VALUES (p_event_id, p_event_type, p_account_id, p_job_id, p_run_id, p_code, p_at, p_raw)
          ON CONFLICT (event_id) DO NOTHING;
        IF NOT FOUND THEN
          RETURN NULL;
        END IF;
        FOR i IN 1 .. COALESCE(array_length(p_routes, 1), 0) LOOP
          tid := NULL;
          INSERT INTO triggers (event_id, route, connection_id, sync_type, if_running, dedupe_key, state, created_at,
                                next_attempt_at, updated_at, conn_seq)
            VALUES (p_event_id, p_routes[i], p_connections[i], p_types[i], p_policies[i], p_keys[i], 'pending', p_at,
                    p_at, p_at, 0)
            ON CONFLICT (dedupe_key) DO NOTHING RETURNING id INTO tid;
          ids := ids || COALESCE(tid, 0);
          -- The connection's row on first sight. NOT EXISTS reads the snapshot and never waits
          -- for the lifecycle step that may hold the row.
          IF tid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM connections WHERE id = p_connections[i]) THEN
            INSERT INTO connections (id, updated_at) VALUES (p_connections[i], p_at) ON CONFLICT (id) DO NOTHING;
          END IF;
        END LOOP;
        RETURN ids;
      END
      $fn$;
      )sql",
      // 4: reconciliation and run verification (SQLite's 6), and retl_relay_append with the
      // event's source, outcome and verification (an overload; the old signature now calls it). Without a conflict target, the event insert
      // skips a duplicate eventId and a run outcome already recorded alike; the function tells
      // them apart: NULL for the first, {-1} for the second.
      std::string(kRunsMigration) + R"sql(
      CREATE FUNCTION retl_relay_append(p_event_id TEXT, p_event_type TEXT, p_account_id BIGINT, p_job_id BIGINT,
                                        p_run_id BIGINT, p_code INTEGER, p_at BIGINT, p_raw TEXT, p_routes TEXT[],
                                        p_connections TEXT[], p_types TEXT[], p_policies TEXT[], p_keys TEXT[],
                                        p_source TEXT, p_run_once INTEGER, p_verify TEXT)
      RETURNS BIGINT[] LANGUAGE plpgsql AS $fn$
      DECLARE
        ids BIGINT[] := '{}';
        tid BIGINT;
      BEGIN
        INSERT INTO events (event_id, event_type, account_id, job_id, run_id, run_status_code, received_at, raw_body,
                            source, run_once, verify_state, verify_next_at)
          VALUES (p_event_id, p_event_type, p_account_id, p_job_id, p_run_id, p_code, p_at, p_raw, p_source,
                  p_run_once, p_verify, p_at)
          ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
          IF EXISTS (SELECT 1 FROM events WHERE event_id = p_event_id) THEN
            RETURN NULL;
          END IF;
          RETURN ARRAY[-1]::BIGINT[];
        END IF;
        FOR i IN 1 .. COALESCE(array_length(p_routes, 1), 0) LOOP
          tid := NULL;
          INSERT INTO triggers (event_id, route, connection_id, sync_type, if_running, dedupe_key, state, created_at,
                                next_attempt_at, updated_at, conn_seq)
            VALUES (p_event_id, p_routes[i], p_connections[i], p_types[i], p_policies[i], p_keys[i], 'pending', p_at,
                    p_at, p_at, 0)
            ON CONFLICT (dedupe_key) DO NOTHING RETURNING id INTO tid;
          ids := ids || COALESCE(tid, 0);
          -- The connection's row on first sight. NOT EXISTS reads the snapshot and never waits
          -- for the lifecycle step that may hold the row.
          IF tid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM connections WHERE id = p_connections[i]) THEN
            INSERT INTO connections (id, updated_at) VALUES (p_connections[i], p_at) ON CONFLICT (id) DO NOTHING;
          END IF;
        END LOOP;
        RETURN ids;
      END
      $fn$;
      -- The previous signature, for instances of the previous build still running during a
      -- rolling upgrade: their events record no outcome and are never verified.
      CREATE OR REPLACE FUNCTION retl_relay_append(p_event_id TEXT, p_event_type TEXT, p_account_id BIGINT,
                                                   p_job_id BIGINT, p_run_id BIGINT, p_code INTEGER, p_at BIGINT,
                                                   p_raw TEXT, p_routes TEXT[], p_connections TEXT[], p_types TEXT[],
                                                   p_policies TEXT[], p_keys TEXT[])
      RETURNS BIGINT[] LANGUAGE sql AS $fn$
        SELECT CASE WHEN r = ARRAY[-1]::BIGINT[] THEN NULL ELSE r END FROM (
          SELECT retl_relay_append(p_event_id, p_event_type, p_account_id, p_job_id, p_run_id, p_code, p_at, p_raw,
                                   p_routes, p_connections, p_types, p_policies, p_keys, 'webhook', NULL, NULL) AS r) x
      $fn$;
      )sql",
      // 5: fan-in progress and alerts (SQLite's 7).
      kPostgresAlertsMigration,
  };
  return kMigrations;
}

namespace {

// PostgreSQL's side of SqlStore (sql_store.h). Several writers, and other instances, write at
// once: advisory locks serialise fan-in, alerts and pruning, claims skip rows another claim
// holds, and a trigger is stored unsequenced (conn_seq 0) so that ingest never waits for its
// connection's row: the connection's next claim sequences it (Sequence).
struct PgDialect {
  using Conn = PgConn;

  static constexpr const char* kSyncOrder = "id";
  static constexpr const char* kLastSyncJoin =
      "LEFT JOIN LATERAL (SELECT sync_id, status, finished_at_text, metrics_succeeded, metrics_failed, metrics_total "
      "FROM syncs x WHERE x.connection_id = c.id AND x.origin <> 'external' ORDER BY x.updated_at DESC, x.id DESC "
      "LIMIT 1) s ON true";
  static constexpr const char* kClaimableUnsequenced =
      " OR EXISTS (SELECT 1 FROM triggers t WHERE t.connection_id = c.id AND t.conn_seq = 0)";
  // Instances claiming at the same moment each get a different connection.
  static constexpr const char* kClaimLock = " FOR UPDATE SKIP LOCKED";
  static constexpr const char* kForShare = " FOR SHARE";
  static constexpr const char* kTriggerOfEvent = "t.event_id = e.event_id";
  static const std::string& EventTriggersSql() {
    static const std::string kSql =
        std::string("SELECT ") + sql::kTriggerColumns + " FROM trigger_view WHERE event_id = ?1 ORDER BY id";
    return kSql;
  }
  static std::string InIds(int param) { return "= ANY(CAST(?" + std::to_string(param) + " AS BIGINT[]))"; }
  static std::string TriggersOfEvents(int param) {
    return "event_id IN (SELECT event_id FROM events WHERE id " + InIds(param) + ")";
  }
  static std::string IdArray(const std::vector<int64_t>& ids) { return PgIdArray(ids); }

  // One lock for every fan-in route, not one per route: a batch holding two could otherwise
  // meet another batch holding them in the other order.
  static Status LockFanIn(PgConn& db) { return db.Run("SELECT pg_advisory_xact_lock(hashtext('retl-relay fan-in'))"); }
  static Status LockAlerts(PgConn& db) { return db.Run("SELECT pg_advisory_xact_lock(hashtext('retl-relay alerts'))"); }
  static StatusOr<bool> TryLockPrune(PgConn& db) {
    StatusOr<PgResult> r = db.Exec("SELECT pg_try_advisory_xact_lock($1)", {P(kPruneLock)});
    if (!r.ok()) return r.status();
    return r->Text(0, 0) == "t";
  }
  static Status AfterLease(PgConn& db, const std::string& id) { return Sequence(db, id); }

  // Reachable is not enough: a hot standby, read-only transactions or a user without write
  // grants would fail every webhook's commit.
  static Status Ping(PgConn& db) {
    StatusOr<PgResult> t = db.Exec("SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
                                   "has_table_privilege('events', 'INSERT') AND has_table_privilege('connections', 'UPDATE')");
    if (!t.ok()) return t.status();
    if (t->Text(0, 0) == "t") return UnavailableError("postgres: the server is a read-only standby");
    if (t->Text(0, 1) == "on") return UnavailableError("postgres: transactions are read-only (default_transaction_read_only)");
    if (t->Text(0, 2) != "t") {
      return UnavailableError("postgres: this user may not write the relay's tables (INSERT on events, UPDATE on connections)");
    }
    return db.Run(sql::kPostgresWriteProbeSql);  // a commit that must reach the disk, like a webhook's
  }

  // One round trip: retl_relay_append (migration 3) stores the event and its triggers.
  static Status AppendEvent(PgConn& db, const NewEvent& ev, const std::vector<NewTrigger>& triggers, AppendResult& out,
                            int64_t* event_seq) {
    *event_seq = 0;  // PostgreSQL's triggers name their event by its id
    std::vector<std::string> routes, connections, types, policies, keys;
    for (const NewTrigger& t : triggers) {
      routes.push_back(t.route);
      connections.push_back(t.connection_id);
      types.push_back(t.sync_type);
      policies.push_back(t.if_running);
      keys.push_back(t.dedupe_key);
    }
    StatusOr<PgResult> r = db.Exec(
        "SELECT retl_relay_append($1, $2, $3::bigint, $4::bigint, $5::bigint, $6::integer, $7::bigint, $8, $9::text[], "
        "$10::text[], $11::text[], $12::text[], $13::text[], $14, $15::integer, $16)",
        {P(ev.event_id), P(ev.event_type), ev.account_id ? P(*ev.account_id) : std::nullopt, P(ev.job_id),
         P(ev.run_id), P(int64_t{ev.run_status_code}), P(ToUnixMillis(ev.received_at)), P(ev.raw_body),
         P(PgTextArray(routes)), P(PgTextArray(connections)), P(PgTextArray(types)), P(PgTextArray(policies)),
         P(PgTextArray(keys)), P(ev.source), ev.records_outcome ? P(int64_t{1}) : std::nullopt,
         ev.verify ? P(std::string(kVerifyPending)) : std::nullopt});
    if (!r.ok()) return r.status();
    if (r->rows() != 1) return InternalError("retl_relay_append returned no row");
    if (r->IsNull(0, 0) || r->Text(0, 0) == "{-1}") {
      out.duplicate = true;
      out.duplicate_run = !r->IsNull(0, 0);
      return Status::Ok();
    }
    std::optional<std::vector<int64_t>> ids = ParsePgIdArray(r->Text(0, 0));
    if (!ids || ids->size() != triggers.size()) return InternalError("retl_relay_append: unexpected result " + r->Text(0, 0));
    out.trigger_ids = std::move(*ids);
    return Status::Ok();
  }

  // Unsequenced, as ingest stores them: the connection's next claim sequences them. Appends each
  // new trigger's id (0 for a dedupe key seen before) to `ids`. An empty event id (a manual
  // trigger) or dedupe key (manual, replay) is stored as NULL: such a trigger never conflicts.
  static Status InsertTriggers(PgConn& db, const std::string& event_id, int64_t /*event_seq*/,
                               const std::vector<NewTrigger>& triggers, int64_t now_ms, std::vector<int64_t>& ids) {
    for (const NewTrigger& t : triggers) {
      StatusOr<PgResult> r = db.Exec(
          "INSERT INTO triggers (event_id, route, connection_id, sync_type, if_running, dedupe_key, state, "
          "created_at, next_attempt_at, updated_at, conn_seq) VALUES (NULLIF($1, ''), $2, $3, $4, $5, NULLIF($6, ''), "
          "'pending', $7, $7, $7, 0) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
          {P(event_id), P(t.route), P(t.connection_id), P(t.sync_type), P(t.if_running), P(t.dedupe_key), P(now_ms)});
      if (!r.ok()) return r.status();
      ids.push_back(r->rows() > 0 ? r->Int(0, 0) : 0);
      if (r->rows() == 0) continue;
      // The connection's row on first sight. The NOT EXISTS check reads the snapshot and never
      // waits; a bare INSERT … ON CONFLICT would wait for a lifecycle step updating the same
      // row, and two writers doing that in opposite orders deadlock.
      if (Status c = db.Run("INSERT INTO connections (id, updated_at) SELECT $1, $2 "
                            "WHERE NOT EXISTS (SELECT 1 FROM connections WHERE id = $1) ON CONFLICT (id) DO NOTHING",
                            {P(t.connection_id), P(now_ms)});
          !c.ok()) return c;
    }
    return Status::Ok();
  }

  // A retried trigger goes back unsequenced: it takes a new seq at the connection's next claim.
  static StatusOr<int64_t> RequeueSeq(PgConn&, const std::string&, const std::string&, const std::string&, int64_t) {
    return int64_t{0};
  }

  // Gives the connection's unsequenced triggers (conn_seq 0: stored by ingest, a replay or a
  // retry) the next seqs, oldest first (a retried trigger's created_at is its retry: expiry's
  // binary search relies on created_at growing with seq), and updates its counters: one
  // statement, under the connection row's lock that the claim holds. Only committed triggers
  // are visible here, so the seqs follow the order in which triggers became visible: a claim
  // that reads seq N has every trigger up to N, whatever commits later gets a higher seq. Each
  // trigger is sequenced once, so the cost is the arrivals since the last claim, never the
  // backlog.
  static Status Sequence(PgConn& db, const std::string& connection_id) {
    return db.Run(
        "WITH todo AS (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n FROM triggers "
        "              WHERE connection_id = $1 AND conn_seq = 0), "
        "base AS (SELECT seq FROM connections WHERE id = $1), "
        "done AS (UPDATE triggers t SET conn_seq = base.seq + todo.n FROM todo, base WHERE t.id = todo.id "
        "         RETURNING t.conn_seq, t.sync_type, t.if_running) "
        "UPDATE connections SET seq = seq + (SELECT COUNT(*) FROM done), "
        "last_full_seq = GREATEST(last_full_seq, COALESCE((SELECT MAX(conn_seq) FROM done WHERE sync_type = 'full'), 0)), "
        "last_skip_seq = GREATEST(last_skip_seq, COALESCE((SELECT MAX(conn_seq) FROM done WHERE if_running = 'skip'), 0)), "
        "last_queue_seq = GREATEST(last_queue_seq, "
        "                          COALESCE((SELECT MAX(conn_seq) FROM done WHERE if_running = 'queue'), 0)), "
        "last_restart_seq = GREATEST(last_restart_seq, "
        "                            COALESCE((SELECT MAX(conn_seq) FROM done WHERE if_running = 'restart'), 0)) "
        "WHERE id = $1 AND EXISTS (SELECT 1 FROM done)",
        {P(connection_id)});
  }

  // Deletes the triggers whose ids `ids_sql` selects, adding how many to *count, and takes
  // exactly those out of their starts' counts (a dead start's count is what `dead` and the
  // gauges report). The conditions on the rows themselves are checked again on the row versions
  // the DELETE locks: a trigger retried meanwhile (conn_seq 0 now, or pending) stays.
  template <typename Bind>
  static Status DeleteTriggers(PgConn& db, const std::string& ids_sql, Bind bind, int64_t* count) {
    PgQuery q = db.Prepare(
        "WITH d AS (DELETE FROM triggers WHERE id IN (" + ids_sql + ") AND conn_seq IS DISTINCT FROM 0 "
        "           AND (conn_seq IS NOT NULL OR state IN ('succeeded','failed','skipped','dead')) "
        "           RETURNING connection_id, conn_seq), "
        "u AS (UPDATE starts s SET triggers = s.triggers - x.n FROM (SELECT st.id, COUNT(*) AS n FROM d JOIN starts st "
        "      ON st.connection_id = d.connection_id AND d.conn_seq > st.seq_lo AND d.conn_seq <= st.seq_hi "
        "      GROUP BY st.id) x WHERE s.id = x.id RETURNING 1) "
        "SELECT (SELECT COUNT(*) FROM d), (SELECT COUNT(*) FROM u)");
    bind(q);
    if (q.Step()) *count += q.Int(0);
    return q.status();
  }

  static BatchExecutor<PgConn>::Dialect Transactions() {
    return {[](PgConn& db) {
              if (Status s = db.EnsureConnected(); !s.ok()) return s;
              return db.Run("BEGIN");
            },
            [](PgConn& db) { return db.Run("COMMIT"); },
            [](PgConn& db) { (void)db.Run("ROLLBACK"); },
            [](PgConn& db) { return db.Run("SAVEPOINT job"); },
            [](PgConn& db) { (void)db.Run("ROLLBACK TO SAVEPOINT job"); },
            [](PgConn& db) { (void)db.Run("RELEASE SAVEPOINT job"); },
            [](PgConn& db) { return db.connected(); }};
  }
};

// Reads the schema version without writing anything: what the CLI opens with.
Status CheckPostgresSchema(PgConn& db) {
  const int latest = static_cast<int>(PostgresMigrations().size());
  StatusOr<PgResult> t = db.Exec("SELECT to_regclass('schema_version') IS NOT NULL");
  if (!t.ok()) return t.status();
  if (t->Text(0, 0) != "t") return SchemaProblem(-1, latest);
  StatusOr<PgResult> v = db.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  if (!v.ok()) return v.status();
  return SchemaProblem(static_cast<int>(v->Int(0, 0)), latest);
}

Status MigratePostgres(PgConn& db, int up_to) {
  // Inside the writer's transaction: the transaction-scoped advisory lock serialises instances
  // starting together; the second one finds the work done.
  if (Status s = db.Run("SELECT pg_advisory_xact_lock($1)", {P(kMigrationLock)}); !s.ok()) return s;
  if (Status s = db.Run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); !s.ok()) return s;
  StatusOr<PgResult> v = db.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  if (!v.ok()) return v.status();
  const int current = static_cast<int>(v->Int(0, 0));
  const int all = static_cast<int>(PostgresMigrations().size());
  const int latest = up_to > 0 ? std::min(up_to, all) : all;
  if (current > all) {
    return Status(StatusCode::kFailedPrecondition, "database schema version " + std::to_string(current) +
                                                       " is newer than this build's " + std::to_string(all));
  }
  for (int i = current; i < latest; ++i) {
    if (Status s = db.Run(PostgresMigrations()[static_cast<size_t>(i)]); !s.ok()) return s;
    if (Status s = db.Run("INSERT INTO schema_version (version) VALUES ($1)", {P(int64_t{i + 1})}); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, OpenOptions options) {
  std::vector<std::unique_ptr<PgConn>> conns;
  for (int i = 0; i < kWriters; ++i) conns.push_back(std::make_unique<PgConn>(url));
  auto store = std::make_unique<SqlStore<PgDialect>>(std::move(conns), PgDialect::Transactions(), kMaxBatch);
  const int up_to = options.schema_version;
  if (Status s = options.migrate ? store->RunSync([up_to](PgConn& db) { return MigratePostgres(db, up_to); })
                                 : store->RunSync(CheckPostgresSchema);
      !s.ok()) return s;
  if (options.migrate && options.schema_version == 0) {  // the latest schema: the columns exist
    int64_t moved = 0;
    if (Status s = store->RunSync([&moved](PgConn& db) {
          moved = 0;
          return ReleaseParked(db, SystemClock().Now(), &moved);
        });
        !s.ok()) return s;
    SayReleased(moved);
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace relay::store
