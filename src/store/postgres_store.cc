#include "store/postgres_store.h"

#include <algorithm>

#include "store/batch_executor.h"
#include "store/pg_db.h"
#include "store/schema.h"
#include "store/sql_shared.h"

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

using sql::kStartColumns;
using sql::kTriggerColumns;
using sql::PgSql;
constexpr const char* kConnectionColumns =
    "c.id, c.phase, COALESCE(c.sync_id,''), c.start_attempted_at, COALESCE(c.sync_type,''), c.attempts, "
    "c.next_check_at, c.phase_since, COALESCE(c.last_error,''), c.covered";

constexpr const char* kSyncColumns =
    "connection_id, sync_id, status, origin, COALESCE(started_at_text,''), COALESCE(finished_at_text,''), "
    "COALESCE(error,''), metrics_succeeded, metrics_failed, metrics_changed, metrics_total, COALESCE(sync_type,'')";

Sync ReadSync(const PgResult& r, int i) {
  return Sync{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Text(i, 4),  r.Text(i, 5),
              r.Text(i, 6), r.Int(i, 7),  r.Int(i, 8),  r.Int(i, 9),  r.Int(i, 10), r.Text(i, 11)};
}

Trigger ReadTrigger(const PgResult& r, int i) {
  Trigger t;
  t.id = r.Int(i, 0);
  t.event_id = r.Text(i, 1);
  t.route = r.Text(i, 2);
  t.connection_id = r.Text(i, 3);
  t.sync_type = r.Text(i, 4);
  t.if_running = r.Text(i, 5);
  t.state = r.Text(i, 6);
  t.attempts = static_cast<int>(r.Int(i, 7));
  t.created_at = FromUnixMillis(r.Int(i, 8));
  t.next_attempt_at = FromUnixMillis(r.Int(i, 9));
  t.last_error = r.Text(i, 10);
  t.sync_id = r.Text(i, 11);
  t.start_id = r.Int(i, 12);
  t.fan_in_runs = ParseFanInRuns(r.Text(i, 13), t.route);
  return t;
}

FanInRun ReadFanInRun(const PgResult& r, int i) {
  return FanInRun{r.Text(i, 0), r.Int(i, 1), r.Int(i, 2), r.Text(i, 3), FromUnixMillis(r.Int(i, 4))};
}

StoredAlert ReadAlert(const PgResult& r, int i) {
  StoredAlert a;
  a.id = r.Int(i, 0);
  a.alert.kind = r.Text(i, 1);
  a.alert.at = FromUnixMillis(r.Int(i, 2));
  a.alert.connection_id = r.Text(i, 3);
  a.alert.sync_id = r.Text(i, 4);
  a.alert.start_id = r.Int(i, 5);
  a.alert.error = r.Text(i, 6);
  a.alert.summary = r.Text(i, 7);
  a.alert.dedupe_key = r.Text(i, 8);
  return a;
}

AlertSinkState ReadAlertSink(const PgResult& r, int i) {
  AlertSinkState s;
  s.name = r.Text(i, 0);
  s.last_alert_id = r.Int(i, 1);
  if (!r.IsNull(i, 2)) s.last_sent_at = FromUnixMillis(r.Int(i, 2));
  s.attempts = static_cast<int>(r.Int(i, 3));
  s.next_at = FromUnixMillis(r.Int(i, 4));
  s.last_error = r.Text(i, 5);
  s.delivered = r.Int(i, 6);
  return s;
}

Start ReadStart(const PgResult& r, int i) {
  Start s;
  s.id = r.Int(i, 0);
  s.connection_id = r.Text(i, 1);
  s.seq_lo = r.Int(i, 2);
  s.seq_hi = r.Int(i, 3);
  s.triggers = r.Int(i, 4);
  s.sync_type = r.Text(i, 5);
  s.policies = static_cast<int>(r.Int(i, 6));
  s.state = r.Text(i, 7);
  s.sync_id = r.Text(i, 8);
  s.error = r.Text(i, 9);
  s.oldest = FromUnixMillis(r.Int(i, 10));
  if (!r.IsNull(i, 11)) s.attempted_at = FromUnixMillis(r.Int(i, 11));
  return s;
}

Connection ReadConnection(const PgResult& r, int i) {
  Connection c;
  c.id = r.Text(i, 0);
  c.phase = r.Text(i, 1);
  c.sync_id = r.Text(i, 2);
  if (!r.IsNull(i, 3)) c.start_attempted_at = FromUnixMillis(r.Int(i, 3));
  c.sync_type = r.Text(i, 4);
  c.attempts = static_cast<int>(r.Int(i, 5));
  c.next_check_at = FromUnixMillis(r.Int(i, 6));
  c.phase_since = FromUnixMillis(r.Int(i, 7));
  c.last_error = r.Text(i, 8);
  c.covered = r.Int(i, 9);
  return c;
}

StoredEvent ReadEvent(const PgResult& r, int i) {
  return StoredEvent{r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Int(i, 3), r.Int(i, 4), static_cast<int>(r.Int(i, 5)),
                     FromUnixMillis(r.Int(i, 6)), r.Text(i, 7), r.Text(i, 8), r.Text(i, 9), r.Text(i, 10)};
}

// Runs `fn` and returns its status, or the query's error. Shortens the many reads below.
#define RELAY_PG_TRY(var, expr)          \
  auto var = (expr);                     \
  if (!var.ok()) return var.status()

