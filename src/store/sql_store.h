#pragma once
// The Store written once over both SQL backends, private to the store module. SqlStore<D> holds
// the statements, row mappers, reads, Commit, Prune and the alert/run/operator operations; the
// dialect D (SqliteDialect in sqlite_store.cc, PgDialect in postgres_store.cc) supplies the
// connection and its statement type, and the few pieces that genuinely differ:
//
//   ingest        SQLite gives a trigger its connection's seq as it is stored (one writer);
//                 PostgreSQL stores it unsequenced and its connection's next claim sequences
//                 it (AppendEvent, InsertTriggers, AfterLease, RequeueSeq)
//   locks         PostgreSQL's advisory locks around fan-in, alerts and pruning, SKIP LOCKED
//                 and FOR SHARE (SQLite has one writer: nothing to lock against)
//   id lists      json_each over "[1,2]" or ANY over "{1,2}"
//   a few joins   the syncs' row order (rowid, id) and the latest sync of a connection
//   deletes       of triggers with their starts' counts, checked again on PostgreSQL
//   probes        Ping's write
//
// D::Conn::Prepare(sql) returns a statement with SQLite's ?N parameters and the interface of
// Query (sqlite_db.h): Bind/BindNull, Step, status(), Int/Text/IsNull, Changes(). A parameter
// whose type PostgreSQL cannot infer from its use is written CAST(?N AS BIGINT), which both
// accept; every parameter up to the highest one used is bound.

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"
#include "store/batch_executor.h"
#include "store/sql_shared.h"
#include "store/store.h"

namespace relay::store {

// Brings back to `now` what an older release parked more than kParkedBeyond ahead: before
// Retry-After was capped (Status::kMaxRetryAfter), a hint of years postponed a connection's
// next look, a pending verification or a failing alert sink's next try by as much. No
// setting the relay accepts parks a row that far except dispatch.retry_max, whose backoff it
// then cuts short once. Reads first and writes only when a row is parked, so opening an
// up-to-date store takes no write lock (SQLite runs it before its writer starts, outside a
// transaction). Adds how many rows it moved to *moved.
inline constexpr Duration kParkedBeyond = std::chrono::hours(24);
template <typename Conn>
Status ReleaseParked(Conn& db, TimePoint now, int64_t* moved) {
  const int64_t now_ms = ToUnixMillis(now);
  const int64_t far = now_ms + kParkedBeyond.count();
  struct Parked {
    const char* table;
    const char* column;
    const char* only;  // the rows that wait on this column
  };
  for (const Parked& p : {Parked{"connections", "next_check_at", "1 = 1"}, Parked{"alert_sinks", "next_at", "attempts > 0"},
                          Parked{"events", "verify_next_at", "verify_state = 'pending'"}}) {
    const std::string where = std::string(" WHERE ") + p.only + " AND " + p.column + " > ?1";
    bool parked = false;
    {
      auto any = db.Prepare(std::string("SELECT 1 FROM ") + p.table + where + " LIMIT 1");
      any.Bind(1, far);
      parked = any.Step();
      if (!any.status().ok()) return any.status();
    }
    if (!parked) continue;
    auto q = db.Prepare(std::string("UPDATE ") + p.table + " SET " + p.column + " = ?2" + where);
    q.Bind(1, far).Bind(2, now_ms).Step();
    if (!q.status().ok()) return q.status();
    *moved += q.Changes();
  }
  return Status::Ok();
}

inline void SayReleased(int64_t moved) {
  if (moved == 0) return;
  log::Warn("store: rows an older release had parked for more than a day now run again",
            {{"rows", std::to_string(moved)}});
}

// Row mappers, one per type, over either backend's statement.
namespace rows {

inline constexpr const char* kConnectionColumns =
    "c.id, c.phase, COALESCE(c.sync_id,''), c.start_attempted_at, COALESCE(c.sync_type,''), c.attempts, "
    "c.next_check_at, c.phase_since, COALESCE(c.last_error,''), c.covered";
inline constexpr const char* kSyncColumns =
    "connection_id, sync_id, status, origin, COALESCE(started_at_text,''), COALESCE(finished_at_text,''), "
    "COALESCE(error,''), metrics_succeeded, metrics_failed, metrics_changed, metrics_total, COALESCE(sync_type,'')";
// Its start_id is not read back.
inline constexpr const char* kAttemptColumns =
    "connection_id, kind, at, latency_ms, http_status, outcome, COALESCE(sync_id,'')";

template <typename Row>
std::optional<TimePoint> OptionalTime(const Row& q, int col) {
  if (q.IsNull(col)) return std::nullopt;
  return FromUnixMillis(q.Int(col));
}

template <typename Row>
Trigger ReadTrigger(const Row& q) {
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

template <typename Row>
FanInRun ReadFanInRun(const Row& q) {
  return FanInRun{q.Text(0), q.Int(1), q.Int(2), q.Text(3), FromUnixMillis(q.Int(4))};
}

template <typename Row>
StoredAlert ReadAlert(const Row& q) {
  StoredAlert a;
  a.id = q.Int(0);
  a.alert = NewAlert{q.Text(1), FromUnixMillis(q.Int(2)), q.Text(3), q.Text(4), q.Int(5), -1, q.Text(6), q.Text(7),
                     q.Text(8)};
  return a;
}

template <typename Row>
AlertSinkState ReadAlertSink(const Row& q) {
  return AlertSinkState{q.Text(0), q.Int(1), OptionalTime(q, 2), static_cast<int>(q.Int(3)),
                        FromUnixMillis(q.Int(4)), q.Text(5), q.Int(6)};
}

template <typename Row>
Connection ReadConnection(const Row& q) {
  Connection c;
  c.id = q.Text(0);
  // Nothing else is ever written; a row that says otherwise reads as idle, as the machine
  // always took it.
  c.phase = ParsePhase(q.Text(1)).value_or(Phase::kIdle);
  c.sync_id = q.Text(2);
  c.start_attempted_at = OptionalTime(q, 3);
  c.sync_type = q.Text(4);
  c.attempts = static_cast<int>(q.Int(5));
  c.next_check_at = FromUnixMillis(q.Int(6));
  c.phase_since = FromUnixMillis(q.Int(7));
  c.last_error = q.Text(8);
  c.covered = q.Int(9);
  return c;
}

template <typename Row>
Start ReadStart(const Row& q) {
  Start s;
  s.id = q.Int(0);
  s.connection_id = q.Text(1);
  s.seq_lo = q.Int(2);
  s.seq_hi = q.Int(3);
  s.triggers = q.Int(4);
  s.sync_type = q.Text(5);
  s.policies = static_cast<int>(q.Int(6));
  // Nothing else is ever written; a row that says otherwise reads as dead (final, never resent).
  s.state = ParseStartState(q.Text(7)).value_or(StartState::kDead);
  s.sync_id = q.Text(8);
  s.error = q.Text(9);
  s.oldest = FromUnixMillis(q.Int(10));
  s.attempted_at = OptionalTime(q, 11);
  return s;
}

template <typename Row>
StoredEvent ReadEvent(const Row& q) {
  return StoredEvent{q.Int(0), q.Text(1), q.Text(2), q.Int(3), q.Int(4), static_cast<int>(q.Int(5)),
                     FromUnixMillis(q.Int(6)), q.Text(7), q.Text(8), q.Text(9), q.Text(10)};
}

template <typename Row>
Attempt ReadAttempt(const Row& q) {
  return Attempt{q.Text(0), q.Text(1), FromUnixMillis(q.Int(2)), q.Int(3), static_cast<int>(q.Int(4)), q.Text(5),
                 q.Text(6), 0};
}

template <typename Row>
Sync ReadSync(const Row& q) {
  return Sync{q.Text(0), q.Text(1), q.Text(2), q.Text(3), q.Text(4),  q.Text(5),
              q.Text(6), q.Int(7),  q.Int(8),  q.Int(9),  q.Int(10), q.Text(11)};
}

template <typename Row>
PendingVerification ReadPendingVerification(const Row& q) {
  return PendingVerification{q.Text(0), q.Text(1), FromUnixMillis(q.Int(2)), static_cast<int>(q.Int(3))};
}

}  // namespace rows

template <typename Stmt>
void BindOptional(Stmt& q, int index, const std::optional<int64_t>& v) {
  if (v) q.Bind(index, *v);
  else q.BindNull(index);
}
template <typename Stmt>
void BindOptional(Stmt& q, int index, const std::optional<TimePoint>& v) {
  if (v) q.Bind(index, ToUnixMillis(*v));
  else q.BindNull(index);
}

// Ingest, lifecycle, runs and health: the writes and reads of the relay's hot loops, and
// the shared pieces of a write (fan-in, alerts, a lifecycle step). Operator reads, alert
// delivery and retention are in SqlStore below.
template <typename D>
class SqlCore : public Store {
 public:
  using Conn = typename D::Conn;
  using Executor = BatchExecutor<Conn>;

