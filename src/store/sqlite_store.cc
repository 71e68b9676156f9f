#include "store/sqlite_store.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "store/schema.h"
#include "store/sql_store.h"
#include "store/sqlite_db.h"

namespace relay::store {

const std::string kSqliteEventTriggersSql = std::string("SELECT ") + sql::kTriggerColumns +
                                            " FROM trigger_view WHERE event_seq = (SELECT id FROM events WHERE event_id = ?1)"
                                            " ORDER BY id";

namespace {

// Upper bound on jobs per transaction, so a flood cannot make one commit arbitrarily long.
constexpr size_t kMaxBatch = 512;

// SQLite's side of SqlStore (sql_store.h). One connection, one writer thread: SQLite has one
// writer at a time anyway, and routing every statement (reads too) through it removes
// SQLITE_BUSY inside the process and means nothing needs a lock. A trigger takes its
// connection's seq as it is stored.
struct SqliteDialect {
  using Conn = Db;

  static constexpr const char* kSyncOrder = "rowid";
  static constexpr const char* kLastSyncJoin =
      "LEFT JOIN syncs s ON s.rowid = (SELECT rowid FROM syncs x WHERE x.connection_id = c.id AND x.origin != 'external' "
      "ORDER BY x.updated_at DESC, x.rowid DESC LIMIT 1)";
  static constexpr const char* kClaimableUnsequenced = "";  // every trigger has its seq
  static constexpr const char* kClaimLock = "";
  static constexpr const char* kForShare = "";
  static constexpr const char* kTriggerOfEvent = "t.event_seq = e.id";
  static const std::string& EventTriggersSql() { return kSqliteEventTriggersSql; }
  static std::string InIds(int param) { return "IN (SELECT value FROM json_each(?" + std::to_string(param) + "))"; }
  static std::string TriggersOfEvents(int param) { return "event_seq " + InIds(param); }
  static std::string IdArray(const std::vector<int64_t>& ids) {
    std::string out = "[";
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
    return out + "]";
  }

  static Status LockFanIn(Db&) { return Status::Ok(); }
  static Status LockAlerts(Db&) { return Status::Ok(); }
  static StatusOr<bool> TryLockPrune(Db&) { return true; }
  static Status AfterLease(Db&, const std::string&) { return Status::Ok(); }
  static Status Ping(Db& db) { return db.Exec(sql::kSqliteWriteProbeSql); }

  // The webhook's write: the event, then its triggers. No conflict target: a duplicate eventId
  // and a run outcome already recorded (events_run_outcome) both leave the event out.
  static Status AppendEvent(Db& db, const NewEvent& ev, const std::vector<NewTrigger>& triggers, AppendResult& out,
                            int64_t* event_seq) {
    const int64_t now = ToUnixMillis(ev.received_at);
    Query ins = db.Prepare(
        "INSERT INTO events (event_id, event_type, account_id, job_id, run_id, run_status_code, received_at, raw_body, "
        "source, run_once, verify_state, verify_next_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?7) ON CONFLICT DO NOTHING");
    ins.Bind(1, ev.event_id).Bind(2, ev.event_type);
    BindOptional(ins, 3, ev.account_id);
    ins.Bind(4, ev.job_id).Bind(5, ev.run_id).Bind(6, int64_t{ev.run_status_code});
    ins.Bind(7, now).BindBlob(8, ev.raw_body).Bind(9, ev.source);
    if (ev.records_outcome) ins.Bind(10, int64_t{1});
    else ins.BindNull(10);
    if (ev.verify) ins.Bind(11, kVerifyPending);
    else ins.BindNull(11);
    ins.Step();
    if (!ins.status().ok()) return ins.status();
    if (db.Changes() == 0) {
      out.duplicate = true;
      Query same = db.Prepare("SELECT 1 FROM events WHERE event_id = ?1");
      same.Bind(1, ev.event_id);
      out.duplicate_run = !same.Step();
      return same.status();
    }
    *event_seq = db.LastInsertId();
    return InsertTriggers(db, ev.event_id, *event_seq, triggers, now, out.trigger_ids);
  }

  // Each trigger takes its connection's next seq unless its dedupe key was seen before (then
  // id 0). An empty event id (manual) or dedupe key (manual, replay) is stored as NULL: such a
  // trigger never conflicts. `event_seq` 0: no event.
  static Status InsertTriggers(Db& db, const std::string& event_id, int64_t event_seq,
                               const std::vector<NewTrigger>& triggers, int64_t now, std::vector<int64_t>& ids) {
    for (const NewTrigger& t : triggers) {
      // The trigger takes the connection's next seq only if it is not a duplicate: one writer,
      // so nothing can take that seq between this insert and the counter update below.
      Query q = db.Prepare(
          "INSERT INTO triggers (event_id, route, connection_id, sync_type, if_running, dedupe_key, state, "
          "created_at, next_attempt_at, updated_at, event_seq, conn_seq) VALUES (NULLIF(?1, ''), ?2, ?3, ?4, ?5, "
          "NULLIF(?6, ''), 'pending', ?7, ?7, ?7, NULLIF(?8, 0), COALESCE((SELECT seq + 1 FROM connections WHERE id = ?3), 1)) "
          "ON CONFLICT (dedupe_key) DO NOTHING");
      q.Bind(1, event_id).Bind(2, t.route).Bind(3, t.connection_id).Bind(4, t.sync_type).Bind(5, t.if_running);
      q.Bind(6, t.dedupe_key).Bind(7, now).Bind(8, event_seq).Step();
      if (!q.status().ok()) return q.status();
      const int64_t id = db.Changes() == 0 ? 0 : db.LastInsertId();
      ids.push_back(id);
      if (id == 0) continue;
      Query seq = db.Prepare(sql::kTakeSeqSql);
      seq.Bind(1, t.connection_id).Bind(2, t.sync_type).Bind(3, t.if_running).Bind(4, now).Step();
      if (!seq.status().ok()) return seq.status();
    }
    return Status::Ok();
  }

