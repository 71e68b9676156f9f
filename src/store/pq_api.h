#pragma once
// The libpq functions the PostgreSQL store uses, resolved from libpq.so.5 on first use (see
// common/dynlib.h for why it is not linked at start). Only the headers are compiled in.

#include <libpq-fe.h>

#include "common/status.h"

namespace relay::store {

struct PqApi {
  decltype(&::PQconnectdbParams) connectdb_params = nullptr;
  decltype(&::PQstatus) status = nullptr;
  decltype(&::PQerrorMessage) error_message = nullptr;
  decltype(&::PQfinish) finish = nullptr;
  decltype(&::PQexec) exec = nullptr;
  decltype(&::PQexecParams) exec_params = nullptr;
  decltype(&::PQresultStatus) result_status = nullptr;
  decltype(&::PQresultErrorMessage) result_error_message = nullptr;
  decltype(&::PQresultErrorField) result_error_field = nullptr;
  decltype(&::PQclear) clear = nullptr;
  decltype(&::PQntuples) ntuples = nullptr;
  decltype(&::PQgetvalue) getvalue = nullptr;
  decltype(&::PQgetisnull) getisnull = nullptr;
  decltype(&::PQcmdTuples) cmd_tuples = nullptr;
};

// Loads libpq once (thread-safe); Unavailable naming the library when it is missing.
StatusOr<const PqApi*> Pq();

}  // namespace relay::store
