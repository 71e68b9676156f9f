#pragma once
// Loading a shared library when it is first needed rather than at process start. libcurl and
// libpq together pull ~30 libraries (Kerberos, LDAP, GnuTLS, …) into the process; loading them
// at start cost ~11 ms of a ~23 ms launch on the reference machine (bench/README.md), while the
// first webhook needs neither. The store and the RudderStack client resolve the functions they
// use through these helpers, once, and keep them in a table.

#include <mutex>
#include <string>

#include "common/status.h"

namespace relay {

// dlopen(soname, RTLD_NOW | RTLD_LOCAL), once per soname for the life of the process.
// Unavailable, naming the library and the loader's reason, when it cannot be loaded.
StatusOr<void*> OpenSharedLibrary(const std::string& soname);

// The address of `name` in a library OpenSharedLibrary returned; Unavailable when absent.
StatusOr<void*> SharedLibrarySymbol(void* library, const char* name);

// Fills `*fn` with `name` from `library`, keeping the first error in `*status`.
template <typename Fn>
void ResolveSymbol(void* library, const char* name, Fn* fn, Status* status) {
  if (!status->ok()) return;
  StatusOr<void*> sym = SharedLibrarySymbol(library, name);
  if (!sym.ok()) {
    *status = sym.status();
    return;
  }
  *fn = reinterpret_cast<Fn>(*sym);
}

// A table of functions (`Api`) from one library, loaded on the first Get and kept for the life
// of the process. `fill(library, &api)` resolves the functions with ResolveSymbol (and may set
// the library up); its Status, or the load error, is what every Get returns on failure.
template <typename Api>
class LazyLibrary {
 public:
  template <typename Fill>
  static StatusOr<const Api*> Get(const char* soname, Fill fill) {
    static Api api;
    static Status loaded;
    static std::once_flag once;
    std::call_once(once, [&] {
      StatusOr<void*> library = OpenSharedLibrary(soname);
      loaded = library.ok() ? fill(*library, &api) : library.status();
    });
    if (!loaded.ok()) return loaded;
    return &api;
  }
};

}  // namespace relay