// The smallest id such that every row below it has `column` < `cut`, assuming the column grows
// with the id. Binary search on the primary key: O(log² n), whatever the table's size.
StatusOr<int64_t> BoundaryId(PgConn& db, const std::string& table, const std::string& column, int64_t cut) {
  RELAY_PG_TRY(last, db.Exec("SELECT COALESCE(MAX(id), 0) FROM " + table));
  int64_t lo = 0, hi = last->Int(0, 0) + 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    RELAY_PG_TRY(q, db.Exec("SELECT " + column + " FROM " + table + " WHERE id >= $1 ORDER BY id LIMIT 1", {P(mid)}));
    if (q->rows() == 0 || q->Int(0, 0) >= cut) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

class PostgresStore : public Store {
 public:
  explicit PostgresStore(const std::string& url) : exec_(Connections(url), PgDialect(), kMaxBatch) {}

  // Store
  void AppendAsync(NewEvent event, std::vector<NewTrigger> triggers, AppendCallback done) override {
    auto result = std::make_shared<AppendResult>();
    auto ev = std::make_shared<NewEvent>(std::move(event));
    auto trs = std::make_shared<std::vector<NewTrigger>>(std::move(triggers));
    exec_.Submit([ev, trs, result](PgConn& db) { return DoAppend(db, *ev, *trs, *result); },
                 [result, done = std::move(done)](const Status& s) {
                   if (s.ok()) done(std::move(*result));
                   else done(s);
                 },
                 /*rerunnable=*/true);
  }

  StatusOr<std::optional<Claim>> ClaimConnection(const std::string& owner, TimePoint now, Duration lease) override {
    std::optional<Claim> claim;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      const int64_t now_ms = ToUnixMillis(now);
      // SKIP LOCKED: instances claiming at the same moment each get a different connection.
      RELAY_PG_TRY(pick, db.Exec(
          "SELECT c.id FROM connections c WHERE c.next_check_at <= $1 "
          "AND (c.lease_owner IS NULL OR c.lease_until <= $1 OR c.lease_owner = $2) "
          "AND (c.phase <> 'idle' OR c.seq > c.covered OR EXISTS (SELECT 1 FROM starts s WHERE s.connection_id = c.id "
          "AND s.state IN ('starting','queued','running')) OR EXISTS (SELECT 1 FROM triggers t "
          "WHERE t.connection_id = c.id AND t.conn_seq = 0)) "
          "ORDER BY c.next_check_at, c.id LIMIT 1 FOR UPDATE SKIP LOCKED",
          {P(now_ms), P(owner)}));
      if (pick->rows() == 0) return Status::Ok();
      const std::string id = pick->Text(0, 0);
      RELAY_PG_TRY(lease_q, db.Exec("UPDATE connections SET lease_owner = $2, lease_until = $3 WHERE id = $1",
                                    {P(id), P(owner), P(now_ms + lease.count())}));
      if (Status seq = Sequence(db, id); !seq.ok()) return seq;
      RELAY_PG_TRY(c, db.Exec(std::string("SELECT ") + kConnectionColumns + " FROM connections c WHERE c.id = $1", {P(id)}));
      if (c->rows() == 0) return InternalError("claimed connection vanished");
      Claim out;
      out.connection = ReadConnection(*c, 0);
      RELAY_PG_TRY(b, db.Exec(PgSql(sql::kBacklogSql), {P(id)}));
      if (b->rows() == 0) return InternalError("claimed connection vanished");
      out.backlog = Backlog{b->Int(0, 0), b->Int(0, 1), b->Int(0, 2), b->Int(0, 3), b->Int(0, 4), std::nullopt};
      if (!b->IsNull(0, 5)) out.backlog.oldest = FromUnixMillis(b->Int(0, 5));
      RELAY_PG_TRY(st, db.Exec(PgSql(sql::kCurrentStartSql), {P(id)}));
      if (st->rows() > 0) out.current = ReadStart(*st, 0);
      claim = std::move(out);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return claim;
  }

  Status RenewLease(const std::string& connection_id, const std::string& owner, TimePoint until) override {
    return exec_.RunSync([&](PgConn& db) -> Status {
      RELAY_PG_TRY(r, db.Exec("UPDATE connections SET lease_until = $3 WHERE id = $1 AND lease_owner = $2",
                              {P(connection_id), P(owner), P(ToUnixMillis(until))}));
      if (r->affected() == 0) return Status(StatusCode::kFailedPrecondition, "lease lost on " + connection_id);
      return Status::Ok();
    });
  }

  Status Commit(Transition& t) override {
    std::vector<int64_t> ids;
    Status s = exec_.RunSync([&](PgConn& db) { return DoCommit(db, t, ids); });
    if (!s.ok()) return s;
    for (size_t i = 0; i < ids.size(); ++i) {
      t.starts[i].id = ids[i];
      t.starts[i].connection_id = t.connection.id;
    }
    return s;
  }

  StatusOr<Aged> FindAged(const std::string& connection_id, int64_t lo, int64_t hi, TimePoint cutoff) override {
    Aged out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out = Aged{lo, std::nullopt};
      const int64_t cut = ToUnixMillis(cutoff);
      const std::string probe = PgSql(sql::kFirstFromSeqSql);
      // As on SQLite: the first seq in (lo, hi] whose trigger is not old enough.
      int64_t first = lo + 1, last = hi + 1;
      while (first < last) {
        const int64_t mid = first + (last - first) / 2;
        RELAY_PG_TRY(q, db.Exec(probe, {P(connection_id), P(mid), P(hi)}));
        if (q->rows() == 0 || q->Int(0, 1) >= cut) last = mid;
        else first = mid + 1;
      }
      out.seq = first - 1;
      RELAY_PG_TRY(next, db.Exec(probe, {P(connection_id), P(first), P(hi)}));
      if (next->rows() > 0) out.next_oldest = FromUnixMillis(next->Int(0, 1));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<bool> KnownSync(const std::string& connection_id, const std::string& sync_id) override {
    bool known = false;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      RELAY_PG_TRY(r, db.Exec("SELECT 1 FROM syncs WHERE connection_id = $1 AND sync_id = $2", {P(connection_id), P(sync_id)}));
      known = r->rows() > 0;
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return known;
  }

  StatusOr<std::vector<Trigger>> ListTriggers(const std::string& state_filter, int limit) override {
    if (state_filter.empty()) {
      return Triggers(std::string("SELECT ") + kTriggerColumns + " FROM trigger_view ORDER BY id LIMIT $1",
                      {P(int64_t{limit})});
    }
    return Triggers(PgSql(std::string("SELECT ") + kTriggerColumns + " FROM trigger_view WHERE id IN (" +
                          sql::kTriggerIdsInStateSql + ") ORDER BY id LIMIT ?2"),
                    {P(state_filter), P(int64_t{limit})});
  }

  StatusOr<std::vector<Start>> ListStarts(const std::string& connection_id, int limit) override {
    std::vector<Start> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.clear();
      RELAY_PG_TRY(r, db.Exec(std::string("SELECT ") + kStartColumns +
                                  " FROM starts WHERE connection_id = $1 ORDER BY id DESC LIMIT $2",
                              {P(connection_id), P(int64_t{limit})}));
      for (int i = 0; i < r->rows(); ++i) out.push_back(ReadStart(*r, i));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::optional<StoredEvent>> GetEvent(const std::string& event_id) override {
    std::optional<StoredEvent> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      RELAY_PG_TRY(r, db.Exec(std::string("SELECT ") + sql::kEventColumns + " FROM events WHERE event_id = $1",
                              {P(event_id)}));
      if (r->rows() > 0) out = ReadEvent(*r, 0);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<int64_t> CountEvents() override {
    int64_t n = 0;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      RELAY_PG_TRY(r, db.Exec("SELECT COUNT(*) FROM events"));
      n = r->Int(0, 0);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return n;
  }

  StatusOr<std::vector<Attempt>> ListAttempts(const std::string& connection_id, int limit) override {
    return Attempts("SELECT connection_id, kind, at, latency_ms, http_status, outcome, COALESCE(sync_id,'') FROM attempts "
                    "WHERE ($1 = '' OR connection_id = $1) ORDER BY id LIMIT $2",
                    {P(connection_id), P(int64_t{limit})});
  }

  StatusOr<std::vector<Sync>> ListSyncs(const std::string& connection_id, int limit) override {
    std::vector<Sync> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.clear();
      RELAY_PG_TRY(r, db.Exec(std::string("SELECT ") + kSyncColumns +
                                  " FROM syncs WHERE ($1 = '' OR connection_id = $1) ORDER BY id LIMIT $2",
                              {P(connection_id), P(int64_t{limit})}));
      for (int i = 0; i < r->rows(); ++i) out.push_back(ReadSync(*r, i));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::optional<Sync>> GetSync(const std::string& connection_id, const std::string& sync_id) override {
    std::optional<Sync> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.reset();
      RELAY_PG_TRY(r, db.Exec(std::string("SELECT ") + kSyncColumns + " FROM syncs WHERE connection_id = $1 AND sync_id = $2",
                              {P(connection_id), P(sync_id)}));
      if (r->rows() > 0) out = ReadSync(*r, 0);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::optional<Connection>> GetConnection(const std::string& connection_id) override {
    std::optional<Connection> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      RELAY_PG_TRY(r, db.Exec(std::string("SELECT ") + kConnectionColumns + " FROM connections c WHERE c.id = $1",
                              {P(connection_id)}));
      if (r->rows() > 0) out = ReadConnection(*r, 0);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<StoredEvent>> ListEvents(const EventFilter& f) override {
    std::vector<StoredEvent> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.clear();
      RELAY_PG_TRY(r, db.Exec(
          std::string("SELECT ") + sql::kEventColumns + " FROM events "
          "WHERE ($1::bigint IS NULL OR job_id = $1::bigint) AND ($2::bigint IS NULL OR received_at >= $2::bigint) "
          "AND ($4::bigint IS NULL OR id < $4::bigint) ORDER BY id DESC LIMIT $3",
          {f.job_id ? P(*f.job_id) : std::nullopt, f.since ? P(ToUnixMillis(*f.since)) : std::nullopt,
           P(int64_t{f.limit}), f.before ? P(*f.before) : std::nullopt}));
      for (int i = 0; i < r->rows(); ++i) out.push_back(ReadEvent(*r, i));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<Trigger>> EventTriggers(const std::string& event_id) override {
    return Triggers(std::string("SELECT ") + kTriggerColumns + " FROM trigger_view WHERE event_id = $1 ORDER BY id",
                    {P(event_id)});
  }

  StatusOr<std::optional<Trigger>> GetTrigger(int64_t id) override {
    auto list = Triggers(std::string("SELECT ") + kTriggerColumns + " FROM trigger_view WHERE id = $1", {P(id)});
    if (!list.ok()) return list.status();
    if (list->empty()) return std::optional<Trigger>();
    return std::optional<Trigger>(list->front());
  }

  StatusOr<std::vector<Attempt>> TriggerAttempts(const Trigger& t) override {
    return Attempts(
        "SELECT connection_id, kind, at, latency_ms, http_status, outcome, COALESCE(sync_id,'') FROM attempts "
        "WHERE connection_id = $1 AND at >= $2 AND (($5::bigint <> 0 AND start_id = $5::bigint) OR "
        "(',' || trigger_ids || ',') LIKE ('%,' || $3 || ',%') OR ($4 <> '' AND sync_id = $4)) ORDER BY id LIMIT 200",
        {P(t.connection_id), P(ToUnixMillis(t.created_at)), P(std::to_string(t.id)), P(t.sync_id), P(t.start_id)});
  }

  StatusOr<std::vector<ConnectionStatus>> ListConnections() override {
    std::vector<ConnectionStatus> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.clear();
      RELAY_PG_TRY(r, db.Exec(
          std::string("SELECT ") + kConnectionColumns +
          ", " + sql::kPendingOfConnection + ", " + sql::kDeadOfConnection + ","
          " COALESCE(s.sync_id,''), COALESCE(s.status,''), COALESCE(s.finished_at_text,''), "
          "COALESCE(s.metrics_succeeded,0), COALESCE(s.metrics_failed,0), COALESCE(s.metrics_total,0), " +
          sql::kOldestPendingOfConnection + ", (SELECT MIN(x.oldest_at) FROM starts x WHERE x.connection_id = c.id AND "
          "x.state = 'starting') FROM connections c LEFT JOIN LATERAL (SELECT sync_id, status, finished_at_text, metrics_succeeded, "
          "metrics_failed, metrics_total FROM syncs x "
          "WHERE x.connection_id = c.id AND x.origin <> 'external' ORDER BY x.updated_at DESC, x.id DESC LIMIT 1) s ON true "
          "ORDER BY c.id"));
      for (int i = 0; i < r->rows(); ++i) {
        ConnectionStatus cs;
        cs.connection = ReadConnection(*r, i);
        cs.pending = r->Int(i, 10);
        cs.dead = r->Int(i, 11);
        cs.last_sync_id = r->Text(i, 12);
        cs.last_outcome = r->Text(i, 13);
        cs.last_finished_at = r->Text(i, 14);
        cs.last_succeeded = r->Int(i, 15);
        cs.last_failed = r->Int(i, 16);
        cs.last_total = r->Int(i, 17);
        if (!r->IsNull(i, 18)) cs.oldest_pending = FromUnixMillis(r->Int(i, 18));
        if (!r->IsNull(i, 19)) cs.oldest_starting = FromUnixMillis(r->Int(i, 19));
        out.push_back(std::move(cs));
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<Activity> ReadActivity(TimePoint since) override {
    Activity out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out = Activity{};
      const int64_t from = ToUnixMillis(since);
      StatusOr<int64_t> first = BoundaryId(db, "events", "received_at", from);
      if (!first.ok()) return first.status();
      RELAY_PG_TRY(e, db.Exec("SELECT received_at / 3600000, COUNT(*) FROM events WHERE id >= $1 AND received_at >= $2 "
                              "GROUP BY 1",
                              {P(*first), P(from)}));
      for (int i = 0; i < e->rows(); ++i) out.webhooks_by_hour[e->Int(i, 0)] = e->Int(i, 1);
      RELAY_PG_TRY(q, db.Exec(std::string("SELECT ") + kSyncColumns +
                                  " FROM syncs WHERE status IN ('succeeded','failed') AND updated_at >= $1 ORDER BY id",
                              {P(from)}));
      for (int i = 0; i < q->rows(); ++i) out.finished.push_back(ReadSync(*q, i));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<int64_t>> AddTriggers(const std::string& event_id, const std::vector<NewTrigger>& triggers,
                                             TimePoint now) override {
    std::vector<int64_t> ids;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      ids.clear();
      const int64_t now_ms = ToUnixMillis(now);
      if (!event_id.empty()) {
        // In this transaction: retention may have removed the event since the caller read it.
        RELAY_PG_TRY(e, db.Exec("SELECT 1 FROM events WHERE event_id = $1 FOR SHARE", {P(event_id)}));
        if (e->rows() == 0) return NotFoundError("no event " + event_id);
      }
      return InsertTriggers(db, event_id, triggers, now_ms, ids);
    });
    if (!s.ok()) return s;
    return ids;
  }

  StatusOr<std::vector<int64_t>> RetryDead(const std::vector<int64_t>& ids, TimePoint now) override {
    std::vector<int64_t> moved;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      moved.clear();
      RELAY_PG_TRY(dead, db.Exec(
          PgSql(std::string("SELECT id, COALESCE(start_id, 0), conn_seq FROM trigger_view "
                            "WHERE id IN (") + sql::kTriggerIdsInStateSql +
                ") AND (?2 = '{}' OR id = ANY(?2::bigint[])) ORDER BY id"),
          {P(std::string(kDead)), P(PgIdArray(ids))}));
      // As on SQLite, each goes back to the end of its connection's queue: unsequenced, it
      // takes a new seq at the connection's next claim.
      const int64_t now_ms = ToUnixMillis(now);
      for (int i = 0; i < dead->rows(); ++i) {
        // Only if the row is still the one read as dead: a concurrent retry (or prune) of the
        // same trigger changed or removed it, and it must not be counted out of its start twice.
        RELAY_PG_TRY(moved_row, db.Exec(
            "UPDATE triggers SET state = 'pending', conn_seq = 0, created_at = $2, updated_at = $2, sync_id = NULL, "
            "last_error = NULL WHERE id = $1 AND conn_seq IS NOT DISTINCT FROM $3::bigint "
            "AND (conn_seq IS NOT NULL OR state = 'dead')",
            {P(dead->Int(i, 0)), P(now_ms), dead->IsNull(i, 2) ? std::nullopt : P(dead->Int(i, 2))}));
        if (moved_row->affected() == 0) continue;
        if (dead->Int(i, 1) != 0) {
          if (Status st = db.Run("UPDATE starts SET triggers = triggers - 1 WHERE id = $1", {P(dead->Int(i, 1))});
              !st.ok()) return st;
        }
        moved.push_back(dead->Int(i, 0));
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return moved;
  }

  StatusOr<PruneCounts> Prune(TimePoint cutoff, int batch, bool dry_run) override {
    PruneCounts out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out = PruneCounts{};
      const int64_t cut = ToUnixMillis(cutoff);
      const int64_t limit = batch;
      // One instance prunes at a time; the others find the lock taken and leave it to it.
      RELAY_PG_TRY(lock, db.Exec("SELECT pg_try_advisory_xact_lock($1)", {P(kPruneLock)}));
      if (lock->Text(0, 0) != "t") return Status::Ok();
      // As on SQLite: rows older than the cutoff sit below a boundary id found by binary search.
      StatusOr<int64_t> events_below = BoundaryId(db, "events", "received_at", cut);
      if (!events_below.ok()) return events_below.status();
      RELAY_PG_TRY(picked, db.Exec(
          "SELECT e.id, e.event_id FROM events e WHERE e.id < $1 AND e.received_at < $2 AND NOT EXISTS (SELECT 1 FROM "
          "trigger_view t WHERE t.event_id = e.event_id AND t.state IN ('pending','starting','running')) ORDER BY e.id "
          "LIMIT $3",
          {P(*events_below), P(cut), P(limit)}));
      std::vector<int64_t> ids;
      for (int i = 0; i < picked->rows(); ++i) ids.push_back(picked->Int(i, 0));
      out.events = static_cast<int64_t>(ids.size());
      const std::string id_array = PgIdArray(ids);
      auto count_or_delete = [&](const std::string& from_where, const std::vector<PgParam>& params, int64_t* n) -> Status {
        RELAY_PG_TRY(r, db.Exec((dry_run ? "SELECT COUNT(*)" : "DELETE") + from_where, params));
        *n += dry_run ? r->Int(0, 0) : r->affected();
        return Status::Ok();
      };
      // Each statement sees what committed before it (other instances write too): only final
      // triggers go, and only events with no trigger left.
      const std::string by_events =
          "SELECT id FROM trigger_view WHERE event_id IN (SELECT event_id FROM events WHERE id = ANY($1::bigint[])) "
          "AND state IN ('succeeded','failed','skipped','dead')";
      if (Status st = dry_run ? count_or_delete(" FROM triggers WHERE id IN (" + by_events + ")", {P(id_array)}, &out.triggers)
                              : DeleteTriggers(db, by_events, {P(id_array)}, &out.triggers);
          !st.ok()) return st;
      if (!dry_run) {
        int64_t deleted = 0;
        if (Status st = count_or_delete(" FROM events e WHERE e.id = ANY($1::bigint[]) AND NOT EXISTS "
                                        "(SELECT 1 FROM triggers t WHERE t.event_id = e.event_id)",
                                        {P(id_array)}, &deleted);
            !st.ok()) {
          return st;
        }
        out.events = deleted;
      }
      if (out.events == 0 || dry_run) {  // manual triggers, once the old events are gone
        StatusOr<int64_t> triggers_below = BoundaryId(db, "triggers", "created_at", cut);
        if (!triggers_below.ok()) return triggers_below.status();
        const std::string manual =
            "SELECT id FROM trigger_view WHERE id < $1 AND event_id IS NULL AND created_at < $2 "
            "AND state IN ('succeeded','failed','skipped','dead') ORDER BY id LIMIT $3";
        const std::vector<PgParam> params = {P(*triggers_below), P(cut), P(limit)};
        if (Status st = dry_run ? count_or_delete(" FROM triggers WHERE id IN (" + manual + ")", params, &out.triggers)
                                : DeleteTriggers(db, manual, params, &out.triggers);
            !st.ok()) return st;
      }
      if (Status st = count_or_delete(
              " FROM syncs WHERE id IN (SELECT id FROM syncs WHERE status IN ('succeeded','failed','unknown') "
              "AND updated_at < $1 ORDER BY id LIMIT $2)",
              {P(cut), P(limit)}, &out.syncs);
          !st.ok()) return st;
      // After the triggers: a start goes once no trigger refers to it.
      if (Status st = count_or_delete(PgSql(std::string(" FROM starts WHERE id IN (") + sql::kPrunableStartsSql + ")"),
                                      {P(cut), P(limit)}, &out.starts);
          !st.ok()) return st;
      if (Status st = count_or_delete(" FROM alerts WHERE id IN (SELECT id FROM alerts WHERE at < $1 ORDER BY id LIMIT $2)",
                                      {P(cut), P(limit)}, &out.alerts);
          !st.ok()) return st;
      StatusOr<int64_t> attempts_below = BoundaryId(db, "attempts", "at", cut);
      if (!attempts_below.ok()) return attempts_below.status();
      return count_or_delete(" FROM attempts WHERE id IN (SELECT id FROM attempts WHERE id < $1 AND at < $2 ORDER BY id LIMIT $3)",
                             {P(*attempts_below), P(cut), P(limit)}, &out.attempts);
    });
    if (!s.ok()) return s;
    return out;
  }

  // RunStore
  StatusOr<TimePoint> Watermark(const std::string& scope, TimePoint now) override {
    int64_t mark = 0;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      // Two instances seeing a scope first at once: one insert wins, both read its value.
      RELAY_PG_TRY(ins, db.Exec(PgSql(sql::kInsertWatermarkSql), {P(scope), P(ToUnixMillis(now))}));
      RELAY_PG_TRY(r, db.Exec(PgSql(sql::kWatermarkSql), {P(scope)}));
      if (r->rows() == 0) return InternalError("watermark of " + scope + " vanished");
      mark = r->Int(0, 0);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return FromUnixMillis(mark);
  }

  StatusOr<std::vector<RunOutcome>> KnownRuns(const std::vector<RunOutcome>& runs) override {
    std::vector<RunOutcome> out;
    if (runs.empty()) return out;
    std::vector<int64_t> ids, codes;
    for (const RunOutcome& r : runs) {
      ids.push_back(r.first);
      codes.push_back(r.second);
    }
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.clear();
      RELAY_PG_TRY(r, db.Exec(
          "SELECT e.run_id, e.run_status_code FROM unnest($1::bigint[], $2::bigint[]) AS k(run_id, code) "
          "JOIN events e ON e.run_id = k.run_id AND e.run_status_code = k.code AND e.run_once = 1",
          {P(PgIdArray(ids)), P(PgIdArray(codes))}));
      for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->Int(i, 0), static_cast<int>(r->Int(i, 1)));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<PendingVerification>> DueVerifications(TimePoint now, int limit) override {
    std::vector<PendingVerification> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.clear();
      RELAY_PG_TRY(r, db.Exec(PgSql(sql::kDueVerificationsSql), {P(ToUnixMillis(now)), P(int64_t{limit})}));
      for (int i = 0; i < r->rows(); ++i) {
        out.push_back({r->Text(i, 0), r->Text(i, 1), FromUnixMillis(r->Int(i, 2)), static_cast<int>(r->Int(i, 3))});
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<AppendResult> ResolveVerification(const std::string& event_id, std::string_view state, const std::string& note,
                                             int run_status_code, const std::vector<NewTrigger>& triggers,
                                             const std::vector<FanInStep>& fan_in, TimePoint now) override {
    AppendResult out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out = AppendResult{};
      const int64_t now_ms = ToUnixMillis(now);
      // The row lock taken here makes a second instance resolving the same event wait, then
      // find it no longer pending.
      RELAY_PG_TRY(upd, db.Exec(PgSql(sql::kResolveVerificationSql),
                                {P(event_id), P(std::string(state)), P(note), P(int64_t{run_status_code})}));
      if (upd->affected() == 0) {
        out.duplicate = true;
        return Status::Ok();
      }
      if (Status st = InsertTriggers(db, event_id, triggers, now_ms, out.trigger_ids); !st.ok()) return st;
      return ApplyFanIn(db, event_id, fan_in, now_ms, out);
    });
    if (!s.ok()) return s;
    return out;
  }

  Status PostponeVerification(const std::string& event_id, TimePoint next, const std::string& note) override {
    return exec_.RunSync([&](PgConn& db) -> Status {
      RELAY_PG_TRY(r, db.Exec(PgSql(sql::kPostponeVerificationSql), {P(event_id), P(ToUnixMillis(next)), P(note)}));
      return Status::Ok();
    });
  }

  StatusOr<std::vector<FanInRun>> ListFanInProgress() override {
    std::vector<FanInRun> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.clear();
      RELAY_PG_TRY(r, db.Exec(sql::kAllFanInProgressSql, {}));
      for (int i = 0; i < r->rows(); ++i) out.push_back(ReadFanInRun(*r, i));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  // AlertStore
  StatusOr<int> AddAlerts(const std::vector<NewAlert>& alerts) override {
    int added = 0;
    Status s = exec_.RunSync([&](PgConn& db) {
      added = 0;
      return InsertAlerts(db, alerts, &added);
    });
    if (!s.ok()) return s;
    return added;
  }

  StatusOr<std::optional<AlertSinkState>> ClaimAlertSink(const std::string& name, const std::string& owner, TimePoint now,
                                                        Duration lease) override {
    std::optional<AlertSinkState> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.reset();
      // The same lock as InsertAlerts: a new sink's position (the newest id) then has no
      // uncommitted alert below it.
      if (Status st = db.Run("SELECT pg_advisory_xact_lock(hashtext('retl-relay alerts'))"); !st.ok()) return st;
      if (Status st = db.Run(PgSql(sql::kInsertAlertSinkSql), {P(name)}); !st.ok()) return st;
      const int64_t now_ms = ToUnixMillis(now);
      RELAY_PG_TRY(l, db.Exec(PgSql(sql::kLeaseAlertSinkSql), {P(name), P(owner), P(now_ms), P(now_ms + lease.count())}));
      if (l->affected() == 0) return Status::Ok();
      RELAY_PG_TRY(r, db.Exec(std::string("SELECT ") + sql::kAlertSinkColumns + " FROM alert_sinks WHERE name = $1",
                              {P(name)}));
      if (r->rows() > 0) out = ReadAlertSink(*r, 0);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<StoredAlert>> AlertsAfter(int64_t after, int limit) override {
    std::vector<StoredAlert> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.clear();
      RELAY_PG_TRY(r, db.Exec(std::string("SELECT ") + sql::kAlertColumns +
                                  " FROM alerts WHERE id > $1 ORDER BY id LIMIT $2",
                              {P(after), P(int64_t{limit})}));
      for (int i = 0; i < r->rows(); ++i) out.push_back(ReadAlert(*r, i));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  Status SaveAlertSink(const AlertSinkState& st, const std::string& owner) override {
    return exec_.RunSync([&](PgConn& db) -> Status {
      RELAY_PG_TRY(r, db.Exec(PgSql(sql::kSaveAlertSinkSql),
                              {P(st.name), P(owner), P(st.last_alert_id),
                               st.last_sent_at ? P(ToUnixMillis(*st.last_sent_at)) : std::nullopt,
                               P(int64_t{st.attempts}), P(ToUnixMillis(st.next_at)), P(st.last_error), P(st.delivered)}));
      if (r->affected() == 0) return Status(StatusCode::kFailedPrecondition, "alert sink " + st.name + ": lease lost");
      return Status::Ok();
    });
  }

  StatusOr<std::vector<AlertSinkState>> ListAlertSinks() override {
    std::vector<AlertSinkState> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.clear();
      RELAY_PG_TRY(r, db.Exec(std::string("SELECT ") + sql::kAlertSinkColumns + " FROM alert_sinks ORDER BY name", {}));
      for (int i = 0; i < r->rows(); ++i) out.push_back(ReadAlertSink(*r, i));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<StartRuns> RunsOfStart(const std::string& connection_id, int64_t start_id, int limit) override {
    StartRuns out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out = StartRuns{};
      RELAY_PG_TRY(n, db.Exec(PgSql(sql::kStartTriggersSql), {P(connection_id), P(start_id)}));
      if (n->rows() > 0) out.triggers = n->Int(0, 0);
      RELAY_PG_TRY(r, db.Exec(PgSql(sql::kRunsOfStartSql), {P(connection_id), P(start_id), P(int64_t{limit})}));
      for (int i = 0; i < r->rows(); ++i) AddStartRun(r->Text(i, 0), r->Int(i, 1), r->Text(i, 2), r->Text(i, 3), limit, out);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  // Reachable is not enough: a hot standby, read-only transactions or a user without write
  // grants would fail every webhook's commit.
  Status Ping() override {
    return exec_.RunSync([](PgConn& db) -> Status {
      RELAY_PG_TRY(t, db.Exec("SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
                              "has_table_privilege('events', 'INSERT') AND has_table_privilege('connections', 'UPDATE')"));
      if (t->Text(0, 0) == "t") return UnavailableError("postgres: the server is a read-only standby");
      if (t->Text(0, 1) == "on") return UnavailableError("postgres: transactions are read-only (default_transaction_read_only)");
      if (t->Text(0, 2) != "t") {
        return UnavailableError("postgres: this user may not write the relay's tables (INSERT on events, UPDATE on connections)");
      }
      // A commit that must reach the disk, like a webhook's (see SqliteStore::Ping).
      return db.Run(sql::kPostgresWriteProbeSql);
    }, /*rerunnable=*/true);
  }

  Status LastCommit() override { return exec_.LastWriteFailure(); }

  StatusOr<Gauges> ReadGauges() override {
    Gauges g;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      g = Gauges{};
      RELAY_PG_TRY(t, db.Exec(std::string("SELECT COALESCE(SUM(p), 0), COALESCE(SUM(d), 0), MIN(o) FROM (SELECT ") +
                              sql::kPendingOfConnection + " AS p, " + sql::kDeadOfConnection + " AS d, " +
                              sql::kOldestPendingOfConnection + " AS o FROM connections c) g"));
      g.pending = t->Int(0, 0);
      g.dead = t->Int(0, 1);
      if (!t->IsNull(0, 2)) g.oldest_pending = FromUnixMillis(t->Int(0, 2));
      RELAY_PG_TRY(c, db.Exec("SELECT phase, COUNT(*) FROM connections GROUP BY phase"));
      for (int i = 0; i < c->rows(); ++i) g.connections_by_phase[c->Text(i, 0)] = c->Int(i, 1);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return g;
  }

  // Reads the schema version without writing anything: what the CLI opens with.
  Status CheckSchema() {
    return exec_.RunSync([](PgConn& db) -> Status {
      RELAY_PG_TRY(t, db.Exec("SELECT to_regclass('schema_version') IS NOT NULL"));
      if (t->Text(0, 0) != "t") return SchemaProblem(-1, static_cast<int>(PostgresMigrations().size()));
      RELAY_PG_TRY(v, db.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
      return SchemaProblem(static_cast<int>(v->Int(0, 0)), static_cast<int>(PostgresMigrations().size()));
    });
  }

  Status Migrate(int up_to) {
    return exec_.RunSync([up_to](PgConn& db) -> Status {
      // Inside the writer's transaction: the transaction-scoped advisory lock serialises
      // instances starting together; the second one finds the work done.
      if (Status s = db.Run("SELECT pg_advisory_xact_lock($1)", {P(kMigrationLock)}); !s.ok()) return s;
      if (Status s = db.Run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); !s.ok()) return s;
      RELAY_PG_TRY(v, db.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
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
    });
  }

 private:
  static std::vector<std::unique_ptr<PgConn>> Connections(const std::string& url) {
    std::vector<std::unique_ptr<PgConn>> v;
    for (int i = 0; i < kWriters; ++i) v.push_back(std::make_unique<PgConn>(url));
    return v;
  }

  static BatchExecutor<PgConn>::Dialect PgDialect() {
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

  StatusOr<std::vector<Trigger>> Triggers(const std::string& sql, const std::vector<PgParam>& params) {
    std::vector<Trigger> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.clear();
      RELAY_PG_TRY(r, db.Exec(sql, params));
      for (int i = 0; i < r->rows(); ++i) out.push_back(ReadTrigger(*r, i));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<Attempt>> Attempts(const std::string& sql, const std::vector<PgParam>& params) {
    std::vector<Attempt> out;
    Status s = exec_.RunSync([&](PgConn& db) -> Status {
      out.clear();
      RELAY_PG_TRY(r, db.Exec(sql, params));
      for (int i = 0; i < r->rows(); ++i) {
        out.push_back(Attempt{r->Text(i, 0), r->Text(i, 1), FromUnixMillis(r->Int(i, 2)), r->Int(i, 3),
                              static_cast<int>(r->Int(i, 4)), r->Text(i, 5), r->Text(i, 6), 0});
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  // Gives the connection's unsequenced triggers (conn_seq 0: stored by ingest, a replay or a
  // retry) the next seqs, oldest first (a retried trigger's created_at is its retry: expiry's
  // binary search relies on created_at growing with seq), and updates its counters: one statement, under the
  // connection row's lock that the claim holds. Only committed triggers are visible here, so
  // the seqs follow the order in which triggers became visible: a claim that reads seq N has
  // every trigger up to N, whatever commits later gets a higher seq. Each trigger is sequenced
  // once, so the cost is the arrivals since the last claim, never the backlog.
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

  // Creates the connection's row on first sight. The NOT EXISTS check reads the snapshot and
  // never waits; a bare INSERT … ON CONFLICT would wait for a lifecycle step updating the same
  // row, and two writers doing that in opposite orders deadlock.
  static Status EnsureConnection(PgConn& db, const std::string& id, int64_t now_ms) {
    return db.Run("INSERT INTO connections (id, updated_at) SELECT $1, $2 "
                  "WHERE NOT EXISTS (SELECT 1 FROM connections WHERE id = $1) ON CONFLICT (id) DO NOTHING",
                  {P(id), P(now_ms)});
  }

  // Deletes the triggers whose ids `ids_sql` selects, adding how many to *count, and takes
  // exactly those out of their starts' counts (a dead start's count is what `dead` and the
  // gauges report). The conditions on the rows themselves are checked again on the row versions
  // the DELETE locks: a trigger retried meanwhile (conn_seq 0 now, or pending) stays.
  static Status DeleteTriggers(PgConn& db, const std::string& ids_sql, const std::vector<PgParam>& params,
                               int64_t* count) {
    RELAY_PG_TRY(r, db.Exec(
        "WITH d AS (DELETE FROM triggers WHERE id IN (" + ids_sql + ") AND conn_seq IS DISTINCT FROM 0 "
        "           AND (conn_seq IS NOT NULL OR state IN ('succeeded','failed','skipped','dead')) "
        "           RETURNING connection_id, conn_seq), "
        "u AS (UPDATE starts s SET triggers = s.triggers - x.n FROM (SELECT st.id, COUNT(*) AS n FROM d JOIN starts st "
        "      ON st.connection_id = d.connection_id AND d.conn_seq > st.seq_lo AND d.conn_seq <= st.seq_hi "
        "      GROUP BY st.id) x WHERE s.id = x.id RETURNING 1) "
        "SELECT (SELECT COUNT(*) FROM d), (SELECT COUNT(*) FROM u)",
        params));
    *count += r->Int(0, 0);
    return Status::Ok();
  }

  // One round trip: retl_relay_append (migration 3) does it server-side.
  static Status DoAppend(PgConn& db, const NewEvent& ev, const std::vector<NewTrigger>& triggers, AppendResult& out) {
    out = AppendResult{};  // a job may run again
    std::vector<std::string> routes, connections, types, policies, keys;
    for (const NewTrigger& t : triggers) {
      routes.push_back(t.route);
      connections.push_back(t.connection_id);
      types.push_back(t.sync_type);
      policies.push_back(t.if_running);
      keys.push_back(t.dedupe_key);
    }
    RELAY_PG_TRY(r, db.Exec(
        "SELECT retl_relay_append($1, $2, $3::bigint, $4::bigint, $5::bigint, $6::integer, $7::bigint, $8, $9::text[], "
        "$10::text[], $11::text[], $12::text[], $13::text[], $14, $15::integer, $16)",
        {P(ev.event_id), P(ev.event_type), ev.account_id ? P(*ev.account_id) : std::nullopt, P(ev.job_id),
         P(ev.run_id), P(int64_t{ev.run_status_code}), P(ToUnixMillis(ev.received_at)), P(ev.raw_body),
         P(PgTextArray(routes)), P(PgTextArray(connections)), P(PgTextArray(types)), P(PgTextArray(policies)),
         P(PgTextArray(keys)), P(ev.source), ev.records_outcome ? P(int64_t{1}) : std::nullopt,
         ev.verify ? P(std::string(kVerifyPending)) : std::nullopt}));
    if (r->rows() != 1) return InternalError("retl_relay_append returned no row");
    if (r->IsNull(0, 0) || r->Text(0, 0) == "{-1}") {
      out.duplicate = true;
      out.duplicate_run = !r->IsNull(0, 0);
      return Status::Ok();
    }
    std::optional<std::vector<int64_t>> ids = ParsePgIdArray(r->Text(0, 0));
    if (!ids || ids->size() != triggers.size()) return InternalError("retl_relay_append: unexpected result " + r->Text(0, 0));
    out.trigger_ids = std::move(*ids);
    return ApplyFanIn(db, ev.event_id, ev.fan_in, ToUnixMillis(ev.received_at), out);
  }

  // Unsequenced, as ingest stores them: the connection's next claim sequences them. Appends each
  // new trigger's id (0 for a dedupe key seen before) to `ids`. An empty event id (a manual
  // trigger) or dedupe key (manual, replay) is stored as NULL: such a trigger never conflicts.
  static Status InsertTriggers(PgConn& db, const std::string& event_id, const std::vector<NewTrigger>& triggers,
                               int64_t now_ms, std::vector<int64_t>& ids) {
    for (const NewTrigger& t : triggers) {
      RELAY_PG_TRY(r, db.Exec(
          "INSERT INTO triggers (event_id, route, connection_id, sync_type, if_running, dedupe_key, state, "
          "created_at, next_attempt_at, updated_at, conn_seq) VALUES (NULLIF($1, ''), $2, $3, $4, $5, NULLIF($6, ''), "
          "'pending', $7, $7, $7, 0) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
          {P(event_id), P(t.route), P(t.connection_id), P(t.sync_type), P(t.if_running), P(t.dedupe_key), P(now_ms)}));
      ids.push_back(r->rows() > 0 ? r->Int(0, 0) : 0);
      if (r->rows() > 0) {
        if (Status c = EnsureConnection(db, t.connection_id, now_ms); !c.ok()) return c;
      }
    }
    return Status::Ok();
  }

  // Counts the event's run toward each fan-in route and fires those it completes
  // (store::FanInStep). A transaction-scoped advisory lock serialises instances: under READ
  // COMMITTED the second one, once the first has committed, reads its run too. One lock for
  // every fan-in route, not one per route: a batch holding two could otherwise meet another
  // batch holding them in the other order.
  static Status ApplyFanIn(PgConn& db, const std::string& event_id, const std::vector<FanInStep>& steps, int64_t now_ms,
                           AppendResult& out) {
    for (const FanInStep& step : steps) {
      FanInResult res;
      res.route = step.route;
      if (Status st = db.Run("SELECT pg_advisory_xact_lock(hashtext('retl-relay fan-in'))"); !st.ok()) return st;
      const int64_t at = step.at ? ToUnixMillis(*step.at) : now_ms;
      if (Status st = db.Run(PgSql(sql::kInsertFanInSql), {P(step.route), P(step.job_id), P(step.run_id), P(event_id), P(at)});
          !st.ok()) return st;
      if (Status st = db.Run(PgSql(sql::kCapFanInSql), {P(step.route), P(step.job_id), P(int64_t{kFanInRunsPerJob})});
          !st.ok()) return st;
      RELAY_PG_TRY(rows, db.Exec(PgSql(sql::kFanInProgressSql), {P(step.route)}));
      std::vector<FanInRun> progress;
      for (int i = 0; i < rows->rows(); ++i) progress.push_back(ReadFanInRun(*rows, i));
      const FanInDecision d = DecideFanIn(step, progress);
      if (d.fire) {
        if (Status st = db.Run(PgSql(sql::kClearFanInSql), {P(step.route)}); !st.ok()) return st;
        if (Status st = InsertTriggers(db, event_id, step.fire, now_ms, res.trigger_ids); !st.ok()) return st;
        const std::string runs = FanInRunsJson(d.counted);
        for (int64_t id : res.trigger_ids) {
          if (id == 0) continue;
          if (Status st = db.Run(PgSql(sql::kSetFanInRunsSql), {P(id), P(runs)}); !st.ok()) return st;
        }
        res.fired = true;
        res.runs = d.counted;
      } else {
        if (d.expire_before) {
          if (Status st = db.Run(PgSql(sql::kExpireFanInSql), {P(step.route), P(ToUnixMillis(*d.expire_before))});
              !st.ok()) return st;
        }
        res.waiting_for = d.waiting_for;
      }
      out.fan_in.push_back(std::move(res));
    }
    return Status::Ok();
  }

  // Alert ids must commit in id order, or a sink whose position passed id N+1 would never see
  // N committed after it: inserts take one transaction-scoped lock, held to the commit. Alerts
  // are rare; only the transactions that raise one wait.
  static Status InsertAlerts(PgConn& db, const std::vector<NewAlert>& alerts, int* added) {
    if (alerts.empty()) return Status::Ok();
    if (Status st = db.Run("SELECT pg_advisory_xact_lock(hashtext('retl-relay alerts'))"); !st.ok()) return st;
    for (const NewAlert& a : alerts) {
      RELAY_PG_TRY(r, db.Exec(PgSql(sql::kInsertAlertSql),
                              {P(a.kind), P(ToUnixMillis(a.at)), P(a.connection_id), P(a.sync_id), P(a.start_id), P(a.error),
                               P(a.summary), a.dedupe_key.empty() ? std::nullopt : P(a.dedupe_key)}));
      *added += static_cast<int>(r->affected());
    }
    return Status::Ok();
  }

  // `ids`: the ids of t.starts once written (reset on entry: a job may run again).
  static Status DoCommit(PgConn& db, const Transition& t, std::vector<int64_t>& ids) {
    ids.clear();
    const Connection& c = t.connection;
    const int64_t now_ms = ToUnixMillis(t.now);
    RELAY_PG_TRY(upd, db.Exec(
        "UPDATE connections SET phase = $3, sync_id = $4, start_attempted_at = $5, sync_type = $6, attempts = $7, "
        "next_check_at = $8, phase_since = $9, last_error = $10, updated_at = $11, "
        "lease_owner = CASE WHEN $12 THEN NULL ELSE lease_owner END, "
        "lease_until = CASE WHEN $12 THEN NULL ELSE lease_until END, covered = $13 "
        "WHERE id = $1 AND lease_owner = $2",
        {P(c.id), P(t.owner), P(c.phase), P(c.sync_id),
         c.start_attempted_at ? P(ToUnixMillis(*c.start_attempted_at)) : std::nullopt, P(c.sync_type),
         P(int64_t{c.attempts}), P(ToUnixMillis(c.next_check_at)), P(ToUnixMillis(c.phase_since)), P(c.last_error),
         P(now_ms), P(t.release ? "true" : "false"), P(c.covered)}));
    // Fencing: a worker whose lease expired and was taken over must not write anything.
    if (upd->affected() == 0) return Status(StatusCode::kFailedPrecondition, "lease lost on " + c.id);
    for (const Start& st : t.starts) {
      const std::vector<PgParam> params = {
          P(st.id), P(c.id), P(st.seq_lo), P(st.seq_hi), P(st.triggers), P(st.sync_type), P(int64_t{st.policies}),
          P(st.state), P(st.sync_id), P(st.error), P(ToUnixMillis(st.oldest)),
          st.attempted_at ? P(ToUnixMillis(*st.attempted_at)) : std::nullopt, P(now_ms)};
      RELAY_PG_TRY(r, db.Exec(
          st.id == 0
              ? "INSERT INTO starts (connection_id, seq_lo, seq_hi, triggers, sync_type, policies, state, sync_id, error, "
                "oldest_at, attempted_at, created_at, updated_at) SELECT $2, $3, $4, $5, $6, $7, $8, NULLIF($9, ''), "
                "NULLIF($10, ''), $11, $12::bigint, $13, $13 WHERE $1::bigint = 0 RETURNING id"
              : "UPDATE starts SET seq_lo = $3, seq_hi = $4, triggers = $5, sync_type = $6, policies = $7, state = $8, "
                "sync_id = NULLIF($9, ''), error = NULLIF($10, ''), oldest_at = $11, attempted_at = $12::bigint, "
                "updated_at = $13 WHERE id = $1::bigint AND connection_id = $2 RETURNING id",
          params));
      if (r->rows() == 0) return InternalError("start " + std::to_string(st.id) + " of " + c.id + " not found");
      ids.push_back(r->Int(0, 0));
    }
    for (const Sync& s : t.syncs) {
      if (Status st = db.Run(
              "INSERT INTO syncs (connection_id, sync_id, status, origin, sync_type, started_at_text, finished_at_text, "
              "error, metrics_succeeded, metrics_failed, metrics_changed, metrics_total, updated_at) "
              "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
              "ON CONFLICT (connection_id, sync_id) DO UPDATE SET status = EXCLUDED.status, "
              "started_at_text = CASE WHEN EXCLUDED.started_at_text = '' THEN syncs.started_at_text "
              "ELSE EXCLUDED.started_at_text END, finished_at_text = EXCLUDED.finished_at_text, error = EXCLUDED.error, "
              "metrics_succeeded = EXCLUDED.metrics_succeeded, metrics_failed = EXCLUDED.metrics_failed, "
              "metrics_changed = EXCLUDED.metrics_changed, metrics_total = EXCLUDED.metrics_total, "
              "updated_at = EXCLUDED.updated_at",
              {P(s.connection_id), P(s.sync_id), P(s.status), P(s.origin), P(s.sync_type), P(s.started_at),
               P(s.finished_at), P(s.error), P(s.succeeded), P(s.failed), P(s.changed), P(s.total), P(now_ms)});
          !st.ok()) {
        return st;
      }
    }
    for (const Attempt& a : t.attempts) {
      if (Status s = db.Run("INSERT INTO attempts (connection_id, kind, at, latency_ms, http_status, outcome, sync_id, "
                            "start_id) VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8::bigint, 0))",
                            {P(a.connection_id), P(a.kind), P(ToUnixMillis(a.at)), P(a.latency_ms),
                             P(int64_t{a.http_status}), P(a.outcome), P(a.sync_id), P(a.start_id)});
          !s.ok()) {
        return s;
      }
    }
    std::vector<NewAlert> alerts = t.alerts;
    for (NewAlert& a : alerts) {
      if (a.start_index >= 0 && static_cast<size_t>(a.start_index) < ids.size()) a.start_id = ids[static_cast<size_t>(a.start_index)];
    }
    int added = 0;
    return InsertAlerts(db, alerts, &added);
  }

  BatchExecutor<PgConn> exec_;
};

}  // namespace

StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, OpenOptions options) {
  auto store = std::make_unique<PostgresStore>(url);
  if (Status s = options.migrate ? store->Migrate(options.schema_version) : store->CheckSchema(); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace relay::store
