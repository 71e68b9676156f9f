#include "store/sqlite_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "store/batch_executor.h"
#include "store/schema.h"
#include "store/sql_shared.h"
#include "store/sqlite_db.h"

namespace relay::store {
namespace {

// Upper bound on jobs per transaction, so a flood cannot make one commit arbitrarily long.
constexpr size_t kMaxBatch = 512;

std::string IdList(const std::vector<int64_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out;
}

Trigger ReadTrigger(const Query& q) {
  Trigger t;
  t.id = q.Int(0);
  t.event_id = q.Text(1);
  t.route = q.Text(2);
  t.connection_id = q.Text(3);
  t.sync_type = q.Text(4);
  t.if_running = q.Text(5);
  t.state = q.Text(6);
  t.attempts = static_cast<int>(q.Int(7));
  t.created_at = FromUnixMillis(q.Int(8));
  t.next_attempt_at = FromUnixMillis(q.Int(9));
  t.last_error = q.Text(10);
  t.sync_id = q.Text(11);
  t.start_id = q.Int(12);
  t.fan_in_runs = ParseFanInRuns(q.Text(13), t.route);
  return t;
}

FanInRun ReadFanInRun(const Query& q) {
  return FanInRun{q.Text(0), q.Int(1), q.Int(2), q.Text(3), FromUnixMillis(q.Int(4))};
}

StoredAlert ReadAlert(const Query& q) {
  StoredAlert a;
  a.id = q.Int(0);
  a.alert.kind = q.Text(1);
  a.alert.at = FromUnixMillis(q.Int(2));
  a.alert.connection_id = q.Text(3);
  a.alert.sync_id = q.Text(4);
  a.alert.start_id = q.Int(5);
  a.alert.error = q.Text(6);
  a.alert.summary = q.Text(7);
  a.alert.dedupe_key = q.Text(8);
  return a;
}

AlertSinkState ReadAlertSink(const Query& q) {
  AlertSinkState s;
  s.name = q.Text(0);
  s.last_alert_id = q.Int(1);
  if (!q.IsNull(2)) s.last_sent_at = FromUnixMillis(q.Int(2));
  s.attempts = static_cast<int>(q.Int(3));
  s.next_at = FromUnixMillis(q.Int(4));
  s.last_error = q.Text(5);
  s.delivered = q.Int(6);
  return s;
}

constexpr const char* kConnectionColumns =
    "id, phase, COALESCE(sync_id,''), start_attempted_at, COALESCE(sync_type,''), attempts, next_check_at, "
    "phase_since, COALESCE(last_error,''), covered";

Connection ReadConnection(const Query& q) {
  Connection c;
  c.id = q.Text(0);
  c.phase = q.Text(1);
  c.sync_id = q.Text(2);
  if (!q.IsNull(3)) c.start_attempted_at = FromUnixMillis(q.Int(3));
  c.sync_type = q.Text(4);
  c.attempts = static_cast<int>(q.Int(5));
  c.next_check_at = FromUnixMillis(q.Int(6));
  c.phase_since = FromUnixMillis(q.Int(7));
  c.last_error = q.Text(8);
  c.covered = q.Int(9);
  return c;
}

Start ReadStart(const Query& q) {
  Start s;
  s.id = q.Int(0);
  s.connection_id = q.Text(1);
  s.seq_lo = q.Int(2);
  s.seq_hi = q.Int(3);
  s.triggers = q.Int(4);
  s.sync_type = q.Text(5);
  s.policies = static_cast<int>(q.Int(6));
  s.state = q.Text(7);
  s.sync_id = q.Text(8);
  s.error = q.Text(9);
  s.oldest = FromUnixMillis(q.Int(10));
  if (!q.IsNull(11)) s.attempted_at = FromUnixMillis(q.Int(11));
  return s;
}

using sql::kStartColumns;
using sql::kTriggerColumns;

}  // namespace

namespace {

constexpr const char* kSyncColumns =
    "connection_id, sync_id, status, origin, COALESCE(started_at_text,''), COALESCE(finished_at_text,''), "
    "COALESCE(error,''), metrics_succeeded, metrics_failed, metrics_changed, metrics_total, COALESCE(sync_type,'')";

// The smallest id such that every row below it has `column` < `cut`, assuming the column grows
// with the id (received_at, created_at, at do: rows are inserted as time goes on). Binary
// search on the primary key: O(log² n), whatever the table's size.
StatusOr<int64_t> BoundaryId(Db& db, const std::string& table, const std::string& column, int64_t cut) {
  Query last = db.Prepare("SELECT COALESCE(MAX(id), 0) FROM " + table);
  const int64_t max = last.Step() ? last.Int(0) : 0;
  if (!last.status().ok()) return last.status();
  int64_t lo = 0, hi = max + 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    Query q = db.Prepare("SELECT " + column + " FROM " + table + " WHERE id >= ?1 ORDER BY id LIMIT 1");
    q.Bind(1, mid);
    const bool newer = !q.Step() || q.Int(0) >= cut;
    if (!q.status().ok()) return q.status();
    if (newer) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

StoredEvent ReadEvent(const Query& q) {
  return StoredEvent{q.Int(0), q.Text(1), q.Text(2), q.Int(3), q.Int(4), static_cast<int>(q.Int(5)),
                     FromUnixMillis(q.Int(6)), q.Text(7), q.Text(8), q.Text(9), q.Text(10)};
}

// Columns of a store::Attempt (its start_id is not read back).
constexpr const char* kAttemptColumns =
    "connection_id, kind, at, latency_ms, http_status, outcome, COALESCE(sync_id,'')";

Attempt ReadAttempt(const Query& q) {
  return Attempt{q.Text(0), q.Text(1), FromUnixMillis(q.Int(2)), q.Int(3), static_cast<int>(q.Int(4)), q.Text(5),
                 q.Text(6), 0};
}

Sync ReadSync(const Query& q) {
  return Sync{q.Text(0), q.Text(1), q.Text(2), q.Text(3), q.Text(4),  q.Text(5),
              q.Text(6), q.Int(7),  q.Int(8),  q.Int(9),  q.Int(10), q.Text(11)};
}

}  // namespace

const std::string kSqliteEventTriggersSql = std::string("SELECT ") + kTriggerColumns +
                                            " FROM trigger_view WHERE event_seq = (SELECT id FROM events WHERE event_id = ?1)"
                                            " ORDER BY id";

namespace {

class SqliteStore : public Store {
 public:
  static constexpr size_t kRunsPerQuery = 200;  // 400 parameters, well below SQLite's limit
  // `wal_fd`: the database's WAL for pipelined commits (Db::WalSyncFd), or -1 for plain ones.
  SqliteStore(std::unique_ptr<Db> db, int wal_fd)
      : exec_(Connections(std::move(db)), SqliteDialect(wal_fd), kMaxBatch) {}

