#pragma once
// The libcurl functions the relay uses, resolved from libcurl.so.4 on first use (see
// common/dynlib.h for why it is not linked at start), with curl_global_init done once. Only
// the headers are compiled in. setopt/getinfo are libcurl's variadic functions: pass each
// option the exact type libcurl documents (long, pointer, function pointer, curl_off_t).

#include <curl/curl.h>

#include "common/status.h"

namespace relay::httpc {

struct CurlApi {
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_reset) easy_reset = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
};

// Loads libcurl once (thread-safe) and initialises it; Unavailable when it cannot.
StatusOr<const CurlApi*> Curl();

}  // namespace relay::httpc
