// The PostgreSQL backend of sql::Connection over libpq: each statement runs with PQexecParams,
// parameters sent as text with their types (text, int8, float8), results read whole.
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "harness/store/sql.h"

#ifdef TLM_HAVE_LIBPQ
#include <libpq-fe.h>
#endif

namespace tlm::sql {

#ifndef TLM_HAVE_LIBPQ

bool PostgresAvailable() { return false; }

StatusOr<std::unique_ptr<Connection>> OpenPostgres(const std::string& url) {
  return Unimplemented("cannot open {}: this tlmbench was built without libpq (install libpq-dev and rebuild)",
                       RedactUrl(url));
}

#else

bool PostgresAvailable() { return true; }

namespace {

// Type OIDs (catalog/pg_type_d.h, a server header: the values are fixed).
constexpr Oid kBoolOid = 16, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kTextOid = 25, kOidOid = 26,
              kFloat4Oid = 700, kFloat8Oid = 701, kNumericOid = 1700;

std::string FirstLine(std::string_view sql) {
  while (!sql.empty() && (sql.front() == '\n' || sql.front() == ' ')) sql.remove_prefix(1);
  std::string s(sql.substr(0, sql.find('\n')));
  return s.size() > 60 ? s.substr(0, 60) + "..." : s;
}

std::string Trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The status for a failed command, from its SQLSTATE.
Status ResultError(const PGresult* res, PGconn* conn, std::string_view what) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string code = state != nullptr ? state : "";
  std::string message = Trimmed(res != nullptr ? PQresultErrorMessage(res) : nullptr);
  if (message.empty()) message = Trimmed(PQerrorMessage(conn));
  StatusCode status = StatusCode::kInternal;
  const std::string cls = code.substr(0, 2);
  if (cls == "23" || cls == "22") {
    status = StatusCode::kInvalidArgument;  // constraint violation, bad data
  } else if (code == "40001" || code == "40P01" || cls == "08" || cls == "57" || code == "55P03" ||
             PQstatus(conn) == CONNECTION_BAD) {
    status = StatusCode::kUnavailable;  // serialization failure, deadlock, connection lost, shutdown: retry
  } else if (cls == "53") {
    status = StatusCode::kResourceExhausted;
  } else if (code == "3D000" || code == "42P01" || cls == "28") {
    status = StatusCode::kNotFound;  // no such database or table, or not allowed in
  }
  return Status(status, fmt::format("{}: {}{}", what, message, code.empty() ? "" : fmt::format(" (SQLSTATE {})", code)));
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

class PgConnection;

class PgStatement final : public Statement::Impl {
 public:
  PgStatement(PgConnection* conn, std::string sql, int n_params) : conn_(conn), sql_(std::move(sql)) {
    values_.resize(n_params);
    types_.assign(n_params, 0);
    null_.assign(n_params, true);
  }
  void BindText(int index, std::string_view text) override { Set(index, std::string(text), kTextOid); }
  void BindInt(int index, int64_t value) override { Set(index, std::to_string(value), kInt8Oid); }
  void BindReal(int index, double value) override {
    if (value == 0) value = 0.0;  // -0 is stored as 0, as SQLite stores it
    std::string text = std::isinf(value) ? (value > 0 ? "Infinity" : "-Infinity") : fmt::format("{}", value);
    Set(index, std::move(text), kFloat8Oid);
  }
  void BindNull(int index) override {
    if (!Check(index)) return;
    null_[index - 1] = true;
    types_[index - 1] = 0;
  }
  StatusOr<bool> Step() override;
  void Reset() override {
    res_.reset();
    row_ = -1;
    bind_error_ = Status::Ok();
    null_.assign(null_.size(), true);
    types_.assign(types_.size(), 0);
  }
  int ColumnCount() const override { return res_ ? PQnfields(res_.get()) : 0; }
  std::string ColumnName(int col) const override {
    const char* name = res_ ? PQfname(res_.get(), col) : nullptr;
    return name != nullptr ? name : "";
  }
  Type ColumnType(int col) const override {
    if (!HasValue(col)) return Type::kNull;
    switch (PQftype(res_.get(), col)) {
      case kBoolOid:
      case kInt2Oid:
      case kInt4Oid:
      case kInt8Oid:
      case kOidOid:
        return Type::kInt;
      case kFloat4Oid:
      case kFloat8Oid:
        return Type::kReal;
      case kNumericOid: {
        const std::string_view v = PQgetvalue(res_.get(), row_, col);
        return v.find_first_of(".eEN") == std::string_view::npos ? Type::kInt : Type::kReal;
      }
      default:
        return Type::kText;
    }
  }
  int64_t Int(int col) const override {
    if (!HasValue(col)) return 0;
    const char* v = PQgetvalue(res_.get(), row_, col);
    if (PQftype(res_.get(), col) == kBoolOid) return v[0] == 't' ? 1 : 0;
    if (ColumnType(col) == Type::kReal) return static_cast<int64_t>(std::strtod(v, nullptr));
    return std::strtoll(v, nullptr, 10);
  }
  double Real(int col) const override {
    if (!HasValue(col)) return 0;
    const char* v = PQgetvalue(res_.get(), row_, col);
    if (PQftype(res_.get(), col) == kBoolOid) return v[0] == 't' ? 1 : 0;
    return std::strtod(v, nullptr);  // also reads NaN, Infinity, -Infinity
  }
  std::string Text(int col) const override {
    if (!HasValue(col)) return "";
    const char* v = PQgetvalue(res_.get(), row_, col);
    if (PQftype(res_.get(), col) == kBoolOid) return v[0] == 't' ? "1" : "0";  // as SQLite has it
    return std::string(v, static_cast<size_t>(PQgetlength(res_.get(), row_, col)));
  }

