#include "store/sqlite_wal_vfs.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace relay::store {
namespace {

// SQLite's unix VFS writes at most 0x1ffff bytes per call (it masks larger sizes), so a run of
// writes goes out in pieces below that.
constexpr size_t kFlushBytes = 120 * 1024;
constexpr size_t kInitialCapacity = 64 * 1024;

sqlite3_vfs* g_real = nullptr;  // set once, before the shim is registered
std::atomic<uint64_t> g_requested{0}, g_performed{0};

int WriteThrough(sqlite3_file* real, const void* data, int amount, sqlite3_int64 offset) {
  g_performed.fetch_add(1, std::memory_order_relaxed);
  return real->pMethods->xWrite(real, data, amount, offset);
}

// SQLite allocates vfs.szOsFile bytes per open file: this header, then the real file object.
struct ShimFile {
  sqlite3_file base;  // first: SQLite reads pMethods from here
  sqlite3_file* real;
  bool buffering;  // the write-ahead log: contiguous writes gather in buf
  bool defer_sync;  // the WAL sync of a commit writes the buffer but leaves the fsync to others
  int sync_fd;      // the WAL opened read-only, for those others' fdatasync; -1 if none
  char* buf;
  size_t len;
  size_t cap;
  sqlite3_int64 start;  // file offset of buf[0]
};
constexpr size_t kRealOffset = (sizeof(ShimFile) + 15) & ~size_t{15};

ShimFile* Shim(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return Shim(f)->real; }
const sqlite3_io_methods* RealMethods(sqlite3_file* f) { return Real(f)->pMethods; }

int Flush(ShimFile* f) {
  if (f->len == 0) return SQLITE_OK;
  const int rc = WriteThrough(f->real, f->buf, static_cast<int>(f->len), f->start);
  f->len = 0;
  return rc;
}

int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  ShimFile* f = Shim(file);
  const size_t n = static_cast<size_t>(amount);
  if (!f->buffering) return RealMethods(file)->xWrite(f->real, data, amount, offset);
  g_requested.fetch_add(1, std::memory_order_relaxed);
  if (f->len > 0 && (offset != f->start + static_cast<sqlite3_int64>(f->len) || f->len + n > kFlushBytes)) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  if (n >= kFlushBytes) return WriteThrough(f->real, data, amount, offset);
  if (f->len + n > f->cap) {
    const size_t cap = std::max({f->cap * 2, f->len + n, kInitialCapacity});
    char* grown = static_cast<char*>(std::realloc(f->buf, cap));
    if (grown == nullptr) return SQLITE_IOERR_NOMEM;
    f->buf = grown;
    f->cap = cap;
  }
  if (f->len == 0) f->start = offset;
  std::memcpy(f->buf + f->len, data, n);
  f->len += n;
  return SQLITE_OK;
}

int Close(sqlite3_file* file) {
  ShimFile* f = Shim(file);
  int rc = Flush(f);
  if (f->real->pMethods != nullptr) {
    const int closed = f->real->pMethods->xClose(f->real);
    if (rc == SQLITE_OK) rc = closed;
  }
  std::free(f->buf);
  f->buf = nullptr;
  f->cap = 0;
  if (f->sync_fd >= 0) ::close(f->sync_fd);
  f->sync_fd = -1;
  return rc;
}

int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  if (int rc = Flush(Shim(file)); rc != SQLITE_OK) return rc;
  return RealMethods(file)->xRead(Real(file), out, amount, offset);
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (int rc = Flush(Shim(file)); rc != SQLITE_OK) return rc;
  return RealMethods(file)->xTruncate(Real(file), size);
}

int Sync(sqlite3_file* file, int flags) {
  if (int rc = Flush(Shim(file)); rc != SQLITE_OK) return rc;
  if (Shim(file)->defer_sync) return SQLITE_OK;
  return RealMethods(file)->xSync(Real(file), flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  if (int rc = Flush(Shim(file)); rc != SQLITE_OK) return rc;
  return RealMethods(file)->xFileSize(Real(file), size);
}

int FileControl(sqlite3_file* file, int op, void* arg) {
  if (int rc = Flush(Shim(file)); rc != SQLITE_OK) return rc;
  return RealMethods(file)->xFileControl(Real(file), op, arg);
}

int Lock(sqlite3_file* file, int level) { return RealMethods(file)->xLock(Real(file), level); }
int Unlock(sqlite3_file* file, int level) { return RealMethods(file)->xUnlock(Real(file), level); }
int CheckReservedLock(sqlite3_file* file, int* out) {
  return RealMethods(file)->xCheckReservedLock(Real(file), out);
}
int SectorSize(sqlite3_file* file) { return RealMethods(file)->xSectorSize(Real(file)); }
int DeviceCharacteristics(sqlite3_file* file) { return RealMethods(file)->xDeviceCharacteristics(Real(file)); }

int ShmMap(sqlite3_file* file, int page, int size, int extend, void volatile** out) {
  if (RealMethods(file)->iVersion < 2) return SQLITE_IOERR_SHMMAP;
  return RealMethods(file)->xShmMap(Real(file), page, size, extend, out);
}
int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  if (RealMethods(file)->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
  return RealMethods(file)->xShmLock(Real(file), offset, n, flags);
}
void ShmBarrier(sqlite3_file* file) {
  if (RealMethods(file)->iVersion >= 2) RealMethods(file)->xShmBarrier(Real(file));
}
int ShmUnmap(sqlite3_file* file, int remove) {
  if (RealMethods(file)->iVersion < 2) return SQLITE_OK;
  return RealMethods(file)->xShmUnmap(Real(file), remove);
}
int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  if (RealMethods(file)->iVersion < 3) {
    *out = nullptr;
    return SQLITE_OK;
  }
  if (int rc = Flush(Shim(file)); rc != SQLITE_OK) return rc;
  return RealMethods(file)->xFetch(Real(file), offset, amount, out);
}
int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
  if (RealMethods(file)->iVersion < 3) return SQLITE_OK;
  return RealMethods(file)->xUnfetch(Real(file), offset, p);
}