  // A retried trigger's new seq: the connection's next one, its counters updated.
  static StatusOr<int64_t> RequeueSeq(Db& db, const std::string& connection_id, const std::string& sync_type,
                                      const std::string& if_running, int64_t now_ms) {
    Query q = db.Prepare(std::string(sql::kTakeSeqSql) + " RETURNING seq");
    q.Bind(1, connection_id).Bind(2, sync_type).Bind(3, if_running).Bind(4, now_ms);
    const bool found = q.Step();
    if (!q.status().ok()) return q.status();
    if (!found) return InternalError("no seq taken for " + connection_id);
    const int64_t seq = q.Int(0);
    while (q.Step()) {
    }
    if (!q.status().ok()) return q.status();
    return seq;
  }

  // Deletes the triggers whose ids `ids_sql` selects (bound by `bind`), adding how many to
  // *count, and first takes them out of their starts' counts: a dead start's count is what
  // `dead` and the gauges report.
  template <typename Bind>
  static Status DeleteTriggers(Db& db, const std::string& ids_sql, Bind bind, int64_t* count) {
    Query dec = db.Prepare("UPDATE starts SET triggers = triggers - (SELECT COUNT(*) FROM trigger_view v WHERE "
                           "v.start_id = starts.id AND v.id IN (" + ids_sql + ")) WHERE id IN (SELECT v.start_id FROM "
                           "trigger_view v WHERE v.start_id IS NOT NULL AND v.id IN (" + ids_sql + "))");
    bind(dec);
    dec.Step();
    if (!dec.status().ok()) return dec.status();
    Query del = db.Prepare("DELETE FROM triggers WHERE id IN (" + ids_sql + ")");
    bind(del);
    del.Step();
    if (!del.status().ok()) return del.status();
    *count += db.Changes();
    return Status::Ok();
  }

  static BatchExecutor<Db>::Dialect Transactions(int wal_fd) {
    BatchExecutor<Db>::Dialect d{[](Db& db) { return db.Run("BEGIN IMMEDIATE"); },
                                 [](Db& db) { return db.Commit(); },
                                 [](Db& db) { (void)db.Run("ROLLBACK"); },
                                 [](Db& db) { return db.Run("SAVEPOINT job"); },
                                 [](Db& db) { (void)db.Run("ROLLBACK TO job"); },
                                 [](Db& db) { (void)db.Run("RELEASE job"); },
                                 [](Db&) { return false; }};  // one writer: nothing to deadlock with, nothing to retry
    if (wal_fd < 0) return d;
    d.commit_unsynced = [](Db& db) { return db.CommitUnsynced(); };
    d.sync = [wal_fd, failed = std::make_shared<std::string>()]() -> Status {
      // After a failed fsync the kernel may have dropped the dirty pages, so nothing written
      // since can be promised durable either: like PostgreSQL, stop promising until a restart.
      if (!failed->empty()) return UnavailableError(*failed);
      if (::fdatasync(wal_fd) == 0) return Status::Ok();
      *failed = std::string("sqlite: fdatasync of the write-ahead log failed (restart the relay): ") +
                std::strerror(errno);
      return UnavailableError(*failed);
    };
    return d;
  }
};

}  // namespace

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, OpenOptions options) {
  StatusOr<std::unique_ptr<Db>> db = Db::Open(path, options.create_if_missing);
  if (!db.ok()) return db.status();
  if (Status s = options.migrate ? ApplyMigrations(**db, options.schema_version) : CheckSchema(**db); !s.ok()) return s;
  if (options.migrate && options.schema_version == 0) {  // the latest schema: the columns exist
    int64_t moved = 0;
    if (Status s = ReleaseParked(**db, SystemClock().Now(), &moved); !s.ok()) return s;
    SayReleased(moved);
  }
  const int wal_fd = (*db)->WalSyncFd();  // the WAL is open once the migrations have looked
  std::vector<std::unique_ptr<Db>> conns;
  conns.push_back(std::move(db).value());
  return std::unique_ptr<Store>(
      new SqlStore<SqliteDialect>(std::move(conns), SqliteDialect::Transactions(wal_fd), kMaxBatch));
}

}  // namespace relay::store
