#include "store/pg_db.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/redact.h"
#include "store/sql_shared.h"

namespace relay::store {

PgConn::~PgConn() {
  if (conn_ != nullptr) pq_->finish(conn_);
}

namespace {

std::string PercentDecoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}


}  // namespace

std::string WithoutPassword(std::string message, std::string_view url) {
  for (const std::string& s : StoreUrlPasswords(url)) {
    message = RedactWhole(std::move(message), s, "***");
    message = RedactWhole(std::move(message), PercentDecoded(s), "***");
  }
  return message;
}

Status PgConn::EnsureConnected() {
  if (pq_ == nullptr) {
    StatusOr<const PqApi*> pq = Pq();
    if (!pq.ok()) return pq.status();
    pq_ = *pq;
  }
  if (conn_ != nullptr && pq_->status(conn_) == CONNECTION_OK) return Status::Ok();
  // Reconnect on demand, whenever work needs the connection: a refused connection fails in
  // microseconds, and webhooks arriving during an outage must get their 503 quickly either way.
  // (A black-holed server costs connect_timeout per batch.)
  if (conn_ != nullptr) pq_->finish(conn_);
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {url_.c_str(), "5", "retl-relay", nullptr};
  conn_ = pq_->connectdb_params(keys, values, /*expand_dbname=*/1);
  if (pq_->status(conn_) != CONNECTION_OK) {
    // The message may echo the host and user, and, for a URL it cannot parse, the password
    // itself ("invalid percent-encoded token: …"): the password is replaced wherever it shows.
    std::string err = WithoutPassword(pq_->error_message(conn_), url_);
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return UnavailableError("postgres: connect: " + err);
  }
  // Every commit is durable before it is acknowledged, whatever the server default.
  return Run("SET synchronous_commit = on; SET client_min_messages = warning");
}

StatusOr<PgResult> PgConn::Exec(const std::string& sql, const std::vector<PgParam>& params) {
  // Never reconnect here: statements after a reconnect would run outside the transaction the
  // caller thinks it is in. Only EnsureConnected (before BEGIN) connects.
  if (conn_ == nullptr || pq_->status(conn_) != CONNECTION_OK) return UnavailableError("postgres: not connected");
  std::vector<const char*> values;
  for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  // Without parameters the simple protocol runs several statements at once (migrations).
  PGresult* raw = values.empty() ? pq_->exec(conn_, sql.c_str())
                                 : pq_->exec_params(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                                values.data(), nullptr, nullptr, 0);
  if (pq_->status(conn_) != CONNECTION_OK) {
    pq_->clear(raw);
    return UnavailableError("postgres: connection lost");
  }
  const ExecStatusType st = pq_->result_status(raw);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string err = pq_->result_error_message(raw);
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    const char* code = pq_->result_error_field(raw, PG_DIAG_SQLSTATE);
    const std::string sqlstate = code ? code : "";
    pq_->clear(raw);
    // Class 40 (serialization, deadlock), 08 (connection), 57 (shutdown), 53 (resources) mean
    // the database could not do it now: Unavailable. Anything else is a bug in our SQL:
    // Internal. Whether either is retried is common/retry.h's decision.
    const std::string cls = sqlstate.substr(0, 2);
    if (cls == "40" || cls == "08" || cls == "57" || cls == "53") {
      return UnavailableError("postgres: " + err + " (" + sqlstate + ")");
    }
    return InternalError("postgres: " + err + " (" + sqlstate + ")");
  }
  return PgResult(*pq_, raw);
}

Status PgConn::Run(const std::string& sql, const std::vector<PgParam>& params) {
  StatusOr<PgResult> r = Exec(sql, params);
  return r.status();
}

PgQuery::PgQuery(PgConn& conn, std::string sql) : conn_(&conn), sql_(sql::PgSql(std::move(sql))) {}

PgQuery& PgQuery::Set(int index, PgParam v) {
  if (index < 1) return *this;
  if (params_.size() < static_cast<size_t>(index)) params_.resize(static_cast<size_t>(index));
  params_[static_cast<size_t>(index) - 1] = std::move(v);
  return *this;
}

bool PgQuery::Step() {
  if (!ran_) {
    ran_ = true;
    StatusOr<PgResult> r = conn_->Exec(sql_, params_);
    if (!r.ok()) {
      status_ = r.status();
      return false;
    }
    result_.emplace(std::move(r).value());
  }
  return result_ && ++row_ < result_->rows();
}

std::string PgIdArray(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "}";
}

std::string PgTextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    out += i ? ",\"" : "\"";
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::optional<std::vector<int64_t>> ParsePgIdArray(const std::string& text) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return std::nullopt;
  std::vector<int64_t> out;
  size_t i = 1;
  while (i < text.size() - 1) {
    size_t end = text.find(',', i);
    if (end == std::string::npos || end > text.size() - 1) end = text.size() - 1;
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + end, v);
    if (ec != std::errc() || ptr != text.data() + end) return std::nullopt;
    out.push_back(v);
    i = end + 1;
  }
  return out;
}

}  // namespace relay::store
