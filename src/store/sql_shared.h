#pragma once
// SQL that both backends run as it is, written with SQLite's ?N parameters; PgSql() turns them
// into PostgreSQL's $N. Private to the store module. docs/schema.md explains the model: a
// trigger's state is its start's (trigger_view), a connection's pending triggers are those with
// seq above its `covered` watermark, and the connection's row keeps the counters. On SQLite a
// trigger takes its seq at ingest; on PostgreSQL it is stored unsequenced (conn_seq 0, pending)
// and the next claim of its connection sequences it (PgDialect::Sequence in postgres_store.cc
// explains why).

#include <cctype>
#include <string>

namespace relay::store::sql {

// ?N → $N.
inline std::string PgSql(std::string s) {
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] == '?' && std::isdigit(static_cast<unsigned char>(s[i + 1]))) s[i] = '$';
  }
  return s;
}

// Columns of a store::Trigger, read from trigger_view.
inline constexpr const char* kTriggerColumns =
    "id, COALESCE(event_id,''), route, connection_id, sync_type, if_running, state, attempts, "
    "created_at, next_attempt_at, COALESCE(last_error,''), COALESCE(sync_id,''), COALESCE(start_id,0), "
    "COALESCE(fan_in_runs,'')";

// Columns of a store::StoredEvent.
inline constexpr const char* kEventColumns =
    "id, event_id, event_type, job_id, run_id, run_status_code, received_at, raw_body, source, "
    "COALESCE(verify_state,''), COALESCE(verify_note,'')";

// Columns of a store::Start.
inline constexpr const char* kStartColumns =
    "id, connection_id, seq_lo, seq_hi, triggers, sync_type, policies, state, COALESCE(sync_id,''), "
    "COALESCE(error,''), oldest_at, attempted_at";

// Ids of the triggers whose state reads as ?1, found through indexes rather than by computing
// every trigger's state: rows from before schema 5 by their own state, the others by the
// starts in that state (a queued start's triggers read as pending) and, for pending, by the
// connections' watermarks.
inline constexpr const char* kTriggerIdsInStateSql =
    "SELECT t.id FROM connections c JOIN triggers t ON t.connection_id = c.id AND t.state = ?1 "
    "  AND t.conn_seq IS NULL "
    "UNION ALL SELECT t.id FROM starts s JOIN triggers t ON t.connection_id = s.connection_id "
    "  AND t.conn_seq > s.seq_lo AND t.conn_seq <= s.seq_hi "
    "  WHERE s.state = CASE WHEN ?1 = 'pending' THEN 'queued' ELSE ?1 END "
    "UNION ALL SELECT t.id FROM connections c JOIN triggers t ON t.connection_id = c.id AND t.conn_seq > c.covered "
    "  WHERE ?1 = 'pending' "
    "UNION ALL SELECT t.id FROM connections c JOIN triggers t ON t.connection_id = c.id AND t.conn_seq = 0 "
    "  WHERE ?1 = 'pending'";

// A new trigger takes its connection's next seq (?1 connection, ?2 sync_type, ?3 if_running,
// ?4 now), the connection's row created on first sight; the counters follow. Append
// " RETURNING seq" for the seq taken.
inline constexpr const char* kTakeSeqSql =
    "INSERT INTO connections (id, updated_at, seq, last_full_seq, last_skip_seq, last_queue_seq, last_restart_seq) "
    "VALUES (?1, ?4, 1, CASE WHEN ?2 = 'full' THEN 1 ELSE 0 END, CASE WHEN ?3 = 'skip' THEN 1 ELSE 0 END, "
    "CASE WHEN ?3 = 'queue' THEN 1 ELSE 0 END, CASE WHEN ?3 = 'restart' THEN 1 ELSE 0 END) "
    "ON CONFLICT (id) DO UPDATE SET seq = connections.seq + 1, "
    "last_full_seq = CASE WHEN ?2 = 'full' THEN connections.seq + 1 ELSE connections.last_full_seq END, "
    "last_skip_seq = CASE WHEN ?3 = 'skip' THEN connections.seq + 1 ELSE connections.last_skip_seq END, "
    "last_queue_seq = CASE WHEN ?3 = 'queue' THEN connections.seq + 1 ELSE connections.last_queue_seq END, "
    "last_restart_seq = CASE WHEN ?3 = 'restart' THEN connections.seq + 1 ELSE connections.last_restart_seq END";

// The backlog columns of a connection (?1), after its Connection columns.
inline constexpr const char* kBacklogSql =
    "SELECT seq, last_full_seq, last_skip_seq, last_queue_seq, last_restart_seq, "
    "(SELECT t.created_at FROM triggers t WHERE t.connection_id = c.id AND t.conn_seq > c.covered "
    " ORDER BY t.conn_seq LIMIT 1) FROM connections c WHERE c.id = ?1";

