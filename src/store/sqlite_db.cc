#include "store/sqlite_db.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "store/sqlite_wal_vfs.h"

namespace relay::store {

Query::~Query() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Query& Query::Bind(int index, int64_t v) {
  if (stmt_) sqlite3_bind_int64(stmt_, index, v);
  return *this;
}
Query& Query::Bind(int index, std::string_view v) {
  if (stmt_) sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Query& Query::BindBlob(int index, std::string_view v) {
  if (stmt_) sqlite3_bind_blob(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Query& Query::BindNull(int index) {
  if (stmt_) sqlite3_bind_null(stmt_, index);
  return *this;
}

bool Query::Step() {
  if (stmt_ == nullptr) {
    if (status_.ok()) status_ = InternalError("sqlite: statement failed to prepare");
    return false;
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) {
    status_ = UnavailableError(std::string("sqlite step: ") + sqlite3_errmsg(sqlite3_db_handle(stmt_)));
  }
  return false;
}

std::string_view Query::TextView(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
}

std::string Query::Text(int col) const { return std::string(TextView(col)); }

namespace {

// Creates the missing directories above `path` with mode 0700 (they will hold webhook bodies).
Status MakeParentDirs(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return UnavailableError("sqlite: cannot create directory " + dir + ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path, bool create_if_missing) {
  if (create_if_missing) {
    if (Status s = MakeParentDirs(path); !s.ok()) return s;
  }
  // Create the file ourselves so it is private from the start: it holds raw webhook bodies.
  // Only when it does not exist yet: closing a descriptor of a database that this process
  // already has open drops every POSIX lock the process holds on it, SQLite's included, after
  // which another process may take the database for unused and delete the WAL under our writer.
  if (::access(path.c_str(), F_OK) != 0) {
    if (!create_if_missing) return UnavailableError("sqlite: cannot open " + path + ": " + std::strerror(ENOENT));
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) ::close(fd);
    else if (errno != EEXIST) return UnavailableError("sqlite: cannot open " + path + ": " + std::strerror(errno));
  } else if (::access(path.c_str(), R_OK | W_OK) != 0) {
    return UnavailableError("sqlite: cannot open " + path + ": " + std::strerror(errno));
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           WalBufferingVfsName());
  std::unique_ptr<Db> db(new Db(raw));
  if (rc != SQLITE_OK) return db->Error("sqlite: open " + path);
  sqlite3_busy_timeout(raw, 5000);
  // WAL lets readers (the CLI) work while the relay writes; FULL syncs the WAL on every commit,
  // which is what "durable before the 200" needs (CommitUnsynced moves that sync to the store's
  // syncer thread; the VFS shim relies on FULL: see sqlite_wal_vfs.h).
  // A 512 KiB page cache instead of SQLite's 2 MB: the relay's writes touch the right edges of
  // its B-trees and its reads are a few index ranges, and a page that is not cached comes from
  // the OS page cache. Measured (bench/README.md): the same ingest rate with 1M stored events,
  // and 1.6 MB less peak RSS.
  // Foreign keys are not enforced (SQLite's default): triggers.event_id has no index (its
  // random keys would cost every webhook, docs/schema.md), so deleting one event made SQLite
  // scan every trigger to check for children — a minute per retention batch of 1,000 events
  // at 1M triggers, with webhooks waiting. The store keeps the reference itself: triggers are
  // inserted in their event's transaction, and Prune deletes them before the event.
  Status s = db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; "
                      "PRAGMA cache_size=-512;");
  if (!s.ok()) return s;
  // Replaces the automatic checkpoint (which would run inside COMMIT): see Commit().
  sqlite3_wal_hook(
      raw,
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<Db*>(self)->wal_frames_ = frames;
        ++static_cast<Db*>(self)->wal_commits_;
        return SQLITE_OK;
      },
      db.get());
  return db;
}

namespace {
constexpr int kCheckpointFrames = 1000;  // SQLite's default for its automatic checkpoint
}  // namespace

Status Db::Commit() { return CommitAndCheckpoint(/*defer_sync=*/false); }

StatusOr<bool> Db::CommitUnsynced() {
  const uint64_t before = wal_commits_;
  if (Status s = CommitAndCheckpoint(/*defer_sync=*/true); !s.ok()) return s;
  return wal_commits_ != before;
}

Status Db::CommitAndCheckpoint(bool defer_sync) {
  const bool deferred = defer_sync && SetWalSyncDeferred(db_, true);
  Status s = Run("COMMIT");
  if (deferred) SetWalSyncDeferred(db_, false);
  if (!s.ok()) return s;
  // With deferral off: the checkpoint syncs the WAL for real before copying it.
  if (wal_frames_ < kCheckpointFrames) return Status::Ok();
  // Best effort, like SQLite's own: a checkpoint held up by a reader is retried next time.
  (void)sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  wal_frames_ = 0;
  return Status::Ok();
}

int Db::WalSyncFd() const { return store::WalSyncFd(db_); }

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string copy(sql);
  if (sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return UnavailableError("sqlite: " + msg);
  }
  return Status::Ok();
}

Status Db::Run(const std::string& sql) {
  Query q = Prepare(sql);
  q.Step();
  return q.status();
}

Query Db::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Query(it->second);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    return Query(nullptr, Error("sqlite prepare"));
  }
  cache_.emplace(sql, stmt);
  return Query(stmt);
}

Status Db::Error(std::string_view context) const {
  return UnavailableError(std::string(context) + ": " + sqlite3_errmsg(db_));
}

}  // namespace relay::store
