#include "httpc/curl_api.h"

#include "common/dynlib.h"

namespace relay::httpc {

StatusOr<const CurlApi*> Curl() {
  StatusOr<const CurlApi*> api = LazyLibrary<CurlApi>::Get("libcurl.so.4", [](void* lib, CurlApi* curl) {
    decltype(&::curl_global_init) global_init = nullptr;
    Status s;
    ResolveSymbol(lib, "curl_global_init", &global_init, &s);
    ResolveSymbol(lib, "curl_easy_init", &curl->easy_init, &s);
    ResolveSymbol(lib, "curl_easy_cleanup", &curl->easy_cleanup, &s);
    ResolveSymbol(lib, "curl_easy_reset", &curl->easy_reset, &s);
    ResolveSymbol(lib, "curl_easy_setopt", &curl->easy_setopt, &s);
    ResolveSymbol(lib, "curl_easy_perform", &curl->easy_perform, &s);
    ResolveSymbol(lib, "curl_easy_getinfo", &curl->easy_getinfo, &s);
    ResolveSymbol(lib, "curl_easy_strerror", &curl->easy_strerror, &s);
    ResolveSymbol(lib, "curl_slist_append", &curl->slist_append, &s);
    ResolveSymbol(lib, "curl_slist_free_all", &curl->slist_free_all, &s);
    if (s.ok() && global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) s = UnavailableError("global init failed");
    return s;
  });
  if (!api.ok()) return Status(api.status().code(), "libcurl: " + api.status().message() + " (libcurl4)");
  return api;
}

}  // namespace relay::httpc