// The unfinished start of a connection (?1): there is at most one.
inline const std::string kCurrentStartSql = std::string("SELECT ") + kStartColumns +
                                            " FROM starts WHERE connection_id = ?1 AND state IN "
                                            "('starting','queued','running') ORDER BY id DESC LIMIT 1";

// The first trigger of connection ?1 with seq in [?2, ?3]: for FindAged's binary search.
inline constexpr const char* kFirstFromSeqSql =
    "SELECT conn_seq, created_at FROM triggers WHERE connection_id = ?1 AND conn_seq >= ?2 AND conn_seq <= ?3 "
    "ORDER BY conn_seq LIMIT 1";

// Per connection c: pending triggers (above the watermark, and those of a queued start), and dead
// ones (rows from before schema 5, and those of dead starts). Index lookups only.
inline constexpr const char* kPendingOfConnection =
    "(c.seq - c.covered + COALESCE((SELECT SUM(s.triggers) FROM starts s WHERE s.connection_id = c.id "
    "AND s.state = 'queued'), 0) + (SELECT COUNT(*) FROM triggers t WHERE t.connection_id = c.id AND t.conn_seq = 0))";
inline constexpr const char* kDeadOfConnection =
    "((SELECT COUNT(*) FROM triggers t WHERE t.connection_id = c.id AND t.state = 'dead' AND t.conn_seq IS NULL) "
    "+ COALESCE((SELECT SUM(s.triggers) FROM starts s WHERE s.connection_id = c.id AND s.state = 'dead'), 0))";
inline constexpr const char* kOldestPendingOfConnection =
    "(SELECT MIN(o) FROM (SELECT (SELECT t.created_at FROM triggers t WHERE t.connection_id = c.id "
    "AND t.conn_seq > c.covered ORDER BY t.conn_seq LIMIT 1) AS o UNION ALL SELECT s.oldest_at FROM starts s "
    "WHERE s.connection_id = c.id AND s.state = 'queued' UNION ALL SELECT MIN(t.created_at) FROM triggers t "
    "WHERE t.connection_id = c.id AND t.conn_seq = 0) AS x)";

// Final starts that no trigger refers to any more, last updated before ?1 (at most ?2).
inline constexpr const char* kPrunableStartsSql =
    "SELECT s.id FROM starts s WHERE s.state IN ('succeeded','failed','skipped','dead') AND s.updated_at < ?1 "
    "AND NOT EXISTS (SELECT 1 FROM triggers t WHERE t.connection_id = s.connection_id AND t.conn_seq > s.seq_lo "
    "AND t.conn_seq <= s.seq_hi) ORDER BY s.id LIMIT ?2";

// The (run id, status) outcomes among ?1.. that an event records (uses events_run_outcome).
inline std::string KnownRunsSql(size_t n) {
  std::string sql = "SELECT run_id, run_status_code FROM events WHERE run_once = 1 AND (";
  for (size_t i = 0; i < n; ++i) {
    sql += (i ? " OR " : "") + std::string("(run_id = ?") + std::to_string(2 * i + 1) + " AND run_status_code = ?" +
           std::to_string(2 * i + 2) + ")";
  }
  return sql + ")";
}

// Events whose verification is due at ?1, oldest first, at most ?2.
inline constexpr const char* kDueVerificationsSql =
    "SELECT event_id, raw_body, received_at, verify_attempts FROM events WHERE verify_state = 'pending' "
    "AND verify_next_at <= ?1 ORDER BY verify_next_at, id LIMIT ?2";

// Postpones the verification of event ?1 to ?2 with note ?3.
inline constexpr const char* kPostponeVerificationSql =
    "UPDATE events SET verify_next_at = ?2, verify_note = ?3, verify_attempts = verify_attempts + 1 "
    "WHERE event_id = ?1 AND verify_state = 'pending'";

// Ends the verification of event ?1 (state ?2, note ?3) if it is still pending, and records the
// run's verified status ?4 as the event's, unless another event records that outcome already.
inline constexpr const char* kResolveVerificationSql =
    "UPDATE events SET verify_state = ?2, verify_note = ?3, run_status_code = CASE WHEN run_status_code = ?4 "
    "OR EXISTS (SELECT 1 FROM events o WHERE o.run_once = 1 AND o.run_id = events.run_id AND o.run_status_code = ?4) "
    "THEN run_status_code ELSE ?4 END WHERE event_id = ?1 AND verify_state = 'pending'";

// A reconciliation scope's watermark, stored (?2) on first sight; then read with kWatermarkSql.
inline constexpr const char* kInsertWatermarkSql =
    "INSERT INTO reconcile_watermarks (scope, watermark) VALUES (?1, ?2) ON CONFLICT (scope) DO NOTHING";
