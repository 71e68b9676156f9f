#pragma once
// Thin RAII helpers over the SQLite C API, private to the store module. Not thread-safe: one
// Db belongs to one thread at a time (the store's writer thread).

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace relay::store {

// A prepared statement borrowed from the Db's cache; reset and unbound when it goes out of scope.
class Query {
 public:
  explicit Query(sqlite3_stmt* stmt, Status prepare_error = Status())
      : stmt_(stmt), status_(std::move(prepare_error)) {}
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Bind(int index, int64_t v);
  Query& Bind(int index, std::string_view v);  // bound as TEXT
  Query& BindBlob(int index, std::string_view v);
  Query& BindNull(int index);

  // Steps once: true when a row is available, false when done. Errors are reported by status().
  bool Step();
  Status status() const { return status_; }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const;
  // Valid until the next Step (no copy).
  std::string_view TextView(int col) const;
  // Rows the statement inserted, updated or deleted, once stepped to its end (not for one with
  // RETURNING: read its rows instead).
  int64_t Changes() const { return stmt_ ? sqlite3_changes64(sqlite3_db_handle(stmt_)) : 0; }

 private:
  sqlite3_stmt* stmt_;
  Status status_;
};

class Db {
 public:
  // Opens or creates the file (mode 0600 when created), sets WAL, synchronous=FULL and a busy
  // timeout. Unavailable on failure.
  static StatusOr<std::unique_ptr<Db>> Open(const std::string& path, bool create_if_missing = true);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs SQL without results (may hold several statements).
  Status Exec(std::string_view sql);
  // Runs one statement without results through the statement cache (no parsing after the
  // first time): for the per-transaction and per-job statements (BEGIN, SAVEPOINT, …).
  Status Run(const std::string& sql);
  // Returns a cached prepared statement for `sql`. On a prepare error the Query's first Step()
  // fails with that error.
  Query Prepare(const std::string& sql);
  // COMMIT, then a checkpoint once the WAL has grown (the connection's automatic checkpoint is
  // replaced by this, so that it never runs inside an unsynced commit).
  Status Commit();
  // COMMIT without waiting for the disk: the transaction's frames are in the WAL file (readers
  // see them once it is published) but durable only after fdatasync(WalSyncFd()). Then the
  // same checkpoint as Commit(), with a real sync. See sqlite_wal_vfs.h. True when the
  // transaction wrote to the WAL (false: it only read, and there is nothing to sync).
  StatusOr<bool> CommitUnsynced();
  // The WAL's descriptor for fdatasync (valid while this Db is open); -1 when unsynced
  // commits are not available (the WAL is not open through the shim).
  int WalSyncFd() const;
  int64_t Changes() const { return sqlite3_changes64(db_); }
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  Status Error(std::string_view context) const;

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  Status CommitAndCheckpoint(bool defer_sync);

  sqlite3* db_;
  int wal_frames_ = 0;        // frames in the WAL after the last commit (SQLite's WAL hook)
  uint64_t wal_commits_ = 0;  // commits that wrote to the WAL (the hook runs only for those)
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace relay::store
