#include "store/pq_api.h"

#include <mutex>

#include "common/dynlib.h"

namespace relay::store {

StatusOr<const PqApi*> Pq() {
  static PqApi api;
  static Status loaded;
  static std::once_flag once;
  std::call_once(once, [] {
    StatusOr<void*> lib = OpenSharedLibrary("libpq.so.5");
    if (!lib.ok()) {
      loaded = Status(lib.status().code(), "postgres: " + lib.status().message() + " (install libpq5)");
      return;
    }
    Status s;
    ResolveSymbol(*lib, "PQconnectdbParams", &api.connectdb_params, &s);
    ResolveSymbol(*lib, "PQstatus", &api.status, &s);
    ResolveSymbol(*lib, "PQerrorMessage", &api.error_message, &s);
    ResolveSymbol(*lib, "PQfinish", &api.finish, &s);
    ResolveSymbol(*lib, "PQexec", &api.exec, &s);
    ResolveSymbol(*lib, "PQexecParams", &api.exec_params, &s);
    ResolveSymbol(*lib, "PQresultStatus", &api.result_status, &s);
    ResolveSymbol(*lib, "PQresultErrorMessage", &api.result_error_message, &s);
    ResolveSymbol(*lib, "PQresultErrorField", &api.result_error_field, &s);
    ResolveSymbol(*lib, "PQclear", &api.clear, &s);
    ResolveSymbol(*lib, "PQntuples", &api.ntuples, &s);
    ResolveSymbol(*lib, "PQgetvalue", &api.getvalue, &s);
    ResolveSymbol(*lib, "PQgetisnull", &api.getisnull, &s);
    ResolveSymbol(*lib, "PQcmdTuples", &api.cmd_tuples, &s);
    loaded = s.ok() ? s : Status(s.code(), "postgres: " + s.message());
  });
  if (!loaded.ok()) return loaded;
  return &api;
}

}  // namespace relay::store
