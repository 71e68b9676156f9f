#pragma once
// Loading a shared library when it is first needed rather than at process start. libcurl and
// libpq together pull ~30 libraries (Kerberos, LDAP, GnuTLS, …) into the process; loading them
// at start cost ~11 ms of a ~23 ms launch on the reference machine (bench/README.md), while the
// first webhook needs neither. The store and the RudderStack client resolve the functions they
// use through these helpers, once, and keep them in a table.

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

}  // namespace relay