  SqlCore(std::vector<std::unique_ptr<Conn>> conns, typename Executor::Dialect dialect, size_t max_batch)
      : exec_(std::move(conns), std::move(dialect), max_batch) {}

  // Runs `work` on a writer, in its own transaction (what the backends' open functions use to
  // migrate and check the schema).
  Status RunSync(std::function<Status(Conn&)> work, bool rerunnable = false) {
    return exec_.RunSync(std::move(work), rerunnable);
  }

  // IngestStore
  void AppendAsync(NewEvent event, std::vector<NewTrigger> triggers, AppendCallback done) override {
    auto result = std::make_shared<AppendResult>();
    auto ev = std::make_shared<NewEvent>(std::move(event));
    auto trs = std::make_shared<std::vector<NewTrigger>>(std::move(triggers));
    exec_.Submit(
        [ev, trs, result](Conn& db) {
          *result = AppendResult{};  // a job may run again
          int64_t event_seq = 0;
          if (Status s = D::AppendEvent(db, *ev, *trs, *result, &event_seq); !s.ok() || result->duplicate) return s;
          return ApplyFanIn(db, ev->event_id, event_seq, ev->fan_in, ToUnixMillis(ev->received_at), *result);
        },
        [result, done = std::move(done)](const Status& s) {
          if (s.ok()) done(std::move(*result));
          else done(s);
        },
        /*rerunnable=*/true);
  }