 private:
  bool Check(int index) {
    if (index >= 1 && index <= static_cast<int>(values_.size())) return true;
    if (bind_error_.ok()) {
      bind_error_ = InvalidArgument("binding parameter {} of '{}': the statement has {} parameters", index,
                                    FirstLine(sql_), values_.size());
    }
    return false;
  }
  void Set(int index, std::string value, Oid type) {
    if (!Check(index)) return;
    values_[index - 1] = std::move(value);
    types_[index - 1] = type;
    null_[index - 1] = false;
  }
  bool HasValue(int col) const {
    return res_ && row_ >= 0 && row_ < PQntuples(res_.get()) && col >= 0 && col < PQnfields(res_.get()) &&
           !PQgetisnull(res_.get(), row_, col);
  }

  PgConnection* conn_;
  std::string sql_;
  std::vector<std::string> values_;
  std::vector<Oid> types_;
  std::vector<bool> null_;
  Status bind_error_;
  Result res_;
  int row_ = -1;
};

class PgConnection final : public Connection {
 public:
  PgConnection(PGconn* conn, std::string name) : conn_(conn), name_(std::move(name)) {}
  ~PgConnection() override { PQfinish(conn_); }
  Dialect dialect() const override { return Dialect::kPostgres; }

  StatusOr<Statement> Prepare(std::string_view sql) override {
    std::string text = RewriteParameters(sql, /*to_dollar=*/true);
    return Statement(std::make_unique<PgStatement>(this, text, MaxParameter(text)));
  }
  Status Exec(std::string_view sql) override {
    auto res = Execute(std::string(sql), 0, nullptr, nullptr);
    return res.ok() ? Status::Ok() : res.status();
  }
  Status Begin() override {
    TLM_RETURN_IF_ERROR(Exec("BEGIN"));
    in_transaction_ = true;
    return Status::Ok();
  }
  Status Commit() override {
    in_transaction_ = false;
    return Exec("COMMIT");
  }
  Status Rollback() override {
    if (!in_transaction_ && PQtransactionStatus(conn_) == PQTRANS_IDLE) return Status::Ok();
    in_transaction_ = false;
    if (PQstatus(conn_) == CONNECTION_BAD) return Status::Ok();  // the server rolled it back
    return Exec("ROLLBACK");
  }
  int64_t Changes() const override { return changes_; }
  const std::string& name() const override { return name_; }