  // Store
  void AppendAsync(NewEvent event, std::vector<NewTrigger> triggers, AppendCallback done) override {
    auto result = std::make_shared<AppendResult>();
    auto ev = std::make_shared<NewEvent>(std::move(event));
    auto trs = std::make_shared<std::vector<NewTrigger>>(std::move(triggers));
    exec_.Submit([ev, trs, result](Db& db) { return DoAppend(db, *ev, *trs, *result); },
                 [result, done = std::move(done)](const Status& s) {
                   if (s.ok()) done(std::move(*result));
                   else done(s);
                 },
                 /*rerunnable=*/true);
  }

  StatusOr<std::optional<Claim>> ClaimConnection(const std::string& owner, TimePoint now,
                                                 Duration lease) override {
    std::optional<Claim> claim;
    Status s = RunSync([&](Db& db) { return DoClaim(db, owner, now, lease, claim); });
    if (!s.ok()) return s;
    return claim;
  }

  Status RenewLease(const std::string& connection_id, const std::string& owner, TimePoint until) override {
    return RunSync([&](Db& db) {
      Query q = db.Prepare("UPDATE connections SET lease_until = ?3 WHERE id = ?1 AND lease_owner = ?2");
      q.Bind(1, connection_id).Bind(2, owner).Bind(3, ToUnixMillis(until)).Step();
      if (!q.status().ok()) return q.status();
      if (db.Changes() == 0) return Status(StatusCode::kFailedPrecondition, "lease lost on " + connection_id);
      return Status::Ok();
    });
  }

  Status Commit(Transition& t) override {
    return RunSync([&](Db& db) { return DoCommit(db, t); });
  }