  // LifecycleStore
  StatusOr<std::optional<Claim>> ClaimConnection(const std::string& owner, TimePoint now, Duration lease) override {
    std::optional<Claim> claim;
    Status s = RunSync([&](Conn& db) -> Status {
      claim.reset();
      const int64_t now_ms = ToUnixMillis(now);
      // The most overdue connection with work, unless another owner's lease on it is live.
      auto pick = db.Prepare(std::string(
          "SELECT c.id FROM connections c "
          "WHERE c.next_check_at <= ?1 AND (c.lease_owner IS NULL OR c.lease_until <= ?1 OR c.lease_owner = ?2) "
          "AND (c.phase != 'idle' OR c.seq > c.covered OR EXISTS (SELECT 1 FROM starts s WHERE s.connection_id = c.id "
          "AND s.state IN ('starting','queued','running'))") + D::kClaimableUnsequenced + ") "
          "ORDER BY c.next_check_at, c.id LIMIT 1" + D::kClaimLock);
      pick.Bind(1, now_ms).Bind(2, owner);
      if (!pick.Step()) return pick.status();
      const std::string id = pick.Text(0);
      auto lease_q = db.Prepare("UPDATE connections SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1");
      lease_q.Bind(1, id).Bind(2, owner).Bind(3, now_ms + lease.count()).Step();
      if (!lease_q.status().ok()) return lease_q.status();
      if (Status st = D::AfterLease(db, id); !st.ok()) return st;

      Claim out;
      auto c = db.Prepare(std::string("SELECT ") + rows::kConnectionColumns + " FROM connections c WHERE c.id = ?1");
      c.Bind(1, id);
      if (!c.Step()) return c.status().ok() ? InternalError("claimed connection vanished") : c.status();
      out.connection = rows::ReadConnection(c);
      auto b = db.Prepare(sql::kBacklogSql);
      b.Bind(1, id);
      if (!b.Step()) return b.status().ok() ? InternalError("claimed connection vanished") : b.status();
      out.backlog = Backlog{b.Int(0), b.Int(1), b.Int(2), b.Int(3), b.Int(4), rows::OptionalTime(b, 5)};
      auto st = db.Prepare(sql::kCurrentStartSql);
      st.Bind(1, id);
      if (st.Step()) out.current = rows::ReadStart(st);
      if (!st.status().ok()) return st.status();
      claim = std::move(out);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return claim;
  }

  Status RenewLease(const std::string& connection_id, const std::string& owner, TimePoint until) override {
    return RunSync([&](Conn& db) -> Status {
      auto q = db.Prepare("UPDATE connections SET lease_until = ?3 WHERE id = ?1 AND lease_owner = ?2");
      q.Bind(1, connection_id).Bind(2, owner).Bind(3, ToUnixMillis(until)).Step();
      if (!q.status().ok()) return q.status();
      if (q.Changes() == 0) return Status(StatusCode::kFailedPrecondition, "lease lost on " + connection_id);
      return Status::Ok();
    });
  }

  Status Commit(Transition& t) override {
    std::vector<int64_t> ids;  // of t.starts, set once committed: a job may run again
    Status s = RunSync([&](Conn& db) { return DoCommit(db, t, ids); });
    if (!s.ok()) return s;
    for (size_t i = 0; i < ids.size(); ++i) {
      t.starts[i].id = ids[i];
      t.starts[i].connection_id = t.connection.id;
    }
    return s;
  }

  StatusOr<Aged> FindAged(const std::string& connection_id, int64_t lo, int64_t hi, TimePoint cutoff) override {
    Aged out;
    Status s = RunSync([&](Conn& db) -> Status {
      out = Aged{lo, std::nullopt};
      const int64_t cut = ToUnixMillis(cutoff);
      // The first seq in (lo, hi] whose trigger is not old enough; seqs may have gaps (pruned or
      // retried triggers), so each probe reads the first trigger at or after it.
      int64_t first = lo + 1, last = hi + 1;
      while (first < last) {
        const int64_t mid = first + (last - first) / 2;
        auto q = db.Prepare(sql::kFirstFromSeqSql);
        q.Bind(1, connection_id).Bind(2, mid).Bind(3, hi);
        const bool young = !q.Step() || q.Int(1) >= cut;
        if (!q.status().ok()) return q.status();
        if (young) last = mid;
        else first = mid + 1;
      }
      out.seq = first - 1;
      auto next = db.Prepare(sql::kFirstFromSeqSql);
      next.Bind(1, connection_id).Bind(2, first).Bind(3, hi);
      if (next.Step()) out.next_oldest = FromUnixMillis(next.Int(1));
      return next.status();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<bool> KnownSync(const std::string& connection_id, const std::string& sync_id) override {
    bool known = false;
    Status s = RunSync([&](Conn& db) {
      auto q = db.Prepare("SELECT 1 FROM syncs WHERE connection_id = ?1 AND sync_id = ?2");
      q.Bind(1, connection_id).Bind(2, sync_id);
      known = q.Step();
      return q.status();
    });
    if (!s.ok()) return s;
    return known;
  }

  // RunStore
  StatusOr<TimePoint> Watermark(const std::string& scope, TimePoint now) override {
    int64_t mark = 0;
    Status s = RunSync([&](Conn& db) -> Status {
      // Two instances seeing a scope first at once: one insert wins, both read its value.
      auto ins = db.Prepare(sql::kInsertWatermarkSql);
      ins.Bind(1, scope).Bind(2, ToUnixMillis(now)).Step();
      if (!ins.status().ok()) return ins.status();
      auto q = db.Prepare(sql::kWatermarkSql);
      q.Bind(1, scope);
      if (!q.Step()) return q.status().ok() ? InternalError("watermark of " + scope + " vanished") : q.status();
      mark = q.Int(0);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return FromUnixMillis(mark);
  }

  StatusOr<std::vector<RunOutcome>> KnownRuns(const std::vector<RunOutcome>& runs) override {
    constexpr size_t kRunsPerQuery = 200;  // 400 parameters, well below either backend's limit
    std::vector<RunOutcome> out;
    if (runs.empty()) return out;
    Status s = RunSync([&](Conn& db) -> Status {
      out.clear();
      for (size_t from = 0; from < runs.size(); from += kRunsPerQuery) {
        const size_t n = std::min(kRunsPerQuery, runs.size() - from);
        auto q = db.Prepare(sql::KnownRunsSql(n));
        for (size_t i = 0; i < n; ++i) {
          q.Bind(static_cast<int>(2 * i + 1), runs[from + i].first);
          q.Bind(static_cast<int>(2 * i + 2), int64_t{runs[from + i].second});
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
        sql::kDueVerificationsSql, [&](auto& q) { q.Bind(1, ToUnixMillis(now)).Bind(2, int64_t{limit}); },
        [](const auto& q) { return rows::ReadPendingVerification(q); });
  }

  StatusOr<AppendResult> ResolveVerification(const std::string& event_id, std::string_view state, const std::string& note,
                                             int run_status_code, const std::vector<NewTrigger>& triggers,
                                             const std::vector<FanInStep>& fan_in, TimePoint now) override {
    AppendResult out;
    Status s = RunSync([&](Conn& db) -> Status {
      out = AppendResult{};
      // PostgreSQL: the row lock taken here makes a second instance resolving the same event
      // wait, then find it no longer pending.
      auto q = db.Prepare(sql::kResolveVerificationSql);
      q.Bind(1, event_id).Bind(2, state).Bind(3, note).Bind(4, int64_t{run_status_code}).Step();
      if (!q.status().ok()) return q.status();
      if (q.Changes() == 0) {
        out.duplicate = true;
        return Status::Ok();
      }
      StatusOr<int64_t> event_seq = EventSeq(db, event_id, "");
      if (!event_seq.ok()) return event_seq.status();
      if (*event_seq == 0) return InternalError("verified event vanished");
      const int64_t now_ms = ToUnixMillis(now);
      if (Status st = D::InsertTriggers(db, event_id, *event_seq, triggers, now_ms, out.trigger_ids); !st.ok()) return st;
      return ApplyFanIn(db, event_id, *event_seq, fan_in, now_ms, out);
    });
    if (!s.ok()) return s;
    return out;
  }

  Status PostponeVerification(const std::string& event_id, TimePoint next, const std::string& note) override {
    return RunSync([&](Conn& db) {
      auto q = db.Prepare(sql::kPostponeVerificationSql);
      q.Bind(1, event_id).Bind(2, ToUnixMillis(next)).Bind(3, note).Step();
      return q.status();
    });
  }

  // HealthStore
  Status Ping() override {
    // The probe is a write (rerunnable, see BatchExecutor::LastWriteFailure) that must reach the
    // disk: an empty transaction commits even on a full disk.
    Status s = RunSync([](Conn& db) { return D::Ping(db); }, /*rerunnable=*/true);
    if (s.ok()) return s;
    return UnavailableError("cannot commit a write: " + s.message());
  }

  Status LastCommit() override { return exec_.LastWriteFailure(); }

  StatusOr<Gauges> ReadGauges() override {
    Gauges g;
    Status s = RunSync([&](Conn& db) -> Status {
      g = Gauges{};
      // Per connection, from its counters and its starts: index lookups, whatever the backlog.
      auto t = db.Prepare(std::string("SELECT COALESCE(SUM(p), 0), COALESCE(SUM(d), 0), MIN(o) FROM (SELECT ") +
                          sql::kPendingOfConnection + " AS p, " + sql::kDeadOfConnection + " AS d, " +
                          sql::kOldestPendingOfConnection + " AS o FROM connections c) g");
      if (t.Step()) {
        g.pending = t.Int(0);
        g.dead = t.Int(1);
        g.oldest_pending = rows::OptionalTime(t, 2);
      }
      if (!t.status().ok()) return t.status();
      auto c = db.Prepare("SELECT phase, COUNT(*) FROM connections GROUP BY phase");
      while (c.Step()) g.connections_by_phase[c.Text(0)] = c.Int(1);
      return c.status();
    });
    if (!s.ok()) return s;
    return g;
  }

 protected:
  // Every row of `sql` (parameters set by `bind`), each made into a T by `read`.
  template <typename T, typename Bind, typename Read>
  StatusOr<std::vector<T>> ReadAll(const std::string& sql, Bind bind, Read read) {
    std::vector<T> out;
    Status s = RunSync([&](Conn& db) {
      out.clear();  // a job may run again
      auto q = db.Prepare(sql);
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
    StatusOr<std::vector<T>> all = ReadAll<T>(sql, std::move(bind), std::move(read));
    if (!all.ok()) return all.status();
    if (all->empty()) return std::optional<T>();
    return std::optional<T>(std::move(all->front()));
  }

  // The row id of event `event_id`, 0 when there is none; `lock` is appended to the query.
  static StatusOr<int64_t> EventSeq(Conn& db, const std::string& event_id, const char* lock) {
    auto q = db.Prepare(std::string("SELECT id FROM events WHERE event_id = ?1") + lock);
    q.Bind(1, event_id);
    const int64_t seq = q.Step() ? q.Int(0) : 0;
    if (!q.status().ok()) return q.status();
    return seq;
  }

  // Counts the event's run toward each fan-in route and fires those it completes
  // (store::FanInStep), under D::LockFanIn: instances apply steps one at a time, and under
  // READ COMMITTED the second one, once the first has committed, reads its run too.
  static Status ApplyFanIn(Conn& db, const std::string& event_id, int64_t event_seq, const std::vector<FanInStep>& steps,
                           int64_t now, AppendResult& out) {
    for (const FanInStep& step : steps) {
      FanInResult res;
      res.route = step.route;
      if (Status st = D::LockFanIn(db); !st.ok()) return st;
      auto ins = db.Prepare(sql::kInsertFanInSql);
      ins.Bind(1, step.route).Bind(2, step.job_id).Bind(3, step.run_id).Bind(4, event_id);
      ins.Bind(5, step.at ? ToUnixMillis(*step.at) : now).Step();
      if (!ins.status().ok()) return ins.status();
      auto cap = db.Prepare(sql::kCapFanInSql);
      cap.Bind(1, step.route).Bind(2, step.job_id).Bind(3, int64_t{kFanInRunsPerJob}).Step();
      if (!cap.status().ok()) return cap.status();
      std::vector<FanInRun> progress;
      auto q = db.Prepare(sql::kFanInProgressSql);
      q.Bind(1, step.route);
      while (q.Step()) progress.push_back(rows::ReadFanInRun(q));
      if (!q.status().ok()) return q.status();
      const FanInDecision d = DecideFanIn(step, progress);
      if (d.fire || d.expire_before) {
        auto clear = db.Prepare(d.fire ? sql::kClearFanInSql : sql::kExpireFanInSql);
        clear.Bind(1, step.route);
        if (!d.fire) clear.Bind(2, ToUnixMillis(*d.expire_before));
        clear.Step();
        if (!clear.status().ok()) return clear.status();
      }
      if (!d.fire) {
        res.waiting_for = d.waiting_for;
      } else {
        if (Status st = D::InsertTriggers(db, event_id, event_seq, step.fire, now, res.trigger_ids); !st.ok()) return st;
        const std::string runs = FanInRunsJson(d.counted);
        for (int64_t id : res.trigger_ids) {
          if (id == 0) continue;
          auto set = db.Prepare(sql::kSetFanInRunsSql);
          set.Bind(1, id).Bind(2, runs).Step();
          if (!set.status().ok()) return set.status();
        }
        res.fired = true;
        res.runs = d.counted;
      }
      out.fan_in.push_back(std::move(res));
    }
    return Status::Ok();
  }

  // Alert ids must commit in id order, or a sink whose position passed id N+1 would never see N
  // committed after it: PostgreSQL's inserts take one transaction-scoped lock (D::LockAlerts),
  // held to the commit; SQLite has one writer. Alerts are rare; only the transactions that
  // raise one wait.
  static Status InsertAlerts(Conn& db, const std::vector<NewAlert>& alerts, int* added) {
    if (alerts.empty()) return Status::Ok();
    if (Status st = D::LockAlerts(db); !st.ok()) return st;
    for (const NewAlert& a : alerts) {
      auto q = db.Prepare(sql::kInsertAlertSql);
      q.Bind(1, a.kind).Bind(2, ToUnixMillis(a.at)).Bind(3, a.connection_id).Bind(4, a.sync_id).Bind(5, a.start_id);
      q.Bind(6, a.error).Bind(7, a.summary);
      if (a.dedupe_key.empty()) q.BindNull(8);
      else q.Bind(8, a.dedupe_key);
      q.Step();
      if (!q.status().ok()) return q.status();
      *added += static_cast<int>(q.Changes());
    }
    return Status::Ok();
  }

  // `ids`: the ids of t.starts once written (reset on entry: a job may run again).
  static Status DoCommit(Conn& db, const Transition& t, std::vector<int64_t>& ids) {
    ids.clear();
    const Connection& c = t.connection;
    const int64_t now_ms = ToUnixMillis(t.now);
    auto upd = db.Prepare(
        "UPDATE connections SET phase = ?3, sync_id = ?4, start_attempted_at = CAST(?5 AS BIGINT), sync_type = ?6, "
        "attempts = ?7, next_check_at = ?8, phase_since = ?9, last_error = ?10, updated_at = ?11, "
        "lease_owner = CASE WHEN ?12 = 1 THEN NULL ELSE lease_owner END, "
        "lease_until = CASE WHEN ?12 = 1 THEN NULL ELSE lease_until END, covered = ?13 "
        "WHERE id = ?1 AND lease_owner = ?2");
    upd.Bind(1, c.id).Bind(2, t.owner).Bind(3, ToString(c.phase)).Bind(4, c.sync_id);
    BindOptional(upd, 5, c.start_attempted_at);
    upd.Bind(6, c.sync_type).Bind(7, int64_t{c.attempts}).Bind(8, ToUnixMillis(c.next_check_at));
    upd.Bind(9, ToUnixMillis(c.phase_since)).Bind(10, c.last_error).Bind(11, now_ms).Bind(12, int64_t{t.release});
    upd.Bind(13, c.covered).Step();
    if (!upd.status().ok()) return upd.status();
    // Fencing: a worker whose lease expired and was taken over must not write anything.
    if (upd.Changes() == 0) return Status(StatusCode::kFailedPrecondition, "lease lost on " + c.id);

    for (const Start& st : t.starts) {
      auto q = db.Prepare(
          st.id == 0
              ? "INSERT INTO starts (connection_id, seq_lo, seq_hi, triggers, sync_type, policies, state, sync_id, error, "
                "oldest_at, attempted_at, created_at, updated_at) SELECT ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULLIF(?9, ''), "
                "NULLIF(?10, ''), ?11, CAST(?12 AS BIGINT), ?13, ?13 WHERE CAST(?1 AS BIGINT) = 0 RETURNING id"
              : "UPDATE starts SET seq_lo = ?3, seq_hi = ?4, triggers = ?5, sync_type = ?6, policies = ?7, state = ?8, "
                "sync_id = NULLIF(?9, ''), error = NULLIF(?10, ''), oldest_at = ?11, attempted_at = CAST(?12 AS BIGINT), "
                "updated_at = ?13 WHERE id = CAST(?1 AS BIGINT) AND connection_id = ?2 RETURNING id");
      q.Bind(1, st.id).Bind(2, c.id).Bind(3, st.seq_lo).Bind(4, st.seq_hi).Bind(5, st.triggers).Bind(6, st.sync_type);
      q.Bind(7, int64_t{st.policies}).Bind(8, ToString(st.state)).Bind(9, st.sync_id).Bind(10, st.error);
      q.Bind(11, ToUnixMillis(st.oldest));
      BindOptional(q, 12, st.attempted_at);
      q.Bind(13, now_ms);
      if (!q.Step()) {
        if (!q.status().ok()) return q.status();
        return InternalError("start " + std::to_string(st.id) + " of " + c.id + " not found");
      }
      ids.push_back(q.Int(0));
      while (q.Step()) {
      }
      if (!q.status().ok()) return q.status();
    }
    for (const Sync& s : t.syncs) {
      auto q = db.Prepare(
          "INSERT INTO syncs (connection_id, sync_id, status, origin, sync_type, started_at_text, finished_at_text, error, "
          "metrics_succeeded, metrics_failed, metrics_changed, metrics_total, updated_at) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
          "ON CONFLICT (connection_id, sync_id) DO UPDATE SET status = excluded.status, "
          "started_at_text = CASE WHEN excluded.started_at_text = '' THEN syncs.started_at_text "
          "ELSE excluded.started_at_text END, finished_at_text = excluded.finished_at_text, error = excluded.error, "
          "metrics_succeeded = excluded.metrics_succeeded, metrics_failed = excluded.metrics_failed, "
          "metrics_changed = excluded.metrics_changed, metrics_total = excluded.metrics_total, "
          "updated_at = excluded.updated_at");
      q.Bind(1, s.connection_id).Bind(2, s.sync_id).Bind(3, s.status).Bind(4, s.origin).Bind(5, s.sync_type);
      q.Bind(6, s.started_at).Bind(7, s.finished_at).Bind(8, s.error).Bind(9, s.succeeded).Bind(10, s.failed);
      q.Bind(11, s.changed).Bind(12, s.total).Bind(13, now_ms).Step();
      if (!q.status().ok()) return q.status();
    }
    for (const Attempt& a : t.attempts) {
      auto q = db.Prepare(
          "INSERT INTO attempts (connection_id, kind, at, latency_ms, http_status, outcome, sync_id, start_id) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULLIF(CAST(?8 AS BIGINT), 0))");
      q.Bind(1, a.connection_id).Bind(2, a.kind).Bind(3, ToUnixMillis(a.at)).Bind(4, a.latency_ms);
      q.Bind(5, int64_t{a.http_status}).Bind(6, a.outcome).Bind(7, a.sync_id).Bind(8, a.start_id).Step();
      if (!q.status().ok()) return q.status();
    }
    std::vector<NewAlert> alerts = t.alerts;
    for (NewAlert& a : alerts) {
      if (a.start_index >= 0 && static_cast<size_t>(a.start_index) < ids.size()) {
        a.start_id = ids[static_cast<size_t>(a.start_index)];
      }
    }
    int added = 0;
    return InsertAlerts(db, alerts, &added);
  }

 private:
  Executor exec_;
};

// The smallest id such that every row below it has `column` < `cut`, assuming the column grows
// with the id (received_at, created_at, at do: rows are inserted as time goes on). Binary
// search on the primary key: O(log² n), whatever the table's size.
template <typename Conn>
StatusOr<int64_t> BoundaryId(Conn& db, const std::string& table, const std::string& column, int64_t cut) {
  auto last = db.Prepare("SELECT COALESCE(MAX(id), 0) FROM " + table);
  const int64_t max = last.Step() ? last.Int(0) : 0;
  if (!last.status().ok()) return last.status();
  int64_t lo = 0, hi = max + 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    auto q = db.Prepare("SELECT " + column + " FROM " + table + " WHERE id >= ?1 ORDER BY id LIMIT 1");
    q.Bind(1, mid);
    const bool newer = !q.Step() || q.Int(0) >= cut;
    if (!q.status().ok()) return q.status();
    if (newer) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// Operator reads and actions, alert delivery and retention: what the CLI, the admin API, the
// alerter and the pruner use.
template <typename D>
class SqlStore : public SqlCore<D> {
 public:
  using Conn = typename D::Conn;
  using SqlCore<D>::SqlCore;
  using SqlCore<D>::RunSync;

  StatusOr<std::vector<Trigger>> ListTriggers(const std::string& state_filter, int limit) override {
    auto read = [](const auto& q) { return rows::ReadTrigger(q); };
    if (state_filter.empty()) {
      return this->template ReadAll<Trigger>(std::string("SELECT ") + sql::kTriggerColumns +
                                                 " FROM trigger_view ORDER BY id LIMIT ?1",
                                             [&](auto& q) { q.Bind(1, int64_t{limit}); }, read);
    }
    return this->template ReadAll<Trigger>(std::string("SELECT ") + sql::kTriggerColumns + " FROM trigger_view WHERE id IN (" +
                                               sql::kTriggerIdsInStateSql + ") ORDER BY id LIMIT ?2",
                                           [&](auto& q) { q.Bind(1, state_filter).Bind(2, int64_t{limit}); }, read);
  }

  StatusOr<std::optional<StoredEvent>> GetEvent(const std::string& event_id) override {
    return this->template ReadOne<StoredEvent>(std::string("SELECT ") + sql::kEventColumns + " FROM events WHERE event_id = ?1",
                                               [&](auto& q) { q.Bind(1, event_id); },
                                               [](const auto& q) { return rows::ReadEvent(q); });
  }

  StatusOr<int64_t> CountEvents() override {
    StatusOr<std::optional<int64_t>> n = this->template ReadOne<int64_t>(
        "SELECT COUNT(*) FROM events", [](auto&) {}, [](const auto& q) { return q.Int(0); });
    if (!n.ok()) return n.status();
    return n->value_or(0);
  }

  StatusOr<std::vector<Attempt>> ListAttempts(const std::string& connection_id, int limit) override {
    return this->template ReadAll<Attempt>(std::string("SELECT ") + rows::kAttemptColumns +
                                               " FROM attempts WHERE (?1 = '' OR connection_id = ?1) ORDER BY id LIMIT ?2",
                                           [&](auto& q) { q.Bind(1, connection_id).Bind(2, int64_t{limit}); },
                                           [](const auto& q) { return rows::ReadAttempt(q); });
  }

  StatusOr<std::vector<Sync>> ListSyncs(const std::string& connection_id, int limit) override {
    return this->template ReadAll<Sync>(std::string("SELECT ") + rows::kSyncColumns +
                                            " FROM syncs WHERE (?1 = '' OR connection_id = ?1) ORDER BY " + D::kSyncOrder +
                                            " LIMIT ?2",
                                        [&](auto& q) { q.Bind(1, connection_id).Bind(2, int64_t{limit}); },
                                        [](const auto& q) { return rows::ReadSync(q); });
  }

  StatusOr<std::optional<Sync>> GetSync(const std::string& connection_id, const std::string& sync_id) override {
    return this->template ReadOne<Sync>(std::string("SELECT ") + rows::kSyncColumns +
                                            " FROM syncs WHERE connection_id = ?1 AND sync_id = ?2",
                                        [&](auto& q) { q.Bind(1, connection_id).Bind(2, sync_id); },
                                        [](const auto& q) { return rows::ReadSync(q); });
  }

  StatusOr<std::optional<Connection>> GetConnection(const std::string& connection_id) override {
    return this->template ReadOne<Connection>(std::string("SELECT ") + rows::kConnectionColumns +
                                                  " FROM connections c WHERE c.id = ?1",
                                              [&](auto& q) { q.Bind(1, connection_id); },
                                              [](const auto& q) { return rows::ReadConnection(q); });
  }

  StatusOr<std::vector<Start>> ListStarts(const std::string& connection_id, int limit) override {
    return this->template ReadAll<Start>(std::string("SELECT ") + sql::kStartColumns +
                                             " FROM starts WHERE connection_id = ?1 ORDER BY id DESC LIMIT ?2",
                                         [&](auto& q) { q.Bind(1, connection_id).Bind(2, int64_t{limit}); },
                                         [](const auto& q) { return rows::ReadStart(q); });
  }

  StatusOr<std::vector<StoredEvent>> ListEvents(const EventFilter& f) override {
    return this->template ReadAll<StoredEvent>(
        std::string("SELECT ") + sql::kEventColumns + " FROM events "
        "WHERE (CAST(?1 AS BIGINT) IS NULL OR job_id = CAST(?1 AS BIGINT)) "
        "AND (CAST(?2 AS BIGINT) IS NULL OR received_at >= CAST(?2 AS BIGINT)) "
        "AND (CAST(?4 AS BIGINT) IS NULL OR id < CAST(?4 AS BIGINT)) ORDER BY id DESC LIMIT ?3",
        [&](auto& q) {
          BindOptional(q, 1, f.job_id);
          BindOptional(q, 2, f.since);
          q.Bind(3, int64_t{f.limit});
          BindOptional(q, 4, f.before);
        },
        [](const auto& q) { return rows::ReadEvent(q); });
  }

  StatusOr<std::vector<Trigger>> EventTriggers(const std::string& event_id) override {
    return this->template ReadAll<Trigger>(D::EventTriggersSql(), [&](auto& q) { q.Bind(1, event_id); },
                                           [](const auto& q) { return rows::ReadTrigger(q); });
  }

  StatusOr<std::optional<Trigger>> GetTrigger(int64_t id) override {
    return this->template ReadOne<Trigger>(std::string("SELECT ") + sql::kTriggerColumns + " FROM trigger_view WHERE id = ?1",
                                           [&](auto& q) { q.Bind(1, id); },
                                           [](const auto& q) { return rows::ReadTrigger(q); });
  }

  StatusOr<std::vector<Attempt>> TriggerAttempts(const Trigger& t) override {
    return this->template ReadAll<Attempt>(
        std::string("SELECT ") + rows::kAttemptColumns +
            " FROM attempts WHERE connection_id = ?1 AND at >= ?2 AND ((CAST(?5 AS BIGINT) != 0 AND start_id = CAST(?5 AS BIGINT)) "
            "OR (',' || trigger_ids || ',') LIKE ('%,' || ?3 || ',%') OR (?4 != '' AND sync_id = ?4)) ORDER BY id LIMIT 200",
        [&](auto& q) {
          q.Bind(1, t.connection_id).Bind(2, ToUnixMillis(t.created_at)).Bind(3, std::to_string(t.id)).Bind(4, t.sync_id);
          q.Bind(5, t.start_id);
        },
        [](const auto& q) { return rows::ReadAttempt(q); });
  }

  StatusOr<std::vector<ConnectionStatus>> ListConnections() override {
    return this->template ReadAll<ConnectionStatus>(
        std::string("SELECT ") + rows::kConnectionColumns + ", " + sql::kPendingOfConnection + ", " +
            sql::kDeadOfConnection +
            ", COALESCE(s.sync_id,''), COALESCE(s.status,''), COALESCE(s.finished_at_text,''), "
            "COALESCE(s.metrics_succeeded,0), COALESCE(s.metrics_failed,0), COALESCE(s.metrics_total,0), " +
            sql::kOldestPendingOfConnection +
            ", (SELECT MIN(x.oldest_at) FROM starts x WHERE x.connection_id = c.id AND x.state = 'starting') "
            "FROM connections c " + D::kLastSyncJoin + " ORDER BY c.id",
        [](auto&) {},
        [](const auto& q) {
          ConnectionStatus cs;
          cs.connection = rows::ReadConnection(q);
          cs.pending = q.Int(10);
          cs.dead = q.Int(11);
          cs.last_sync_id = q.Text(12);
          cs.last_outcome = q.Text(13);
          cs.last_finished_at = q.Text(14);
          cs.last_succeeded = q.Int(15);
          cs.last_failed = q.Int(16);
          cs.last_total = q.Int(17);
          cs.oldest_pending = rows::OptionalTime(q, 18);
          cs.oldest_starting = rows::OptionalTime(q, 19);
          return cs;
        });
  }

  StatusOr<Activity> ReadActivity(TimePoint since) override {
    Activity out;
    Status s = RunSync([&](Conn& db) -> Status {
      out = Activity{};
      const int64_t from = ToUnixMillis(since);
      StatusOr<int64_t> first = BoundaryId(db, "events", "received_at", from);
      if (!first.ok()) return first.status();
      auto e = db.Prepare("SELECT received_at / 3600000, COUNT(*) FROM events WHERE id >= ?1 AND received_at >= ?2 "
                          "GROUP BY 1");
      e.Bind(1, *first).Bind(2, from);
      while (e.Step()) out.webhooks_by_hour[e.Int(0)] = e.Int(1);
      if (!e.status().ok()) return e.status();
      auto q = db.Prepare(std::string("SELECT ") + rows::kSyncColumns +
                          " FROM syncs WHERE status IN ('succeeded','failed') AND updated_at >= ?1 ORDER BY " +
                          D::kSyncOrder);
      q.Bind(1, from);
      while (q.Step()) out.finished.push_back(rows::ReadSync(q));
      return q.status();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<int64_t>> AddTriggers(const std::string& event_id, const std::vector<NewTrigger>& triggers,
                                             TimePoint now) override {
    std::vector<int64_t> ids;
    Status s = RunSync([&](Conn& db) -> Status {
      ids.clear();
      int64_t event_seq = 0;
      if (!event_id.empty()) {
        // In this transaction: retention may have removed the event since the caller read it.
        StatusOr<int64_t> seq = SqlCore<D>::EventSeq(db, event_id, D::kForShare);
        if (!seq.ok()) return seq.status();
        if (*seq == 0) return NotFoundError("no event " + event_id);
        event_seq = *seq;
      }
      return D::InsertTriggers(db, event_id, event_seq, triggers, ToUnixMillis(now), ids);
    });
    if (!s.ok()) return s;
    return ids;
  }

  StatusOr<std::vector<int64_t>> RetryDead(const std::vector<int64_t>& ids, TimePoint now) override {
    std::vector<int64_t> moved;
    Status s = RunSync([&](Conn& db) -> Status {
      moved.clear();
      struct Dead {
        int64_t id, start_id;
        std::optional<int64_t> conn_seq;
        std::string connection_id, sync_type, if_running;
      };
      std::vector<Dead> dead;
      {
        auto q = db.Prepare(std::string("SELECT id, COALESCE(start_id, 0), conn_seq, connection_id, sync_type, if_running "
                                        "FROM trigger_view WHERE id IN (") +
                            sql::kTriggerIdsInStateSql + ")" + (ids.empty() ? "" : " AND id " + D::InIds(2)) +
                            " ORDER BY id");
        q.Bind(1, kDead);
        if (!ids.empty()) q.Bind(2, D::IdArray(ids));
        while (q.Step()) {
          dead.push_back({q.Int(0), q.Int(1), q.IsNull(2) ? std::nullopt : std::optional<int64_t>(q.Int(2)), q.Text(3),
                          q.Text(4), q.Text(5)});
        }
        if (!q.status().ok()) return q.status();
      }
      // Each goes back to the end of its connection's queue, as if it had just arrived (a new
      // seq, or none yet on PostgreSQL), and created_at restarts so the maximum age counts from
      // the retry.
      const int64_t now_ms = ToUnixMillis(now);
      for (const Dead& d : dead) {
        // Only if the row is still the one read as dead: a concurrent retry (or prune) of the
        // same trigger on another instance changed or removed it, and it must not be counted
        // out of its start twice. It goes back unsequenced (conn_seq 0) …
        auto u = db.Prepare(
            "UPDATE triggers SET state = 'pending', conn_seq = 0, created_at = ?2, updated_at = ?2, sync_id = NULL, "
            "last_error = NULL WHERE id = ?1 AND conn_seq IS NOT DISTINCT FROM CAST(?3 AS BIGINT) "
            "AND (conn_seq IS NOT NULL OR state = 'dead')");
        u.Bind(1, d.id).Bind(2, now_ms);
        BindOptional(u, 3, d.conn_seq);
        u.Step();
        if (!u.status().ok()) return u.status();
        if (u.Changes() == 0) continue;
        // … and, where the dialect sequences at once (SQLite), takes its connection's next seq now
        // that it is known to have moved (a seq taken for nothing would count a phantom trigger).
        StatusOr<int64_t> seq = D::RequeueSeq(db, d.connection_id, d.sync_type, d.if_running, now_ms);
        if (!seq.ok()) return seq.status();
        if (*seq != 0) {
          auto set = db.Prepare("UPDATE triggers SET conn_seq = ?2 WHERE id = ?1");
          set.Bind(1, d.id).Bind(2, *seq).Step();
          if (!set.status().ok()) return set.status();
        }
        if (d.start_id != 0) {
          auto st = db.Prepare("UPDATE starts SET triggers = triggers - 1 WHERE id = ?1");
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
    Status s = RunSync([&](Conn& db) -> Status {
      out = PruneCounts{};
      // PostgreSQL: one instance prunes at a time; the others find the lock taken and leave it.
      StatusOr<bool> mine = D::TryLockPrune(db);
      if (!mine.ok() || !*mine) return mine.status();
      return DoPrune(db, ToUnixMillis(cutoff), batch, dry_run, out);
    });
    if (!s.ok()) return s;
    return out;
  }

  // AlertStore
  StatusOr<int> AddAlerts(const std::vector<NewAlert>& alerts) override {
    int added = 0;
    Status s = RunSync([&](Conn& db) {
      added = 0;
      return SqlCore<D>::InsertAlerts(db, alerts, &added);
    });
    if (!s.ok()) return s;
    return added;
  }

  StatusOr<std::optional<AlertSinkState>> ClaimAlertSink(const std::string& name, const std::string& owner, TimePoint now,
                                                        Duration lease) override {
    std::optional<AlertSinkState> out;
    Status s = RunSync([&](Conn& db) -> Status {
      out.reset();
      // The lock InsertAlerts takes: a new sink's position (the newest id) then has no
      // uncommitted alert below it.
      if (Status st = D::LockAlerts(db); !st.ok()) return st;
      auto ins = db.Prepare(sql::kInsertAlertSinkSql);
      ins.Bind(1, name).Step();
      if (!ins.status().ok()) return ins.status();
      const int64_t now_ms = ToUnixMillis(now);
      auto lease_q = db.Prepare(sql::kLeaseAlertSinkSql);
      lease_q.Bind(1, name).Bind(2, owner).Bind(3, now_ms).Bind(4, now_ms + lease.count()).Step();
      if (!lease_q.status().ok()) return lease_q.status();
      if (lease_q.Changes() == 0) return Status::Ok();
      auto q = db.Prepare(std::string("SELECT ") + sql::kAlertSinkColumns + " FROM alert_sinks WHERE name = ?1");
      q.Bind(1, name);
      if (q.Step()) out = rows::ReadAlertSink(q);
      return q.status();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<StoredAlert>> AlertsAfter(int64_t after, int limit) override {
    return this->template ReadAll<StoredAlert>(std::string("SELECT ") + sql::kAlertColumns + " FROM alerts WHERE id > ?1 ORDER BY id LIMIT ?2",
                                [&](auto& q) { q.Bind(1, after).Bind(2, int64_t{limit}); },
                                [](const auto& q) { return rows::ReadAlert(q); });
  }

  Status SaveAlertSink(const AlertSinkState& st, const std::string& owner) override {
    return RunSync([&](Conn& db) -> Status {
      auto q = db.Prepare(sql::kSaveAlertSinkSql);
      q.Bind(1, st.name).Bind(2, owner).Bind(3, st.last_alert_id);
      BindOptional(q, 4, st.last_sent_at);
      q.Bind(5, int64_t{st.attempts}).Bind(6, ToUnixMillis(st.next_at)).Bind(7, st.last_error).Bind(8, st.delivered).Step();
      if (!q.status().ok()) return q.status();
      if (q.Changes() == 0) return Status(StatusCode::kFailedPrecondition, "alert sink " + st.name + ": lease lost");
      return Status::Ok();
    });
  }

  StatusOr<std::vector<AlertSinkState>> ListAlertSinks() override {
    return this->template ReadAll<AlertSinkState>(std::string("SELECT ") + sql::kAlertSinkColumns + " FROM alert_sinks ORDER BY name",
                                   [](auto&) {}, [](const auto& q) { return rows::ReadAlertSink(q); });
  }

  StatusOr<AlertStore::StartRuns> RunsOfStart(const std::string& connection_id, int64_t start_id, int limit) override {
    AlertStore::StartRuns out;
    Status s = RunSync([&](Conn& db) -> Status {
      out = AlertStore::StartRuns{};
      auto n = db.Prepare(sql::kStartTriggersSql);
      n.Bind(1, connection_id).Bind(2, start_id);
      if (n.Step()) out.triggers = n.Int(0);
      if (!n.status().ok()) return n.status();
      auto q = db.Prepare(sql::kRunsOfStartSql);
      q.Bind(1, connection_id).Bind(2, start_id).Bind(3, int64_t{limit});
      while (q.Step()) AddStartRun(q.Text(0), q.Int(1), q.Text(2), q.Text(3), limit, out);
      return q.status();
    });
    if (!s.ok()) return s;
    return out;
  }

  StatusOr<std::vector<FanInRun>> ListFanInProgress() override {
    return this->template ReadAll<FanInRun>(sql::kAllFanInProgressSql, [](auto&) {},
                                            [](const auto& q) { return rows::ReadFanInRun(q); });
  }

 private:
  static Status DoPrune(Conn& db, int64_t cut, int64_t limit, bool dry_run, PruneCounts& out) {
    // Rows older than the cutoff sit below a boundary id (ids grow with time), found by binary
    // search on the primary key: a pass never scans the rows it keeps.
    StatusOr<int64_t> events_below = BoundaryId(db, "events", "received_at", cut);
    if (!events_below.ok()) return events_below.status();
    std::vector<int64_t> ids;
    {
      auto pick = db.Prepare(std::string("SELECT e.id FROM events e WHERE e.id < ?1 AND e.received_at < ?2 AND NOT EXISTS "
                                         "(SELECT 1 FROM trigger_view t WHERE ") + D::kTriggerOfEvent +
                             " AND t.state IN ('pending','starting','running')) ORDER BY e.id LIMIT ?3");
      pick.Bind(1, *events_below).Bind(2, cut).Bind(3, limit);
      while (pick.Step()) ids.push_back(pick.Int(0));
      if (!pick.status().ok()) return pick.status();
    }
    out.events = static_cast<int64_t>(ids.size());
    const std::string id_array = D::IdArray(ids);
    // A COUNT(*) of the rows `from_where` names when dry, else their DELETE.
    auto count_or_delete = [&](const std::string& from_where, auto bind, int64_t* n) -> Status {
      auto q = db.Prepare((dry_run ? "SELECT COUNT(*)" : "DELETE") + from_where);
      bind(q);
      if (q.Step()) *n += q.Int(0);
      if (!q.status().ok()) return q.status();
      if (!dry_run) *n += q.Changes();
      return Status::Ok();
    };
    auto by_events = [&](auto& q) { q.Bind(1, id_array); };
    // Each statement sees what committed before it (on PostgreSQL other instances write too):
    // only final triggers go, and only events with no trigger left.
    const std::string of_events = std::string("SELECT id FROM trigger_view WHERE ") + D::TriggersOfEvents(1) +
                                  " AND state IN ('succeeded','failed','skipped','dead')";
    if (Status st = dry_run ? count_or_delete(" FROM triggers WHERE id IN (" + of_events + ")", by_events, &out.triggers)
                            : D::DeleteTriggers(db, of_events, by_events, &out.triggers);
        !st.ok()) return st;
    if (!dry_run) {
      out.events = 0;
      if (Status st = count_or_delete(std::string(" FROM events AS e WHERE e.id ") + D::InIds(1) +
                                          " AND NOT EXISTS (SELECT 1 FROM triggers t WHERE " + D::kTriggerOfEvent + ")",
                                      by_events, &out.events);
          !st.ok()) return st;
    }
    // Manual triggers (no event) once the old events are gone: their id range is then nearly
    // empty, so the scan below the boundary stays short.
    if (out.events == 0 || dry_run) {
      StatusOr<int64_t> triggers_below = BoundaryId(db, "triggers", "created_at", cut);
      if (!triggers_below.ok()) return triggers_below.status();
      auto bind = [&](auto& q) { q.Bind(1, *triggers_below).Bind(2, cut).Bind(3, limit); };
      const std::string manual =
          "SELECT id FROM trigger_view WHERE id < ?1 AND event_id IS NULL AND created_at < ?2 "
          "AND state IN ('succeeded','failed','skipped','dead') ORDER BY id LIMIT ?3";
      if (Status st = dry_run ? count_or_delete(" FROM triggers WHERE id IN (" + manual + ")", bind, &out.triggers)
                              : D::DeleteTriggers(db, manual, bind, &out.triggers);
          !st.ok()) return st;
    }
    auto by_age = [&](auto& q) { q.Bind(1, cut).Bind(2, limit); };
    const std::string row = D::kSyncOrder;
    if (Status st = count_or_delete(" FROM syncs WHERE " + row + " IN (SELECT " + row + " FROM syncs WHERE status IN "
                                    "('succeeded','failed','unknown') AND updated_at < ?1 ORDER BY " + row + " LIMIT ?2)",
                                    by_age, &out.syncs);
        !st.ok()) return st;
    // After the triggers: a start goes once no trigger refers to it.
    if (Status st = count_or_delete(std::string(" FROM starts WHERE id IN (") + sql::kPrunableStartsSql + ")", by_age,
                                    &out.starts);
        !st.ok()) return st;
    if (Status st = count_or_delete(" FROM alerts WHERE id IN (SELECT id FROM alerts WHERE at < ?1 ORDER BY id LIMIT ?2)",
                                    by_age, &out.alerts);
        !st.ok()) return st;
    StatusOr<int64_t> attempts_below = BoundaryId(db, "attempts", "at", cut);
    if (!attempts_below.ok()) return attempts_below.status();
    return count_or_delete(" FROM attempts WHERE id IN (SELECT id FROM attempts WHERE id < ?1 AND at < ?2 ORDER BY id LIMIT ?3)",
                           [&](auto& q) { q.Bind(1, *attempts_below).Bind(2, cut).Bind(3, limit); }, &out.attempts);
  }
};

}  // namespace relay::store
