#pragma once
// Thin helpers over libpq, private to the store module: one connection that reconnects when
// needed, text-format parameters and results. Not thread-safe: one PgConn per writer thread.

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace relay::store {

using PgParam = std::optional<std::string>;  // nullopt is SQL NULL
inline PgParam P(int64_t v) { return std::to_string(v); }
inline PgParam P(std::string v) { return v; }
inline PgParam P(const char* v) { return std::string(v); }

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  std::string Text(int row, int col) const { return PQgetvalue(r_.get(), row, col); }
  int64_t Int(int row, int col) const { return IsNull(row, col) ? 0 : std::stoll(PQgetvalue(r_.get(), row, col)); }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  // Rows touched by INSERT/UPDATE/DELETE.
  int64_t affected() const {
    const char* n = PQcmdTuples(r_.get());
    return (n && *n) ? std::stoll(n) : 0;
  }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> r_;
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
  bool connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

 private:
  std::string url_;
  PGconn* conn_ = nullptr;
};

// "{1,2,3}": a PostgreSQL array literal for `= ANY($n::bigint[])`.
std::string PgIdArray(const std::vector<int64_t>& ids);

}  // namespace relay::store
