#include "store/sqlite_wal_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <string>

#include "../../test/support/temp_dir.h"
#include "store/sqlite_db.h"

namespace relay::store {
namespace {

// Inserts `rows` rows with random keys (so the index pages they touch are scattered, as the
// events' event_id index is) and 1 KB values, in one transaction.
void InsertRandomRows(Db& db, int rows, std::mt19937_64& rng, bool commit = true) {
  ASSERT_TRUE(db.Exec("BEGIN").ok());
  for (int i = 0; i < rows; ++i) {
    Query q = db.Prepare("INSERT INTO t (k, v) VALUES (?1, ?2)");
    q.Bind(1, std::to_string(rng())).BindBlob(2, std::string(1024, static_cast<char>('a' + i % 26))).Step();
    ASSERT_TRUE(q.status().ok()) << q.status().message();
  }
  ASSERT_TRUE(db.Exec(commit ? "COMMIT" : "ROLLBACK").ok());
}

// What other processes see: a connection on SQLite's own VFS, without the shim.
int64_t CountWithoutTheShim(const std::string& path) {
  sqlite3* raw = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(raw, "SELECT COUNT(*) FROM t", -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    n = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &stmt, nullptr);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "ok");
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
  return n;
}

class WalVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Db::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(db).value();
    ASSERT_TRUE(db_->Exec("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB NOT NULL)").ok());
  }
  testing::TempDir dir_;
  const std::string path_ = dir_.File("wal.db");
  std::unique_ptr<Db> db_;
  std::mt19937_64 rng_{42};
};

TEST_F(WalVfsTest, ACommitReachesTheLogInOneWrite) {
  const WalWriteCounts before = WalWriteCountsSoFar();
  InsertRandomRows(*db_, 100, rng_);
  const WalWriteCounts after = WalWriteCountsSoFar();
  // ~100 KB of rows plus scattered index pages: dozens of frames, two writes each from SQLite,
  // gathered into pieces of up to 120 KB.
  EXPECT_GE(after.requested - before.requested, 60u);
  EXPECT_LE(after.performed - before.performed, 3u) << (after.requested - before.requested) << " requested";
}

TEST_F(WalVfsTest, CommitsAreVisibleToConnectionsWithoutTheShim) {
  for (int round = 0; round < 20; ++round) {
    InsertRandomRows(*db_, 25, rng_);
    ASSERT_EQ(CountWithoutTheShim(path_), 25 * (round + 1)) << "round " << round;
  }
}

// 3 MB in one transaction: more than the shim holds (writes go out mid-transaction) and more
// than SQLite's page cache (SQLite spills pages to the log and reads them back).
TEST_F(WalVfsTest, TransactionsLargerThanTheBufferAndTheCacheSurvive) {
  InsertRandomRows(*db_, 3000, rng_);
  EXPECT_EQ(CountWithoutTheShim(path_), 3000);
  InsertRandomRows(*db_, 3000, rng_, /*commit=*/false);
  EXPECT_EQ(CountWithoutTheShim(path_), 3000) << "a rolled-back transaction leaves nothing behind";
  InsertRandomRows(*db_, 10, rng_);
  EXPECT_EQ(CountWithoutTheShim(path_), 3010);
  ASSERT_TRUE(db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  db_.reset();
  EXPECT_EQ(CountWithoutTheShim(path_), 3010) << "after a checkpoint and close";
}

// Found when the store began to open a second connection (its checkpointer): opening the file
// again and closing that descriptor dropped every POSIX lock the process held on the database,
// so another process closing its connection took the database for unused and deleted the WAL
// that the writer went on writing to (unlinked: every later commit invisible to others).
TEST_F(WalVfsTest, OpeningTheDatabaseAgainInTheProcessKeepsItsLocks) {
  InsertRandomRows(*db_, 5, rng_);
  {
    auto second = Db::Open(path_);
    ASSERT_TRUE(second.ok()) << second.status().message();
  }
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Another process (a fresh one: a forked child would share this process's SQLite lock
    // bookkeeping) reads and closes; if it finds no lock, its close deletes the WAL.
    const std::string script = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                               "c.execute('SELECT COUNT(*) FROM t').fetchall(); c.close()";
    execlp("python3", "python3", "-c", script.c_str(), path_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "python3 reader failed";
  EXPECT_EQ(::access((path_ + "-wal").c_str(), F_OK), 0) << "the WAL was deleted under an open connection";
  InsertRandomRows(*db_, 5, rng_);
  EXPECT_EQ(CountWithoutTheShim(path_), 10);
}

}  // namespace
}  // namespace relay::store
