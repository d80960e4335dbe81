// The RAII layer over the SQLite C API (see sqlite.h).
#include "harness/store/sqlite.h"

#include <utility>

namespace tlm::sqlite {
namespace {

// The status for a failed SQLite call, with SQLite's own message and the code's name.
Status Error(int rc, sqlite3* db, std::string_view what) {
  const std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  StatusCode code = StatusCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      code = StatusCode::kDataLoss;
      break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      code = StatusCode::kInvalidArgument;
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      code = StatusCode::kNotFound;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = StatusCode::kUnavailable;
      break;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      code = StatusCode::kResourceExhausted;
      break;
    default:
      break;
  }
  return Status(code, fmt::format("{}: {} ({})", what, message, sqlite3_errstr(rc)));
}

std::string FirstLine(std::string_view sql) {
  std::string s(sql.substr(0, sql.find('\n')));
  return s.size() > 60 ? s.substr(0, 60) + "..." : s;
}

}  // namespace

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bind_error_(std::move(other.bind_error_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_error_ = std::move(other.bind_error_);
  }
  return *this;
}

Statement& Statement::Check(int rc, int index) {
  if (rc != SQLITE_OK && bind_error_.ok()) {
    bind_error_ = Error(rc, db_, fmt::format("binding parameter {} of '{}'", index, FirstLine(sqlite3_sql(stmt_))));
  }
  return *this;
}

Statement& Statement::BindText(int index, std::string_view text) {
  // A default string_view has a null data(), which SQLite would bind as NULL rather than ''.
  const char* data = text.data() != nullptr ? text.data() : "";
  return Check(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8), index);
}

Statement& Statement::BindTextOrNull(int index, std::string_view text) {
  return text.empty() ? BindNull(index) : BindText(index, text);
}

Statement& Statement::BindInt(int index, int64_t value) {
  return Check(sqlite3_bind_int64(stmt_, index, value), index);
}

Statement& Statement::BindReal(int index, double value) {
  return Check(sqlite3_bind_double(stmt_, index, value), index);
}

Statement& Statement::BindNull(int index) { return Check(sqlite3_bind_null(stmt_, index), index); }

StatusOr<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(rc, db_, fmt::format("running '{}'", FirstLine(sqlite3_sql(stmt_))));
}

Status Statement::Run() {
  while (true) {
    TLM_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = Status::Ok();
}

std::string Statement::ColumnName(int col) const {
  const char* name = sqlite3_column_name(stmt_, col);
  return name != nullptr ? name : "";
}

std::string Statement::Text(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_, col);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    Status st = Error(rc, db, fmt::format("cannot open {}", path));
    sqlite3_close_v2(db);
    return st;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Connection>(new Connection(db, path));
}

Connection::~Connection() { sqlite3_close_v2(db_); }

StatusOr<Statement> Connection::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc, db_, fmt::format("preparing '{}'", FirstLine(sql)));
  }
  return Statement(db_, stmt);
}

Status Connection::Exec(std::string_view sql) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, db_, fmt::format("running '{}'", FirstLine(sql)));
  return Status::Ok();
}

StatusOr<std::unique_ptr<Transaction>> Transaction::Begin(Connection& db) {
  TLM_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  return std::unique_ptr<Transaction>(new Transaction(db));
}

Transaction::~Transaction() {
  if (!done_) (void)db_.Exec("ROLLBACK");
}

Status Transaction::Commit() {
  Status st = db_.Exec("COMMIT");
  if (st.ok()) done_ = true;
  return st;
}

}  // namespace tlm::sqlite