inline constexpr const char* kWatermarkSql = "SELECT watermark FROM reconcile_watermarks WHERE scope = ?1";

// Fan-in progress of route ?1, by time.
inline constexpr const char* kFanInProgressSql =
    "SELECT route, job_id, run_id, event_id, at FROM fanin_progress WHERE route = ?1 ORDER BY at, job_id, run_id";
inline constexpr const char* kAllFanInProgressSql =
    "SELECT route, job_id, run_id, event_id, at FROM fanin_progress ORDER BY route, at, job_id, run_id";
inline constexpr const char* kInsertFanInSql =
    "INSERT INTO fanin_progress (route, job_id, run_id, event_id, at) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (route, job_id, run_id) DO NOTHING";
// Keeps the newest ?3 runs of job ?2 for route ?1: a job that runs every few minutes while
// another is broken does not make every event read an ever longer progress.
inline constexpr const char* kCapFanInSql =
    "DELETE FROM fanin_progress WHERE route = ?1 AND job_id = ?2 AND run_id NOT IN (SELECT run_id FROM fanin_progress "
    "WHERE route = ?1 AND job_id = ?2 ORDER BY at DESC, run_id DESC LIMIT ?3)";
inline constexpr const char* kExpireFanInSql = "DELETE FROM fanin_progress WHERE route = ?1 AND at < ?2";
inline constexpr const char* kClearFanInSql = "DELETE FROM fanin_progress WHERE route = ?1";
inline constexpr const char* kSetFanInRunsSql = "UPDATE triggers SET fan_in_runs = ?2 WHERE id = ?1";

// Alerts.
inline constexpr const char* kInsertAlertSql =
    "INSERT INTO alerts (kind, at, connection_id, sync_id, start_id, error, summary, dedupe_key) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING";
inline constexpr const char* kAlertColumns = "id, kind, at, connection_id, sync_id, start_id, error, summary, "
                                             "COALESCE(dedupe_key,'')";
inline constexpr const char* kAlertSinkColumns =
    "name, last_alert_id, last_sent_at, attempts, next_at, last_error, delivered";
// A sink's row on first sight, positioned after the newest alert (?2 now).
inline constexpr const char* kInsertAlertSinkSql =
    "INSERT INTO alert_sinks (name, last_alert_id, next_at) VALUES (?1, (SELECT COALESCE(MAX(id), 0) FROM alerts), 0) "
    "ON CONFLICT (name) DO NOTHING";
// Leases sink ?1 to ?2 until ?4 when due at ?3 and free.
inline constexpr const char* kLeaseAlertSinkSql =
    "UPDATE alert_sinks SET lease_owner = ?2, lease_until = ?4 WHERE name = ?1 AND next_at <= ?3 "
    "AND (lease_owner IS NULL OR lease_until <= ?3 OR lease_owner = ?2)";
inline constexpr const char* kSaveAlertSinkSql =
    "UPDATE alert_sinks SET last_alert_id = ?3, last_sent_at = ?4, attempts = ?5, next_at = ?6, last_error = ?7, "
    "delivered = ?8, lease_owner = NULL, lease_until = NULL WHERE name = ?1 AND lease_owner = ?2";
// The first ?3 triggers of start ?2 of connection ?1, with their events' run ids.
inline constexpr const char* kRunsOfStartSql =
    "SELECT COALESCE(t.event_id,''), COALESCE(e.run_id,0), COALESCE(t.fan_in_runs,''), t.route FROM starts s "
    "JOIN triggers t ON t.connection_id = s.connection_id AND t.conn_seq > s.seq_lo AND t.conn_seq <= s.seq_hi "
    "LEFT JOIN events e ON e.event_id = t.event_id WHERE s.id = ?2 AND s.connection_id = ?1 "
    "ORDER BY t.conn_seq LIMIT ?3";
inline constexpr const char* kStartTriggersSql = "SELECT triggers FROM starts WHERE id = ?2 AND connection_id = ?1";

// SQLite's HealthStore::Ping write: the rows changed and changed back in one transaction (run
// with Db::Exec, both statements), so the commit must reach the disk: SQLite skips writing a
// row set to the value it has, and an empty commit writes nothing. No reader sees the middle.
inline constexpr char kSqliteWriteProbeSql[] =
    "UPDATE schema_version SET version = -version; UPDATE schema_version SET version = -version";
// PostgreSQL's: a transaction id makes the commit write (and flush) a commit record, with no
// table, row lock or grant involved.
inline constexpr char kPostgresWriteProbeSql[] = "SELECT txid_current()";

}  // namespace relay::store::sql
