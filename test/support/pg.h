#pragma once
// A fresh PostgreSQL database per test on the server named by RELAY_TEST_PG_URL
// (scripts/with-postgres.sh), dropped at the end. Tests skip when the variable is unset.

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace relay::testing {

class TempPgDatabase {
 public:
  TempPgDatabase() {
    const char* base = std::getenv("RELAY_TEST_PG_URL");
    if (base == nullptr) return;
    base_ = base;
    static int counter = 0;
    name_ = "relay_test_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
    error_ = Admin("CREATE DATABASE " + name_);
  }
  ~TempPgDatabase() {
    if (!name_.empty()) Admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
  bool available() const { return !base_.empty() && error_.empty(); }
  const std::string& error() const { return error_; }
  std::string url() const { return base_.substr(0, base_.rfind('/') + 1) + name_; }

  // Runs `sql` on this test's database; returns the first cell of the first row ("" if none),
  // or "error: …".
  std::string Query(const std::string& sql) const {
    PGconn* c = PQconnectdb(url().c_str());
    PGresult* r = PQexec(c, sql.c_str());
    std::string out;
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK) out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    else if (st != PGRES_COMMAND_OK) out = std::string("error: ") + PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    return out;
  }

  // Runs one statement on the server's default database; returns the error text, "" on success.
  std::string Admin(const std::string& sql) const {
    PGconn* c = PQconnectdb(base_.c_str());
    PGresult* r = PQexec(c, sql.c_str());
    std::string err = PQresultStatus(r) == PGRES_COMMAND_OK ? "" : PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    return err;
  }

 private:
  std::string base_, name_, error_;
};

}  // namespace relay::testing
