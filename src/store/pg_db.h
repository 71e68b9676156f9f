#pragma once
// Thin helpers over libpq, private to the store module: one connection that reconnects when
// needed, text-format parameters and results. Not thread-safe: one PgConn per writer thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/pq_api.h"

namespace relay::store {

using PgParam = std::optional<std::string>;  // nullopt is SQL NULL

// `message` (libpq's) with the password of the connection URL `url` — in its user-info part
// or a password= parameter, as written or percent-decoded — replaced by "***" (RedactWhole).
std::string WithoutPassword(std::string message, std::string_view url);
inline PgParam P(int64_t v) { return std::to_string(v); }
inline PgParam P(std::string v) { return v; }
inline PgParam P(const char* v) { return std::string(v); }

class PgResult {
 public:
  // REQUIRES: libpq is loaded (a result exists only once a connection did).
  PgResult(const PqApi& pq, PGresult* r) : pq_(&pq), r_(r, Clear{&pq}) {}
  int rows() const { return pq_->ntuples(r_.get()); }
  std::string Text(int row, int col) const { return pq_->getvalue(r_.get(), row, col); }
  int64_t Int(int row, int col) const { return IsNull(row, col) ? 0 : std::stoll(pq_->getvalue(r_.get(), row, col)); }
  bool IsNull(int row, int col) const { return pq_->getisnull(r_.get(), row, col) != 0; }
  // Rows touched by INSERT/UPDATE/DELETE.
  int64_t affected() const {
    const char* n = pq_->cmd_tuples(r_.get());
    return (n && *n) ? std::stoll(n) : 0;
  }

 private:
  struct Clear {
    const PqApi* pq;
    void operator()(PGresult* r) const { pq->clear(r); }
  };
  const PqApi* pq_;
  std::unique_ptr<PGresult, Clear> r_;
};

class PgConn;

// One statement written with SQLite's ?N parameters (sql::PgSql makes them $N), with the
// interface of SQLite's Query (sqlite_db.h), so the store's shared code (sql_store.h) reads
// the same on both: Bind, then Step runs it on the first call and walks its rows. Parameters
// go as text; every index up to the highest bound must be bound, and a parameter whose type
// PostgreSQL cannot infer from its use needs a CAST in the SQL.
class PgQuery {
 public:
  PgQuery(PgConn& conn, std::string sql);
  PgQuery(const PgQuery&) = delete;
  PgQuery& operator=(const PgQuery&) = delete;

  PgQuery& Bind(int index, int64_t v) { return Set(index, std::to_string(v)); }
  PgQuery& Bind(int index, std::string_view v) { return Set(index, std::string(v)); }
  PgQuery& BindNull(int index) { return Set(index, std::nullopt); }

  bool Step();
  Status status() const { return status_; }
  int64_t Int(int col) const { return result_->Int(row_, col); }
  bool IsNull(int col) const { return result_->IsNull(row_, col); }
  std::string Text(int col) const { return result_->Text(row_, col); }
  // Rows inserted, updated or deleted, once run.
  int64_t Changes() const { return result_ ? result_->affected() : 0; }

 private:
  PgQuery& Set(int index, PgParam v);

  PgConn* conn_;
  std::string sql_;
  std::vector<PgParam> params_;
  std::optional<PgResult> result_;
  int row_ = -1;
  bool ran_ = false;
  Status status_;
};

class PgConn {
 public:
  explicit PgConn(std::string url) : url_(std::move(url)) {}
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Connects if not connected (connect_timeout 5 s); Unavailable with libpq's reason otherwise.
  Status EnsureConnected();
  // Runs one statement with text parameters ($1, $2, …). Unavailable when not connected or the
  // connection is lost (a later EnsureConnected re-establishes it) and for transient SQL
  // errors (deadlock, serialization), Internal for other SQL errors.
  StatusOr<PgResult> Exec(const std::string& sql, const std::vector<PgParam>& params = {});
  Status Run(const std::string& sql, const std::vector<PgParam>& params = {});
  // A statement with ?N parameters, run by its first Step (PgQuery).
  PgQuery Prepare(std::string sql) { return PgQuery(*this, std::move(sql)); }
  bool connected() const { return conn_ != nullptr && pq_->status(conn_) == CONNECTION_OK; }

 private:
  std::string url_;
  const PqApi* pq_ = nullptr;  // set by the first EnsureConnected
  PGconn* conn_ = nullptr;
};

// "{1,2,3}": a PostgreSQL array literal for `= ANY($n::bigint[])`.
std::string PgIdArray(const std::vector<int64_t>& ids);
// {"a","b\"c"}: a PostgreSQL text[] literal, every element quoted and escaped.
std::string PgTextArray(const std::vector<std::string>& values);
// The elements of a bigint[] as PostgreSQL prints it ("{1,0,3}"); nullopt if it is not one.
std::optional<std::vector<int64_t>> ParsePgIdArray(const std::string& text);

}  // namespace relay::store
