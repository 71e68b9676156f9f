#include "store/pq_api.h"

#include "common/dynlib.h"

namespace relay::store {

StatusOr<const PqApi*> Pq() {
  StatusOr<const PqApi*> api = LazyLibrary<PqApi>::Get("libpq.so.5", [](void* lib, PqApi* pq) {
    Status s;
    ResolveSymbol(lib, "PQconnectdbParams", &pq->connectdb_params, &s);
    ResolveSymbol(lib, "PQstatus", &pq->status, &s);
    ResolveSymbol(lib, "PQerrorMessage", &pq->error_message, &s);
    ResolveSymbol(lib, "PQfinish", &pq->finish, &s);
    ResolveSymbol(lib, "PQexec", &pq->exec, &s);
    ResolveSymbol(lib, "PQexecParams", &pq->exec_params, &s);
    ResolveSymbol(lib, "PQresultStatus", &pq->result_status, &s);
    ResolveSymbol(lib, "PQresultErrorMessage", &pq->result_error_message, &s);
    ResolveSymbol(lib, "PQresultErrorField", &pq->result_error_field, &s);
    ResolveSymbol(lib, "PQclear", &pq->clear, &s);
    ResolveSymbol(lib, "PQntuples", &pq->ntuples, &s);
    ResolveSymbol(lib, "PQgetvalue", &pq->getvalue, &s);
    ResolveSymbol(lib, "PQgetisnull", &pq->getisnull, &s);
    ResolveSymbol(lib, "PQcmdTuples", &pq->cmd_tuples, &s);
    return s;
  });
  if (!api.ok()) return Status(api.status().code(), "postgres: " + api.status().message() + " (libpq5)");
  return api;
}

}  // namespace relay::store