  StatusOr<Aged> FindAged(const std::string& connection_id, int64_t lo, int64_t hi, TimePoint cutoff) override {
    Aged out;
    Status s = RunSync([&](Db& db) { return DoFindAged(db, connection_id, lo, hi, cutoff, out); });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<bool> KnownSync(const std::string& connection_id, const std::string& sync_id) override {
    bool known = false;
    Status s = RunSync([&](Db& db) {
      Query q = db.Prepare("SELECT 1 FROM syncs WHERE connection_id = ?1 AND sync_id = ?2");
      q.Bind(1, connection_id).Bind(2, sync_id);
      known = q.Step();
      return q.status();
    });
    if (!s.ok()) return s;
    return known;
  }

  StatusOr<std::vector<Sync>> ListSyncs(const std::string& connection_id, int limit) override {
    return ReadAll<Sync>(std::string("SELECT ") + kSyncColumns +
                             " FROM syncs WHERE (?1 = '' OR connection_id = ?1) ORDER BY rowid LIMIT ?2",
                         [&](Query& q) { q.Bind(1, connection_id).Bind(2, int64_t{limit}); }, ReadSync);
  }

  StatusOr<std::optional<Sync>> GetSync(const std::string& connection_id, const std::string& sync_id) override {
    return ReadOne<Sync>(std::string("SELECT ") + kSyncColumns + " FROM syncs WHERE connection_id = ?1 AND sync_id = ?2",
                         [&](Query& q) { q.Bind(1, connection_id).Bind(2, sync_id); }, ReadSync);
  }

  StatusOr<std::optional<Connection>> GetConnection(const std::string& connection_id) override {
    return ReadOne<Connection>(std::string("SELECT ") + kConnectionColumns + " FROM connections WHERE id = ?1",
                               [&](Query& q) { q.Bind(1, connection_id); }, ReadConnection);
  }

  StatusOr<std::vector<Trigger>> ListTriggers(const std::string& state_filter, int limit) override {
    return ReadAll<Trigger>(state_filter.empty()
                                ? std::string("SELECT ") + kTriggerColumns + " FROM trigger_view ORDER BY id LIMIT ?2"
                                : std::string("SELECT ") + kTriggerColumns + " FROM trigger_view WHERE id IN (" +
                                      sql::kTriggerIdsInStateSql + ") ORDER BY id LIMIT ?2",
                            [&](Query& q) { q.Bind(1, state_filter).Bind(2, int64_t{limit}); }, ReadTrigger);
  }

  StatusOr<std::vector<Start>> ListStarts(const std::string& connection_id, int limit) override {
    return ReadAll<Start>(std::string("SELECT ") + kStartColumns +
                              " FROM starts WHERE connection_id = ?1 ORDER BY id DESC LIMIT ?2",
                          [&](Query& q) { q.Bind(1, connection_id).Bind(2, int64_t{limit}); }, ReadStart);
  }

  StatusOr<std::optional<StoredEvent>> GetEvent(const std::string& event_id) override {
    return ReadOne<StoredEvent>(std::string("SELECT ") + sql::kEventColumns + " FROM events WHERE event_id = ?1",
                                [&](Query& q) { q.Bind(1, event_id); }, ReadEvent);
  }

  StatusOr<int64_t> CountEvents() override {
    int64_t n = 0;
    Status s = RunSync([&](Db& db) {
      Query q = db.Prepare("SELECT COUNT(*) FROM events");
      if (q.Step()) n = q.Int(0);
      return q.status();
    });
    if (!s.ok()) return s;
    return n;
  }

  StatusOr<std::vector<Attempt>> ListAttempts(const std::string& connection_id, int limit) override {
    return ReadAll<Attempt>(std::string("SELECT ") + kAttemptColumns +
                                " FROM attempts WHERE (?1 = '' OR connection_id = ?1) ORDER BY id LIMIT ?2",
                            [&](Query& q) { q.Bind(1, connection_id).Bind(2, int64_t{limit}); }, ReadAttempt);
  }

  StatusOr<std::vector<StoredEvent>> ListEvents(const EventFilter& f) override {
    return ReadAll<StoredEvent>(
        std::string("SELECT ") + sql::kEventColumns + " FROM events "
        "WHERE (?1 IS NULL OR job_id = ?1) AND (?2 IS NULL OR received_at >= ?2) AND (?4 IS NULL OR id < ?4) "
        "ORDER BY id DESC LIMIT ?3",
        [&](Query& q) {
          if (f.job_id) q.Bind(1, *f.job_id);
          else q.BindNull(1);
          if (f.since) q.Bind(2, ToUnixMillis(*f.since));
          else q.BindNull(2);
          q.Bind(3, int64_t{f.limit});
          if (f.before) q.Bind(4, *f.before);
          else q.BindNull(4);
        },
        ReadEvent);
  }

  StatusOr<std::vector<Trigger>> EventTriggers(const std::string& event_id) override {
    return ReadAll<Trigger>(kSqliteEventTriggersSql, [&](Query& q) { q.Bind(1, event_id); }, ReadTrigger);
  }

  StatusOr<std::optional<Trigger>> GetTrigger(int64_t id) override {
    return ReadOne<Trigger>(std::string("SELECT ") + kTriggerColumns + " FROM trigger_view WHERE id = ?1",
                            [&](Query& q) { q.Bind(1, id); }, ReadTrigger);
  }

  StatusOr<std::vector<Attempt>> TriggerAttempts(const Trigger& t) override {
    return ReadAll<Attempt>(
        std::string("SELECT ") + kAttemptColumns +
            " FROM attempts WHERE connection_id = ?1 AND at >= ?2 AND ((?5 != 0 AND start_id = ?5) OR "
            "(',' || trigger_ids || ',') LIKE ('%,' || ?3 || ',%') OR (?4 != '' AND sync_id = ?4)) ORDER BY id LIMIT 200",
        [&](Query& q) {
          q.Bind(1, t.connection_id).Bind(2, ToUnixMillis(t.created_at)).Bind(3, std::to_string(t.id)).Bind(4, t.sync_id);
          q.Bind(5, t.start_id);
        },
        ReadAttempt);
  }

  StatusOr<std::vector<ConnectionStatus>> ListConnections() override {
    std::vector<ConnectionStatus> out;
    Status s = RunSync([&](Db& db) {
      Query q = db.Prepare(std::string("SELECT c.id, c.phase, COALESCE(c.sync_id,''), c.start_attempted_at, "
                           "COALESCE(c.sync_type,''), c.attempts, c.next_check_at, c.phase_since, COALESCE(c.last_error,'')"
                           ", c.covered, ") + sql::kPendingOfConnection + ", " + sql::kDeadOfConnection + ", "
                           "COALESCE(s.sync_id,''), COALESCE(s.status,''), COALESCE(s.finished_at_text,''), "
                           "COALESCE(s.metrics_succeeded,0), COALESCE(s.metrics_failed,0), COALESCE(s.metrics_total,0), " +
                           sql::kOldestPendingOfConnection + ", (SELECT MIN(x.oldest_at) FROM starts x WHERE x.connection_id = c.id AND "
          "x.state = 'starting') FROM connections c LEFT JOIN syncs s ON s.rowid = (SELECT rowid FROM syncs x "
                           "WHERE x.connection_id = c.id AND x.origin != 'external' ORDER BY x.updated_at DESC, x.rowid DESC LIMIT 1) "
                           "ORDER BY c.id");
      while (q.Step()) {
        ConnectionStatus cs;
        cs.connection = ReadConnection(q);
        cs.pending = q.Int(10);
        cs.dead = q.Int(11);
        cs.last_sync_id = q.Text(12);
        cs.last_outcome = q.Text(13);
        cs.last_finished_at = q.Text(14);
        cs.last_succeeded = q.Int(15);
        cs.last_failed = q.Int(16);
        cs.last_total = q.Int(17);
        if (!q.IsNull(18)) cs.oldest_pending = FromUnixMillis(q.Int(18));
        if (!q.IsNull(19)) cs.oldest_starting = FromUnixMillis(q.Int(19));
        out.push_back(std::move(cs));
      }
      return q.status();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<Activity> ReadActivity(TimePoint since) override {
    Activity out;
    Status s = RunSync([&](Db& db) {
      out = Activity{};
      const int64_t from = ToUnixMillis(since);
      StatusOr<int64_t> first = BoundaryId(db, "events", "received_at", from);
      if (!first.ok()) return first.status();
      Query e = db.Prepare("SELECT received_at / 3600000, COUNT(*) FROM events WHERE id >= ?1 AND received_at >= ?2 "
                           "GROUP BY 1");
      e.Bind(1, *first).Bind(2, from);
      while (e.Step()) out.webhooks_by_hour[e.Int(0)] = e.Int(1);
      if (!e.status().ok()) return e.status();
      Query q = db.Prepare(std::string("SELECT ") + kSyncColumns +
                           " FROM syncs WHERE status IN ('succeeded','failed') AND updated_at >= ?1 ORDER BY rowid");
      q.Bind(1, from);
      while (q.Step()) out.finished.push_back(ReadSync(q));
      return q.status();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<int64_t>> AddTriggers(const std::string& event_id, const std::vector<NewTrigger>& triggers,
                                             TimePoint now) override {
    std::vector<int64_t> ids;
    Status s = RunSync([&](Db& db) {
      ids.clear();
      const int64_t now_ms = ToUnixMillis(now);
      if (!event_id.empty()) {
        // In this transaction: retention may have removed the event since the caller read it
        // (foreign keys are not enforced, so nothing else would notice).
        Query e = db.Prepare("SELECT 1 FROM events WHERE event_id = ?1");
        e.Bind(1, event_id);
        const bool found = e.Step();
        if (!e.status().ok()) return e.status();
        if (!found) return NotFoundError("no event " + event_id);
      }
      for (const NewTrigger& t : triggers) {
        StatusOr<int64_t> seq = TakeSeq(db, t.connection_id, t.sync_type, t.if_running, now_ms);
        if (!seq.ok()) return seq.status();
        Query q = db.Prepare(
            "INSERT INTO triggers (event_id, event_seq, route, connection_id, sync_type, if_running, dedupe_key, "
            "state, created_at, next_attempt_at, updated_at, conn_seq) VALUES (NULLIF(?1, ''), "
            "(SELECT id FROM events WHERE event_id = ?1), ?2, ?3, ?4, ?5, NULL, 'pending', ?6, ?6, ?6, ?7)");
        q.Bind(1, event_id).Bind(2, t.route).Bind(3, t.connection_id).Bind(4, t.sync_type).Bind(5, t.if_running);
        q.Bind(6, now_ms).Bind(7, *seq).Step();
        if (!q.status().ok()) return q.status();
        ids.push_back(db.LastInsertId());
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return ids;
  }

  StatusOr<std::vector<int64_t>> RetryDead(const std::vector<int64_t>& ids, TimePoint now) override {
    std::vector<int64_t> moved;
    Status s = RunSync([&](Db& db) {
      moved.clear();
      struct Dead {
        int64_t id, start_id;
        std::string connection_id, sync_type, if_running;
      };
      std::vector<Dead> dead;
      {
        Query q = db.Prepare(std::string("SELECT id, start_id, connection_id, sync_type, if_running FROM trigger_view "
                                         "WHERE id IN (") + sql::kTriggerIdsInStateSql +
                             ") AND (?2 = '[]' OR id IN (SELECT value FROM json_each(?2))) ORDER BY id");
        q.Bind(1, std::string(kDead)).Bind(2, "[" + IdList(ids) + "]");
        while (q.Step()) dead.push_back({q.Int(0), q.IsNull(1) ? 0 : q.Int(1), q.Text(2), q.Text(3), q.Text(4)});
        if (!q.status().ok()) return q.status();
      }
      // Each goes back to the end of its connection's queue, as if it had just arrived: a new
      // seq, and created_at restarts so the maximum age counts from the retry.
      const int64_t now_ms = ToUnixMillis(now);
      for (const Dead& d : dead) {
        StatusOr<int64_t> seq = TakeSeq(db, d.connection_id, d.sync_type, d.if_running, now_ms);
        if (!seq.ok()) return seq.status();
        Query u = db.Prepare(
            "UPDATE triggers SET conn_seq = ?2, state = 'pending', created_at = ?3, updated_at = ?3, sync_id = NULL, "
            "last_error = NULL WHERE id = ?1");
        u.Bind(1, d.id).Bind(2, *seq).Bind(3, now_ms).Step();
        if (!u.status().ok()) return u.status();
        if (d.start_id != 0) {
          Query st = db.Prepare("UPDATE starts SET triggers = triggers - 1 WHERE id = ?1");
          st.Bind(1, d.start_id).Step();
          if (!st.status().ok()) return st.status();
        }
        moved.push_back(d.id);
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return moved;
  }

  StatusOr<PruneCounts> Prune(TimePoint cutoff, int batch, bool dry_run) override {
    PruneCounts out;
    Status s = RunSync([&](Db& db) {
      out = PruneCounts{};
      const int64_t cut = ToUnixMillis(cutoff);
      const int64_t limit = batch;
      // Rows older than the cutoff sit below a boundary id (ids grow with time), found by
      // binary search on the primary key: a pass never scans the rows it keeps.
      StatusOr<int64_t> events_below = BoundaryId(db, "events", "received_at", cut);
      if (!events_below.ok()) return events_below.status();
      std::string ids = "[";
      {
        Query pick = db.Prepare(
            "SELECT e.id FROM events e WHERE e.id < ?1 AND e.received_at < ?2 AND NOT EXISTS (SELECT 1 FROM trigger_view t "
            "WHERE t.event_seq = e.id AND t.state IN ('pending','starting','running')) ORDER BY e.id LIMIT ?3");
        pick.Bind(1, *events_below).Bind(2, cut).Bind(3, limit);
        while (pick.Step()) {
          ids += (out.events ? "," : "") + std::to_string(pick.Int(0));
          ++out.events;
        }
        if (!pick.status().ok()) return pick.status();
      }
      ids += "]";
      auto run = [&](const char* sql, auto bind, int64_t* count) -> Status {
        Query q = db.Prepare(sql);
        bind(q);
        if (q.Step()) *count += q.Int(0);  // dry: a COUNT(*); otherwise nothing comes back
        if (!q.status().ok()) return q.status();
        if (!dry_run) *count += db.Changes();
        return Status::Ok();
      };
      auto by_events = [&](Query& q) { q.Bind(1, ids); };
      if (dry_run) {
        if (Status st = run("SELECT COUNT(*) FROM triggers WHERE event_seq IN (SELECT value FROM json_each(?1))", by_events,
                            &out.triggers); !st.ok()) return st;
      } else {
        if (Status st = DeleteTriggers(db,
                                       "SELECT id FROM trigger_view WHERE event_seq IN (SELECT value FROM json_each(?1)) "
                                       "AND state IN ('succeeded','failed','skipped','dead')",
                                       by_events, &out.triggers);
            !st.ok()) return st;
        int64_t events = 0;
        if (Status st = run("DELETE FROM events WHERE id IN (SELECT value FROM json_each(?1)) AND NOT EXISTS "
                            "(SELECT 1 FROM triggers t WHERE t.event_seq = events.id)",
                            by_events, &events);
            !st.ok()) return st;
        out.events = events;
      }
      // Manual triggers (no event) once the old events are gone: their id range is then nearly
      // empty, so the scan below the boundary stays short.
      if (out.events == 0 || dry_run) {
        StatusOr<int64_t> triggers_below = BoundaryId(db, "triggers", "created_at", cut);
        if (!triggers_below.ok()) return triggers_below.status();
        auto bind = [&](Query& q) { q.Bind(1, *triggers_below).Bind(2, cut).Bind(3, limit); };
        const char* ids_sql =
            "SELECT id FROM trigger_view WHERE id < ?1 AND event_id IS NULL AND created_at < ?2 "
            "AND state IN ('succeeded','failed','skipped','dead') ORDER BY id LIMIT ?3";
        if (Status st = dry_run ? run((std::string("SELECT COUNT(*) FROM triggers WHERE id IN (") + ids_sql + ")").c_str(),
                                      bind, &out.triggers)
                                : DeleteTriggers(db, ids_sql, bind, &out.triggers);
            !st.ok()) return st;
      }
      {
        auto bind = [&](Query& q) { q.Bind(1, cut).Bind(2, limit); };
        const char* where =
            " FROM syncs WHERE rowid IN (SELECT rowid FROM syncs WHERE status IN ('succeeded','failed','unknown') "
            "AND updated_at < ?1 ORDER BY rowid LIMIT ?2)";
        if (Status st = run((std::string(dry_run ? "SELECT COUNT(*)" : "DELETE") + where).c_str(), bind, &out.syncs);
            !st.ok()) return st;
      }
      {
        // After the triggers: a start goes once no trigger refers to it.
        auto bind = [&](Query& q) { q.Bind(1, cut).Bind(2, limit); };
        const std::string where = std::string(" FROM starts WHERE id IN (") + sql::kPrunableStartsSql + ")";
        if (Status st = run((std::string(dry_run ? "SELECT COUNT(*)" : "DELETE") + where).c_str(), bind, &out.starts);
            !st.ok()) return st;
      }
      {
        auto bind = [&](Query& q) { q.Bind(1, cut).Bind(2, limit); };
        const char* where = " FROM alerts WHERE id IN (SELECT id FROM alerts WHERE at < ?1 ORDER BY id LIMIT ?2)";
        if (Status st = run((std::string(dry_run ? "SELECT COUNT(*)" : "DELETE") + where).c_str(), bind, &out.alerts);
            !st.ok()) return st;
      }
      StatusOr<int64_t> attempts_below = BoundaryId(db, "attempts", "at", cut);
      if (!attempts_below.ok()) return attempts_below.status();
      auto bind = [&](Query& q) { q.Bind(1, *attempts_below).Bind(2, cut).Bind(3, limit); };
      const char* where = " FROM attempts WHERE id IN (SELECT id FROM attempts WHERE id < ?1 AND at < ?2 ORDER BY id LIMIT ?3)";
      return run((std::string(dry_run ? "SELECT COUNT(*)" : "DELETE") + where).c_str(), bind, &out.attempts);
    });
    if (!s.ok()) return s;
    return out;
  }

  // RunStore
  StatusOr<TimePoint> Watermark(const std::string& scope, TimePoint now) override {
    int64_t mark = 0;
    Status s = RunSync([&](Db& db) {
      Query ins = db.Prepare(sql::kInsertWatermarkSql);
      ins.Bind(1, scope).Bind(2, ToUnixMillis(now)).Step();
      if (!ins.status().ok()) return ins.status();
      Query q = db.Prepare(sql::kWatermarkSql);
      q.Bind(1, scope);
      if (q.Step()) mark = q.Int(0);
      return q.status();
    });
    if (!s.ok()) return s;
    return FromUnixMillis(mark);
  }

  StatusOr<std::vector<RunOutcome>> KnownRuns(const std::vector<RunOutcome>& runs) override {
    std::vector<RunOutcome> out;
    if (runs.empty()) return out;
    Status s = RunSync([&](Db& db) {
      out.clear();
      for (size_t from = 0; from < runs.size(); from += kRunsPerQuery) {
        const size_t n = std::min(kRunsPerQuery, runs.size() - from);
        Query q = db.Prepare(sql::KnownRunsSql(n));
        for (size_t i = 0; i < n; ++i) {
          q.Bind(static_cast<int>(2 * i + 1), runs[from + i].first).Bind(static_cast<int>(2 * i + 2), int64_t{runs[from + i].second});
        }
        while (q.Step()) out.emplace_back(q.Int(0), static_cast<int>(q.Int(1)));
        if (!q.status().ok()) return q.status();
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<PendingVerification>> DueVerifications(TimePoint now, int limit) override {
    return ReadAll<PendingVerification>(
        sql::kDueVerificationsSql, [&](Query& q) { q.Bind(1, ToUnixMillis(now)).Bind(2, int64_t{limit}); },
        [](const Query& q) {
          return PendingVerification{q.Text(0), q.Text(1), FromUnixMillis(q.Int(2)), static_cast<int>(q.Int(3))};
        });
  }

  StatusOr<AppendResult> ResolveVerification(const std::string& event_id, std::string_view state, const std::string& note,
                                             int run_status_code, const std::vector<NewTrigger>& triggers,
                                             const std::vector<FanInStep>& fan_in, TimePoint now) override {
    AppendResult out;
    Status s = RunSync([&](Db& db) -> Status {
      out = AppendResult{};
      Query q = db.Prepare(sql::kResolveVerificationSql);
      q.Bind(1, event_id).Bind(2, std::string(state)).Bind(3, note).Bind(4, int64_t{run_status_code}).Step();
      if (!q.status().ok()) return q.status();
      if (db.Changes() == 0) {
        out.duplicate = true;
        return Status::Ok();
      }
      Query seq = db.Prepare("SELECT id FROM events WHERE event_id = ?1");
      seq.Bind(1, event_id);
      if (!seq.Step()) return seq.status().ok() ? InternalError("verified event vanished") : seq.status();
      const int64_t event_seq = seq.Int(0);
      if (Status st = InsertTriggers(db, event_id, event_seq, triggers, ToUnixMillis(now), out); !st.ok()) return st;
      return ApplyFanIn(db, event_id, event_seq, fan_in, ToUnixMillis(now), out);
    });
    if (!s.ok()) return s;
    return out;
  }

  Status PostponeVerification(const std::string& event_id, TimePoint next, const std::string& note) override {
    return RunSync([&](Db& db) {
      Query q = db.Prepare(sql::kPostponeVerificationSql);
      q.Bind(1, event_id).Bind(2, ToUnixMillis(next)).Bind(3, note).Step();
      return q.status();
    });
  }

  StatusOr<std::vector<FanInRun>> ListFanInProgress() override {
    return ReadAll<FanInRun>(sql::kAllFanInProgressSql, [](Query&) {}, ReadFanInRun);
  }

  // AlertStore
  StatusOr<int> AddAlerts(const std::vector<NewAlert>& alerts) override {
    int added = 0;
    Status s = RunSync([&](Db& db) {
      added = 0;
      return InsertAlerts(db, alerts, &added);
    });
    if (!s.ok()) return s;
    return added;
  }

  StatusOr<std::optional<AlertSinkState>> ClaimAlertSink(const std::string& name, const std::string& owner, TimePoint now,
                                                        Duration lease) override {
    std::optional<AlertSinkState> out;
    Status s = RunSync([&](Db& db) -> Status {
      out.reset();
      Query ins = db.Prepare(sql::kInsertAlertSinkSql);
      ins.Bind(1, name).Step();
      if (!ins.status().ok()) return ins.status();
      const int64_t now_ms = ToUnixMillis(now);
      Query lease_q = db.Prepare(sql::kLeaseAlertSinkSql);
      lease_q.Bind(1, name).Bind(2, owner).Bind(3, now_ms).Bind(4, now_ms + lease.count()).Step();
      if (!lease_q.status().ok()) return lease_q.status();
      if (db.Changes() == 0) return Status::Ok();
      Query q = db.Prepare(std::string("SELECT ") + sql::kAlertSinkColumns + " FROM alert_sinks WHERE name = ?1");
      q.Bind(1, name);
      if (q.Step()) out = ReadAlertSink(q);
      return q.status();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<StoredAlert>> AlertsAfter(int64_t after, int limit) override {
    return ReadAll<StoredAlert>(std::string("SELECT ") + sql::kAlertColumns + " FROM alerts WHERE id > ?1 ORDER BY id LIMIT ?2",
                                [&](Query& q) { q.Bind(1, after).Bind(2, int64_t{limit}); }, ReadAlert);
  }

  Status SaveAlertSink(const AlertSinkState& st, const std::string& owner) override {
    return RunSync([&](Db& db) -> Status {
      Query q = db.Prepare(sql::kSaveAlertSinkSql);
      q.Bind(1, st.name).Bind(2, owner).Bind(3, st.last_alert_id);
      if (st.last_sent_at) q.Bind(4, ToUnixMillis(*st.last_sent_at));
      else q.BindNull(4);
      q.Bind(5, int64_t{st.attempts}).Bind(6, ToUnixMillis(st.next_at)).Bind(7, st.last_error).Bind(8, st.delivered).Step();
      if (!q.status().ok()) return q.status();
      if (db.Changes() == 0) return Status(StatusCode::kFailedPrecondition, "alert sink " + st.name + ": lease lost");
      return Status::Ok();
    });
  }

  StatusOr<std::vector<AlertSinkState>> ListAlertSinks() override {
    return ReadAll<AlertSinkState>(std::string("SELECT ") + sql::kAlertSinkColumns + " FROM alert_sinks ORDER BY name",
                                   [](Query&) {}, ReadAlertSink);
  }

  StatusOr<StartRuns> RunsOfStart(const std::string& connection_id, int64_t start_id, int limit) override {
    StartRuns out;
    Status s = RunSync([&](Db& db) -> Status {
      out = StartRuns{};
      Query n = db.Prepare(sql::kStartTriggersSql);
      n.Bind(1, connection_id).Bind(2, start_id);
      if (n.Step()) out.triggers = n.Int(0);
      if (!n.status().ok()) return n.status();
      Query q = db.Prepare(sql::kRunsOfStartSql);
      q.Bind(1, connection_id).Bind(2, start_id).Bind(3, int64_t{limit});
      while (q.Step()) AddStartRun(q.Text(0), q.Int(1), q.Text(2), q.Text(3), limit, out);
      return q.status();
    });
    if (!s.ok()) return s;
    return out;
  }

  Status Ping() override {
    // A job runs inside the writer's BEGIN IMMEDIATE: it succeeds only if a write lock can be
    // had; the probe write (rerunnable: a write, see BatchExecutor::LastWriteFailure) must then
    // reach the disk: an empty transaction commits even on a full disk.
    Status s = exec_.RunSync([](Db& db) { return db.Exec(sql::kSqliteWriteProbeSql); },
                             /*rerunnable=*/true);
    if (s.ok()) return s;
    return UnavailableError("cannot commit a write: " + s.message());
  }

  Status LastCommit() override { return exec_.LastWriteFailure(); }

  StatusOr<Gauges> ReadGauges() override {
    Gauges g;
    Status s = RunSync([&](Db& db) {
      // Per connection, from its counters and its starts: index lookups, whatever the backlog.
      Query t = db.Prepare(std::string("SELECT COALESCE(SUM(p), 0), COALESCE(SUM(d), 0), MIN(o) FROM (SELECT ") +
                           sql::kPendingOfConnection + " AS p, " + sql::kDeadOfConnection + " AS d, " +
                           sql::kOldestPendingOfConnection + " AS o FROM connections c)");
      if (t.Step()) {
        g.pending = t.Int(0);
        g.dead = t.Int(1);
        if (!t.IsNull(2)) g.oldest_pending = FromUnixMillis(t.Int(2));
      }
      if (!t.status().ok()) return t.status();
      Query c = db.Prepare("SELECT phase, COUNT(*) FROM connections GROUP BY phase");
      while (c.Step()) g.connections_by_phase[c.Text(0)] = c.Int(1);
      return c.status();
    });
    if (!s.ok()) return s;
    return g;
  }

 private:
  static std::vector<std::unique_ptr<Db>> Connections(std::unique_ptr<Db> db) {
    std::vector<std::unique_ptr<Db>> v;
    v.push_back(std::move(db));
    return v;
  }

  static BatchExecutor<Db>::Dialect SqliteDialect(int wal_fd) {
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

  Status RunSync(std::function<Status(Db&)> run) { return exec_.RunSync(std::move(run)); }

  // Every row of `sql` (parameters set by `bind`), each made into a T by `read`; on the writer.
  template <typename T, typename Bind, typename Read>
  StatusOr<std::vector<T>> ReadAll(const std::string& sql, Bind bind, Read read) {
    std::vector<T> out;
    Status s = RunSync([&](Db& db) {
      out.clear();  // a job may run again
      Query q = db.Prepare(sql);
      bind(q);
      while (q.Step()) out.push_back(read(q));
      return q.status();
    });
    if (!s.ok()) return s;
    return out;
  }
  // The row of a query that has at most one, or nullopt.
  template <typename T, typename Bind, typename Read>
  StatusOr<std::optional<T>> ReadOne(const std::string& sql, Bind bind, Read read) {
    StatusOr<std::vector<T>> rows = ReadAll<T>(sql, std::move(bind), std::move(read));
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return std::optional<T>();
    return std::optional<T>(std::move(rows->front()));
  }

  // The connection's next seq, its counters updated (sql::kTakeSeqSql).
  static StatusOr<int64_t> TakeSeq(Db& db, const std::string& connection_id, const std::string& sync_type,
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

  static Status DoAppend(Db& db, const NewEvent& ev, const std::vector<NewTrigger>& triggers, AppendResult& out) {
    out = AppendResult{};
    const int64_t now = ToUnixMillis(ev.received_at);
    // No conflict target: a duplicate eventId and a run outcome already recorded
    // (events_run_outcome) both leave the event out.
    Query ins = db.Prepare(
        "INSERT INTO events (event_id, event_type, account_id, job_id, run_id, run_status_code, received_at, raw_body, "
        "source, run_once, verify_state, verify_next_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?7) ON CONFLICT DO NOTHING");
    ins.Bind(1, ev.event_id).Bind(2, ev.event_type);
    if (ev.account_id) ins.Bind(3, *ev.account_id);
    else ins.BindNull(3);
    ins.Bind(4, ev.job_id).Bind(5, ev.run_id).Bind(6, int64_t{ev.run_status_code});
    ins.Bind(7, now).BindBlob(8, ev.raw_body).Bind(9, ev.source);
    if (ev.records_outcome) ins.Bind(10, int64_t{1});
    else ins.BindNull(10);
    if (ev.verify) ins.Bind(11, std::string(kVerifyPending));
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
    const int64_t event_seq = db.LastInsertId();
    if (Status st = InsertTriggers(db, ev.event_id, event_seq, triggers, now, out); !st.ok()) return st;
    return ApplyFanIn(db, ev.event_id, event_seq, ev.fan_in, now, out);
  }

  // Counts the event's run toward each fan-in route and fires those it completes
  // (store::FanInStep). One writer: nothing else runs between the read and the writes.
  static Status ApplyFanIn(Db& db, const std::string& event_id, int64_t event_seq, const std::vector<FanInStep>& steps,
                           int64_t now, AppendResult& out) {
    for (const FanInStep& step : steps) {
      FanInResult res;
      res.route = step.route;
      Query ins = db.Prepare(sql::kInsertFanInSql);
      ins.Bind(1, step.route).Bind(2, step.job_id).Bind(3, step.run_id).Bind(4, event_id);
      ins.Bind(5, step.at ? ToUnixMillis(*step.at) : now).Step();
      if (!ins.status().ok()) return ins.status();
      Query cap = db.Prepare(sql::kCapFanInSql);
      cap.Bind(1, step.route).Bind(2, step.job_id).Bind(3, int64_t{kFanInRunsPerJob}).Step();
      if (!cap.status().ok()) return cap.status();
      std::vector<FanInRun> progress;
      Query q = db.Prepare(sql::kFanInProgressSql);
      q.Bind(1, step.route);
      while (q.Step()) progress.push_back(ReadFanInRun(q));
      if (!q.status().ok()) return q.status();
      const FanInDecision d = DecideFanIn(step, progress);
      Query clear = db.Prepare(d.fire ? sql::kClearFanInSql : sql::kExpireFanInSql);
      clear.Bind(1, step.route);
      if (!d.fire) clear.Bind(2, d.expire_before ? ToUnixMillis(*d.expire_before) : int64_t{0});
      clear.Step();
      if (!clear.status().ok()) return clear.status();
      if (!d.fire) {
        res.waiting_for = d.waiting_for;
      } else {
        AppendResult fired;
        if (Status st = InsertTriggers(db, event_id, event_seq, step.fire, now, fired); !st.ok()) return st;
        const std::string runs = FanInRunsJson(d.counted);
        for (int64_t id : fired.trigger_ids) {
          if (id == 0) continue;
          Query set = db.Prepare(sql::kSetFanInRunsSql);
          set.Bind(1, id).Bind(2, runs).Step();
          if (!set.status().ok()) return set.status();
        }
        res.fired = true;
        res.runs = d.counted;
        res.trigger_ids = std::move(fired.trigger_ids);
      }
      out.fan_in.push_back(std::move(res));
    }
    return Status::Ok();
  }

  // The triggers of event `event_id` (row id `event_seq`), each taking its connection's next
  // seq unless its dedupe key was seen before (then id 0).
  static Status InsertTriggers(Db& db, const std::string& event_id, int64_t event_seq,
                               const std::vector<NewTrigger>& triggers, int64_t now, AppendResult& out) {
    for (const NewTrigger& t : triggers) {
      // The trigger takes the connection's next seq only if it is not a duplicate: one writer,
      // so nothing can take that seq between this insert and the counter update below.
      Query q = db.Prepare(
          "INSERT INTO triggers (event_id, route, connection_id, sync_type, if_running, dedupe_key, state, "
          "created_at, next_attempt_at, updated_at, event_seq, conn_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', "
          "?7, ?7, ?7, ?8, COALESCE((SELECT seq + 1 FROM connections WHERE id = ?3), 1)) "
          "ON CONFLICT (dedupe_key) DO NOTHING");
      q.Bind(1, event_id).Bind(2, t.route).Bind(3, t.connection_id).Bind(4, t.sync_type).Bind(5, t.if_running);
      q.Bind(6, t.dedupe_key).Bind(7, now).Bind(8, event_seq).Step();
      if (!q.status().ok()) return q.status();
      const int64_t id = db.Changes() == 0 ? 0 : db.LastInsertId();
      out.trigger_ids.push_back(id);
      if (id == 0) continue;
      Query seq = db.Prepare(sql::kTakeSeqSql);
      seq.Bind(1, t.connection_id).Bind(2, t.sync_type).Bind(3, t.if_running).Bind(4, now).Step();
      if (!seq.status().ok()) return seq.status();
    }
    return Status::Ok();
  }

  static Status DoClaim(Db& db, const std::string& owner, TimePoint now, Duration lease, std::optional<Claim>& out) {
    const int64_t now_ms = ToUnixMillis(now);
    // The most overdue connection with work, unless another owner's lease on it is live.
    Query pick = db.Prepare(
        "SELECT c.id FROM connections c "
        "WHERE c.next_check_at <= ?1 AND (c.lease_owner IS NULL OR c.lease_until <= ?1 OR c.lease_owner = ?2) "
        "AND (c.phase != 'idle' OR c.seq > c.covered OR EXISTS (SELECT 1 FROM starts s WHERE s.connection_id = c.id "
        "AND s.state IN ('starting','queued','running'))) "
        "ORDER BY c.next_check_at, c.id LIMIT 1");
    pick.Bind(1, now_ms).Bind(2, owner);
    if (!pick.Step()) return pick.status();
    const std::string id = pick.Text(0);

    Query lease_q = db.Prepare("UPDATE connections SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1");
    lease_q.Bind(1, id).Bind(2, owner).Bind(3, now_ms + lease.count()).Step();
    if (!lease_q.status().ok()) return lease_q.status();

    Claim claim;
    Query c = db.Prepare(std::string("SELECT ") + kConnectionColumns + " FROM connections WHERE id = ?1");
    c.Bind(1, id);
    if (!c.Step()) return c.status().ok() ? InternalError("claimed connection vanished") : c.status();
    claim.connection = ReadConnection(c);
    Query b = db.Prepare(sql::kBacklogSql);
    b.Bind(1, id);
    if (!b.Step()) return b.status().ok() ? InternalError("claimed connection vanished") : b.status();
    claim.backlog = Backlog{b.Int(0), b.Int(1), b.Int(2), b.Int(3), b.Int(4), std::nullopt};
    if (!b.IsNull(5)) claim.backlog.oldest = FromUnixMillis(b.Int(5));
    Query st = db.Prepare(sql::kCurrentStartSql);
    st.Bind(1, id);
    if (st.Step()) claim.current = ReadStart(st);
    if (!st.status().ok()) return st.status();
    out = std::move(claim);
    return Status::Ok();
  }

  static Status DoCommit(Db& db, Transition& t) {
    const Connection& c = t.connection;
    const int64_t now_ms = ToUnixMillis(t.now);
    Query upd = db.Prepare(
        "UPDATE connections SET phase = ?3, sync_id = ?4, start_attempted_at = ?5, sync_type = ?6, attempts = ?7, "
        "next_check_at = ?8, phase_since = ?9, last_error = ?10, updated_at = ?11, "
        "lease_owner = CASE WHEN ?12 THEN NULL ELSE lease_owner END, "
        "lease_until = CASE WHEN ?12 THEN NULL ELSE lease_until END, covered = ?13 "
        "WHERE id = ?1 AND lease_owner = ?2");
    upd.Bind(1, c.id).Bind(2, t.owner).Bind(3, c.phase).Bind(4, c.sync_id);
    if (c.start_attempted_at) upd.Bind(5, ToUnixMillis(*c.start_attempted_at));
    else upd.BindNull(5);
    upd.Bind(6, c.sync_type).Bind(7, int64_t{c.attempts}).Bind(8, ToUnixMillis(c.next_check_at));
    upd.Bind(9, ToUnixMillis(c.phase_since)).Bind(10, c.last_error).Bind(11, now_ms).Bind(12, int64_t{t.release});
    upd.Bind(13, c.covered);
    upd.Step();
    if (!upd.status().ok()) return upd.status();
    // Fencing: a worker whose lease expired and was taken over must not write anything.
    if (db.Changes() == 0) return Status(StatusCode::kFailedPrecondition, "lease lost on " + c.id);

    for (Start& st : t.starts) {
      Query q = db.Prepare(
          st.id == 0
              ? "INSERT INTO starts (connection_id, seq_lo, seq_hi, triggers, sync_type, policies, state, sync_id, error, "
                "oldest_at, attempted_at, created_at, updated_at) VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, NULLIF(?9, ''), "
                "NULLIF(?10, ''), ?11, ?12, ?13, ?13)"
              : "UPDATE starts SET seq_lo = ?3, seq_hi = ?4, triggers = ?5, sync_type = ?6, policies = ?7, state = ?8, "
                "sync_id = NULLIF(?9, ''), error = NULLIF(?10, ''), oldest_at = ?11, attempted_at = ?12, updated_at = ?13 "
                "WHERE id = ?1 AND connection_id = ?2");
      q.Bind(1, st.id).Bind(2, c.id).Bind(3, st.seq_lo).Bind(4, st.seq_hi).Bind(5, st.triggers).Bind(6, st.sync_type);
      q.Bind(7, int64_t{st.policies}).Bind(8, st.state).Bind(9, st.sync_id).Bind(10, st.error);
      q.Bind(11, ToUnixMillis(st.oldest));
      if (st.attempted_at) q.Bind(12, ToUnixMillis(*st.attempted_at));
      else q.BindNull(12);
      q.Bind(13, now_ms).Step();
      if (!q.status().ok()) return q.status();
      if (st.id == 0) st.id = db.LastInsertId();
      else if (db.Changes() == 0) return InternalError("start " + std::to_string(st.id) + " of " + c.id + " not found");
      st.connection_id = c.id;
    }
    for (const Sync& s : t.syncs) {
      Query q = db.Prepare(
          "INSERT INTO syncs (connection_id, sync_id, status, origin, sync_type, started_at_text, finished_at_text, error, "
          "metrics_succeeded, metrics_failed, metrics_changed, metrics_total, updated_at) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
          "ON CONFLICT (connection_id, sync_id) DO UPDATE SET status = ?3, "
          "started_at_text = CASE WHEN ?6 = '' THEN started_at_text ELSE ?6 END, finished_at_text = ?7, error = ?8, "
          "metrics_succeeded = ?9, metrics_failed = ?10, metrics_changed = ?11, metrics_total = ?12, updated_at = ?13");
      q.Bind(1, s.connection_id).Bind(2, s.sync_id).Bind(3, s.status).Bind(4, s.origin).Bind(5, s.sync_type);
      q.Bind(6, s.started_at).Bind(7, s.finished_at).Bind(8, s.error).Bind(9, s.succeeded).Bind(10, s.failed);
      q.Bind(11, s.changed).Bind(12, s.total).Bind(13, now_ms).Step();
      if (!q.status().ok()) return q.status();
    }
    for (Attempt& a : t.attempts) {
      Query q = db.Prepare(
          "INSERT INTO attempts (connection_id, kind, at, latency_ms, http_status, outcome, sync_id, start_id) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULLIF(?8, 0))");
      q.Bind(1, a.connection_id).Bind(2, a.kind).Bind(3, ToUnixMillis(a.at)).Bind(4, a.latency_ms);
      q.Bind(5, int64_t{a.http_status}).Bind(6, a.outcome).Bind(7, a.sync_id).Bind(8, a.start_id).Step();
      if (!q.status().ok()) return q.status();
    }
    for (NewAlert& a : t.alerts) {
      if (a.start_index >= 0 && static_cast<size_t>(a.start_index) < t.starts.size()) {
        a.start_id = t.starts[static_cast<size_t>(a.start_index)].id;
      }
    }
    int added = 0;
    return InsertAlerts(db, t.alerts, &added);
  }

  static Status InsertAlerts(Db& db, const std::vector<NewAlert>& alerts, int* added) {
    for (const NewAlert& a : alerts) {
      Query q = db.Prepare(sql::kInsertAlertSql);
      q.Bind(1, a.kind).Bind(2, ToUnixMillis(a.at)).Bind(3, a.connection_id).Bind(4, a.sync_id).Bind(5, a.start_id);
      q.Bind(6, a.error).Bind(7, a.summary);
      if (a.dedupe_key.empty()) q.BindNull(8);
      else q.Bind(8, a.dedupe_key);
      q.Step();
      if (!q.status().ok()) return q.status();
      *added += db.Changes();
    }
    return Status::Ok();
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

  static Status DoFindAged(Db& db, const std::string& connection_id, int64_t lo, int64_t hi, TimePoint cutoff,
                           Aged& out) {
    out = Aged{lo, std::nullopt};
    const int64_t cut = ToUnixMillis(cutoff);
    // The first seq in (lo, hi] whose trigger is not old enough; seqs may have gaps (pruned or
    // retried triggers), so each probe reads the first trigger at or after it.
    int64_t first = lo + 1, last = hi + 1;
    while (first < last) {
      const int64_t mid = first + (last - first) / 2;
      Query q = db.Prepare(sql::kFirstFromSeqSql);
      q.Bind(1, connection_id).Bind(2, mid).Bind(3, hi);
      const bool young = !q.Step() || q.Int(1) >= cut;
      if (!q.status().ok()) return q.status();
      if (young) last = mid;
      else first = mid + 1;
    }
    out.seq = first - 1;
    Query next = db.Prepare(sql::kFirstFromSeqSql);
    next.Bind(1, connection_id).Bind(2, first).Bind(3, hi);
    if (next.Step()) out.next_oldest = FromUnixMillis(next.Int(1));
    return next.status();
  }

  // One connection, one writer thread: SQLite has one writer at a time anyway, and routing every
  // statement (reads too) through it removes SQLITE_BUSY inside the process.
  BatchExecutor<Db> exec_;
};

}  // namespace

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, OpenOptions options) {
  StatusOr<std::unique_ptr<Db>> db = Db::Open(path, options.create_if_missing);
  if (!db.ok()) return db.status();
  if (Status s = options.migrate ? ApplyMigrations(**db, options.schema_version) : CheckSchema(**db); !s.ok()) return s;
  const int wal_fd = (*db)->WalSyncFd();  // the WAL is open once the migrations have looked
  return std::unique_ptr<Store>(new SqliteStore(std::move(db).value(), wal_fd));
}

}  // namespace relay::store
