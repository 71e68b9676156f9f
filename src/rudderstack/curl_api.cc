#include "rudderstack/curl_api.h"

#include <mutex>

#include "common/dynlib.h"

namespace relay::rudderstack {

StatusOr<const CurlApi*> Curl() {
  static CurlApi api;
  static Status loaded;
  static std::once_flag once;
  std::call_once(once, [] {
    StatusOr<void*> lib = OpenSharedLibrary("libcurl.so.4");
    if (!lib.ok()) {
      loaded = Status(lib.status().code(), lib.status().message() + " (install libcurl4)");
      return;
    }
    decltype(&::curl_global_init) global_init = nullptr;
    Status s;
    ResolveSymbol(*lib, "curl_global_init", &global_init, &s);
    ResolveSymbol(*lib, "curl_easy_init", &api.easy_init, &s);
    ResolveSymbol(*lib, "curl_easy_cleanup", &api.easy_cleanup, &s);
    ResolveSymbol(*lib, "curl_easy_reset", &api.easy_reset, &s);
    ResolveSymbol(*lib, "curl_easy_setopt", &api.easy_setopt, &s);
    ResolveSymbol(*lib, "curl_easy_perform", &api.easy_perform, &s);
    ResolveSymbol(*lib, "curl_easy_getinfo", &api.easy_getinfo, &s);
    ResolveSymbol(*lib, "curl_easy_strerror", &api.easy_strerror, &s);
    ResolveSymbol(*lib, "curl_slist_append", &api.slist_append, &s);
    ResolveSymbol(*lib, "curl_slist_free_all", &api.slist_free_all, &s);
    if (s.ok() && global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) s = UnavailableError("libcurl: global init failed");
    loaded = s;
  });
  if (!loaded.ok()) return loaded;
  return &api;
}

}  // namespace relay::rudderstack
