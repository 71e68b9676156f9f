#include "common/dynlib.h"

#include <dlfcn.h>

#include <map>

#include "common/mutex.h"

namespace relay {

StatusOr<void*> OpenSharedLibrary(const std::string& soname) {
  static Mutex mu;
  static std::map<std::string, void*> open GUARDED_BY(mu);  // never closed: their functions stay in use
  MutexLock lock(mu);
  if (auto it = open.find(soname); it != open.end()) return it->second;
  void* handle = ::dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return UnavailableError("cannot load " + soname + ": " + (why ? why : "unknown error"));
  }
  open.emplace(soname, handle);
  return handle;
}

StatusOr<void*> SharedLibrarySymbol(void* library, const char* name) {
  void* sym = ::dlsym(library, name);
  if (sym == nullptr) return UnavailableError(std::string("shared library lacks ") + name);
  return sym;
}

}  // namespace relay
