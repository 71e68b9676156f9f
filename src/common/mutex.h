#pragma once
// Mutex, MutexLock and CondVar: std::mutex with Clang's thread-safety annotations, so the
// compiler checks what "guarded by mu_" used to say in a comment. Members are declared
// `T x GUARDED_BY(mu_);`, functions that expect the lock `REQUIRES(mu_)`. Clang builds compile
// with -Wthread-safety -Werror=thread-safety (CMakeLists.txt; the fuzz preset builds every
// library with clang); GCC ignores the attributes.
//
// Style after Abseil's and LLVM's own annotation macros: a capability-annotated mutex, a scoped
// lock, and a condition variable whose waits require the mutex.

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define RELAY_TSA(x) __attribute__((x))
#else
#define RELAY_TSA(x)
#endif

#define CAPABILITY(x) RELAY_TSA(capability(x))
#define SCOPED_CAPABILITY RELAY_TSA(scoped_lockable)
#define GUARDED_BY(x) RELAY_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) RELAY_TSA(pt_guarded_by(x))
#define REQUIRES(...) RELAY_TSA(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) RELAY_TSA(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) RELAY_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) RELAY_TSA(release_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS RELAY_TSA(no_thread_safety_analysis)

namespace relay {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` for its scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// A condition variable used with a Mutex the caller holds. Waits release the mutex while
// blocked and hold it again when they return, as std::condition_variable's do. A predicate
// runs with the mutex held: declare it `[&]() REQUIRES(mu_) { … }` so its body is checked.
class CondVar {
 public:
  void Wait(Mutex& mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  template <typename Pred>
  void Wait(Mutex& mu, Pred done) REQUIRES(mu) NO_THREAD_SAFETY_ANALYSIS {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock, std::move(done));
    lock.release();
  }
  // Returns done()'s last value: false when the time ran out first.
  template <typename Rep, typename Period, typename Pred>
  bool WaitFor(Mutex& mu, std::chrono::duration<Rep, Period> timeout, Pred done) REQUIRES(mu)
      NO_THREAD_SAFETY_ANALYSIS {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    const bool result = cv_.wait_for(lock, timeout, std::move(done));
    lock.release();
    return result;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace relay
