// The backend-neutral SQL layer (see sql.h): statements, transactions, parameter spelling, and the
// SQLite backend over the RAII layer of sqlite.h. The PostgreSQL backend is in postgres.cc.
#include "harness/store/sql.h"

#include <cctype>
#include <cmath>
#include <utility>

#include "harness/store/sqlite.h"
#include "harness/store/sqlite_backend.h"

namespace tlm::sql {

std::string_view DialectName(Dialect dialect) { return dialect == Dialect::kPostgres ? "postgresql" : "sqlite"; }

Statement& Statement::BindReal(int index, double value) {
  if (std::isnan(value)) return BindNull(index);
  impl_->BindReal(index, value);
  return *this;
}

Status Statement::Run() {
  while (true) {
    TLM_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

StatusOr<std::unique_ptr<Transaction>> Transaction::Begin(Connection& db) {
  TLM_RETURN_IF_ERROR(db.Begin());
  return std::unique_ptr<Transaction>(new Transaction(db));
}

Transaction::~Transaction() {
  if (!done_) (void)db_.Rollback();
}

Status Transaction::Commit() {
  Status st = db_.Commit();
  done_ = true;  // a failed COMMIT has ended the transaction too (or Rollback() below cleans up)
  if (!st.ok()) (void)db_.Rollback();
  return st;
}

bool IsPostgresUrl(std::string_view location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::string RedactUrl(std::string_view location) {
  if (!IsPostgresUrl(location)) return std::string(location);
  const size_t scheme_end = location.find("://") + 3;
  const size_t authority_end = location.find_first_of("/?", scheme_end);
  const std::string_view authority =
      location.substr(scheme_end, authority_end == std::string_view::npos ? std::string_view::npos
                                                                          : authority_end - scheme_end);
  const size_t at = authority.rfind('@');
  std::string out(location);
  if (at != std::string_view::npos) {
    const size_t colon = authority.find(':');
    if (colon != std::string_view::npos && colon < at) {
      out = std::string(location.substr(0, scheme_end + colon + 1)) + "***" +
            std::string(location.substr(scheme_end + at));
    }
  }
  // A password given as a query parameter.
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    if (p == 0 || (out[p - 1] != '?' && out[p - 1] != '&')) continue;
    const size_t end = out.find('&', p);
    out.replace(p + 9, (end == std::string::npos ? out.size() : end) - (p + 9), "***");
  }
  return out;
}

std::string RewriteParameters(std::string_view sql, bool to_dollar) {
  std::string out(sql);
  const char from = to_dollar ? '?' : '$';
  const char to = to_dollar ? '$' : '?';
  size_t i = 0;
  const size_t n = out.size();
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; };
  while (i < n) {
    const char c = out[i];
    if (c == '\'' || c == '"') {  // a literal or quoted identifier; a doubled quote stays inside
      for (++i; i < n; ++i) {
        if (out[i] == c) {
          if (i + 1 < n && out[i + 1] == c) {
            ++i;
          } else {
            break;
          }
        }
      }
      ++i;
    } else if (c == '-' && i + 1 < n && out[i + 1] == '-') {
      while (i < n && out[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && out[i + 1] == '*') {
      const size_t end = out.find("*/", i + 2);
      i = end == std::string::npos ? n : end + 2;
    } else if (c == from && i + 1 < n && std::isdigit(static_cast<unsigned char>(out[i + 1])) &&
               (i == 0 || !ident(out[i - 1]))) {
      out[i] = to;
      ++i;
    } else {
      ++i;
    }
  }
  return out;
}

// --- SQLite ---------------------------------------------------------------------------------

namespace {

class SqliteStatement final : public Statement::Impl {
 public:
  explicit SqliteStatement(sqlite::Statement stmt) : s_(std::move(stmt)) {}
  void BindText(int index, std::string_view text) override { s_.BindText(index, text); }
  void BindInt(int index, int64_t value) override { s_.BindInt(index, value); }
  void BindReal(int index, double value) override { s_.BindReal(index, value); }
  void BindNull(int index) override { s_.BindNull(index); }
  StatusOr<bool> Step() override { return s_.Step(); }
  void Reset() override { s_.Reset(); }
  int ColumnCount() const override { return s_.ColumnCount(); }
  std::string ColumnName(int col) const override { return s_.ColumnName(col); }
  Type ColumnType(int col) const override {
    switch (s_.ColumnType(col)) {
      case SQLITE_INTEGER:
        return Type::kInt;
      case SQLITE_FLOAT:
        return Type::kReal;
      case SQLITE_NULL:
        return Type::kNull;
      default:
        return Type::kText;
    }
  }
  int64_t Int(int col) const override { return s_.Int(col); }
  double Real(int col) const override { return s_.Real(col); }
  std::string Text(int col) const override { return s_.Text(col); }

 private:
  sqlite::Statement s_;
};

class SqliteConnection final : public SqliteBackend {
 public:
  explicit SqliteConnection(std::unique_ptr<sqlite::Connection> db) : db_(std::move(db)) {}
  Dialect dialect() const override { return Dialect::kSqlite; }
  StatusOr<Statement> Prepare(std::string_view sql) override {
    TLM_ASSIGN_OR_RETURN(sqlite::Statement stmt, db_->Prepare(RewriteParameters(sql, /*to_dollar=*/false)));
    return Statement(std::make_unique<SqliteStatement>(std::move(stmt)));
  }
  Status Exec(std::string_view sql) override { return db_->Exec(sql); }
  Status Begin() override { return db_->Exec("BEGIN IMMEDIATE"); }
  Status Commit() override { return db_->Exec("COMMIT"); }
  Status Rollback() override {
    if (sqlite3_get_autocommit(db_->handle())) return Status::Ok();  // nothing open
    return db_->Exec("ROLLBACK");
  }
  int64_t Changes() const override { return db_->Changes(); }
  const std::string& name() const override { return db_->path(); }
  sqlite::Connection& sqlite() override { return *db_; }

 private:
  std::unique_ptr<sqlite::Connection> db_;
};

}  // namespace

StatusOr<std::unique_ptr<Connection>> OpenSqlite(const std::string& path) {
  TLM_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Connection> db, sqlite::Connection::Open(path));
  return std::unique_ptr<Connection>(new SqliteConnection(std::move(db)));
}

StatusOr<std::unique_ptr<Connection>> Open(const std::string& location) {
  if (IsPostgresUrl(location)) return OpenPostgres(location);
  return OpenSqlite(location);
}

sqlite::Connection* SqliteOf(Connection& db) {
  auto* backend = dynamic_cast<SqliteBackend*>(&db);
  return backend != nullptr ? &backend->sqlite() : nullptr;
}

}  // namespace tlm::sql
