#pragma once
// A SQLite VFS shim that gathers the writes of a commit to the write-ahead log into a few
// large writes (pieces of up to 120 KB). SQLite writes each WAL frame as two pwrite calls (a
// 24-byte header, then the page): a group commit of 20 webhooks dirties ~50 pages, ~100 system
// calls on the writer thread, where a system call is the expensive part on a virtual machine.
// The shim keeps contiguous WAL writes in memory and hands them to the real file when SQLite
// syncs the WAL, reads it, asks its size, truncates it, closes it, or when the buffer passes the
// bound. A write error surfaces on the call that flushes, which fails the transaction.
//
// REQUIRES synchronous=FULL on every connection that uses it (Db::Open sets it): then SQLite
// syncs the WAL at every commit before it publishes the commit to readers (the wal-index), so
// the data reaches the file before the same fsync as without the shim, and no reader can see a
// frame still in the buffer. Every other file (the database, the wal-index) passes through.

#include <sqlite3.h>

#include <cstdint>

namespace relay::store {

// Registers the shim (once, thread-safe) over the default VFS and returns its name for
// sqlite3_open_v2; nullptr (the default VFS) if SQLite has none to wrap.
const char* WalBufferingVfsName();

// Pipelined durability (BatchExecutor's commit_unsynced/sync): while deferred, the WAL sync
// SQLite makes at each commit writes the buffered frames to the file (so readers still find
// them there before the commit is published) but does not fsync; the caller makes the commit
// durable by fdatasync(WalSyncFd(db)) before it tells anyone, possibly on another thread while
// the next transaction runs. Checkpoints must run with deferral off: they rely on a real sync
// of the WAL before they copy it into the database. Returns false (and changes nothing) when
// the connection's WAL is not open through the shim.
bool SetWalSyncDeferred(sqlite3* db, bool deferred);
// A read-only descriptor of the connection's WAL, owned by the shim and valid while the
// connection is open; -1 if none.
int WalSyncFd(sqlite3* db);

// Process-wide counts for tests and benchmarks: writes SQLite asked for on WAL files, and
// writes the shim made to them.
struct WalWriteCounts {
  uint64_t requested = 0;
  uint64_t performed = 0;
};
WalWriteCounts WalWriteCountsSoFar();

}  // namespace relay::store