const sqlite3_io_methods kMethods = {
    3,        Close,       Read,        Write,      Truncate,   Sync,  FileSize, Lock, Unlock, CheckReservedLock,
    FileControl, SectorSize, DeviceCharacteristics, ShmMap, ShmLock, ShmBarrier, ShmUnmap, Fetch, Unfetch,
};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  ShimFile* f = Shim(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  f->real->pMethods = nullptr;
  f->buffering = (flags & SQLITE_OPEN_WAL) != 0;
  f->defer_sync = false;
  f->sync_fd = -1;
  f->buf = nullptr;
  f->len = f->cap = 0;
  f->start = 0;
  const int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  if (rc == SQLITE_OK && f->buffering && name != nullptr) f->sync_fd = ::open(name, O_RDONLY | O_CLOEXEC);
  // SQLite calls xClose whenever pMethods is set, even after a failed open: route it to ours
  // exactly when the real file needs closing.
  if (f->real->pMethods != nullptr) f->base.pMethods = &kMethods;
  return rc;
}

// The VFS-level calls go to the real VFS with the real VFS as their first argument.
int Delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_real->xDelete(g_real, name, sync_dir); }
int Access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_real->xAccess(g_real, name, flags, out); }
int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void DlError(sqlite3_vfs*, int n, char* out) { g_real->xDlError(g_real, n, out); }
void (*DlSym(sqlite3_vfs*, void* lib, const char* sym))(void) { return g_real->xDlSym(g_real, lib, sym); }
void DlClose(sqlite3_vfs*, void* lib) { g_real->xDlClose(g_real, lib); }
int Randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int Sleep(sqlite3_vfs*, int micros) { return g_real->xSleep(g_real, micros); }
int CurrentTime(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int GetLastError(sqlite3_vfs*, int n, char* out) { return g_real->xGetLastError(g_real, n, out); }
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) { return g_real->xCurrentTimeInt64(g_real, out); }

sqlite3_vfs* Register() {
  g_real = sqlite3_vfs_find(nullptr);
  if (g_real == nullptr) return nullptr;
  static sqlite3_vfs vfs = {};
  vfs.iVersion = 2;  // the system-call overrides (version 3) are a testing hook we do not need
  vfs.szOsFile = static_cast<int>(kRealOffset) + g_real->szOsFile;
  vfs.mxPathname = g_real->mxPathname;
  vfs.zName = "retl-relay-wal-buffer";
  vfs.xOpen = Open;
  vfs.xDelete = Delete;
  vfs.xAccess = Access;
  vfs.xFullPathname = FullPathname;
  vfs.xDlOpen = DlOpen;
  vfs.xDlError = DlError;
  vfs.xDlSym = DlSym;
  vfs.xDlClose = DlClose;
  vfs.xRandomness = Randomness;
  vfs.xSleep = Sleep;
  vfs.xCurrentTime = CurrentTime;
  vfs.xGetLastError = GetLastError;
  vfs.xCurrentTimeInt64 = g_real->iVersion >= 2 && g_real->xCurrentTimeInt64 != nullptr ? CurrentTimeInt64 : nullptr;
  if (sqlite3_vfs_register(&vfs, /*makeDflt=*/0) != SQLITE_OK) return nullptr;
  return &vfs;
}

// The connection's WAL file if it is one of ours.
ShimFile* WalOf(sqlite3* db) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &file) != SQLITE_OK || file == nullptr) {
    return nullptr;
  }
  if (file->pMethods != &kMethods || !Shim(file)->buffering) return nullptr;
  return Shim(file);
}

}  // namespace

int WalSyncFd(sqlite3* db) {
  ShimFile* wal = WalOf(db);
  return wal == nullptr ? -1 : wal->sync_fd;
}

bool SetWalSyncDeferred(sqlite3* db, bool deferred) {
  ShimFile* wal = WalOf(db);
  if (wal == nullptr || wal->sync_fd < 0) return false;
  wal->defer_sync = deferred;
  return true;
}

WalWriteCounts WalWriteCountsSoFar() {
  return {g_requested.load(std::memory_order_relaxed), g_performed.load(std::memory_order_relaxed)};
}

const char* WalBufferingVfsName() {
  static sqlite3_vfs* vfs = Register();
  return vfs == nullptr ? nullptr : vfs->zName;
}

}  // namespace relay::store
