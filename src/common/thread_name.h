#pragma once
// Names the calling thread (Linux: at most 15 characters shown), so `top -H`, `perf` and
// /proc/PID/task tell the relay's threads apart. The main thread keeps the process's name:
// renaming it would change what `ps` and `pgrep` show for the whole process.

#include <pthread.h>

namespace relay {

inline void NameThisThread(const char* name) { (void)pthread_setname_np(pthread_self(), name); }

}  // namespace relay