  // Runs one command; outside a transaction, a lost connection is re-established and the command
  // tried once more.
  StatusOr<Result> Execute(const std::string& sql, int n, const Oid* types, const char* const* values) {
    for (int attempt = 0;; ++attempt) {
      if (PQstatus(conn_) == CONNECTION_BAD && !in_transaction_) PQreset(conn_);
      Result res(n == 0 && types == nullptr
                     ? PQexec(conn_, sql.c_str())
                     : PQexecParams(conn_, sql.c_str(), n, types, values, nullptr, nullptr, 0));
      const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
      if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        const char* tuples = PQcmdTuples(res.get());
        changes_ = (tuples != nullptr && *tuples != '\0') ? std::strtoll(tuples, nullptr, 10) : 0;
        return res;
      }
      if (attempt == 0 && PQstatus(conn_) == CONNECTION_BAD && !in_transaction_) continue;
      return ResultError(res.get(), conn_, fmt::format("running '{}' on {}", FirstLine(sql), name_));
    }
  }

 private:
  static int MaxParameter(const std::string& sql) {
    int max = 0;
    // RewriteParameters made every parameter $N; a '$' followed by digits outside quotes is one. Quotes
    // cannot hide one here that matters: an unused slot is sent as NULL of unknown type.
    for (size_t i = 0; i + 1 < sql.size(); ++i) {
      if (sql[i] != '$' || !std::isdigit(static_cast<unsigned char>(sql[i + 1]))) continue;
      if (i > 0 && (std::isalnum(static_cast<unsigned char>(sql[i - 1])) || sql[i - 1] == '_' || sql[i - 1] == '$'))
        continue;
      max = std::max(max, std::atoi(sql.c_str() + i + 1));
    }
    return max;
  }

  PGconn* conn_;
  std::string name_;
  bool in_transaction_ = false;
  int64_t changes_ = 0;
};

StatusOr<bool> PgStatement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  if (!res_) {
    const int n = static_cast<int>(values_.size());
    std::vector<const char*> values(n);
    for (int i = 0; i < n; ++i) values[i] = null_[i] ? nullptr : values_[i].c_str();
    TLM_ASSIGN_OR_RETURN(res_, conn_->Execute(sql_, n, types_.data(), values.data()));
    row_ = -1;
  }
  ++row_;
  return row_ < PQntuples(res_.get());
}

}  // namespace

StatusOr<std::unique_ptr<Connection>> OpenPostgres(const std::string& url) {
  const std::string name = RedactUrl(url);
  // Defaults first: what the URL says wins (expand_dbname puts its settings where dbname stands).
  const char* keywords[] = {"connect_timeout", "fallback_application_name", "client_encoding", "dbname", nullptr};
  const char* values[] = {"10", "tlmbench", "UTF8", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return ResourceExhausted("cannot connect to {}: out of memory", name);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    const bool missing_db = message.find("does not exist") != std::string::npos;
    return Status(missing_db ? StatusCode::kNotFound : StatusCode::kUnavailable,
                  fmt::format("cannot connect to {}: {}", name, message));
  }
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // "already exists, skipping" and the like
  auto db = std::make_unique<PgConnection>(conn, name);
  // Reals as text in the shortest form that reads back exactly (the default from PostgreSQL 12).
  TLM_RETURN_IF_ERROR(db->Exec("SET extra_float_digits = 3"));
  return std::unique_ptr<Connection>(std::move(db));
}

#endif  // TLM_HAVE_LIBPQ

}  // namespace tlm::sql
