// A small RAII layer over the SQLite C API: a connection, prepared statements with bound
// parameters, and IMMEDIATE transactions. Values always travel as bound parameters, never as SQL.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "engine/common/status.h"

namespace tlm::sqlite {

// One prepared statement. Bind* take 1-based parameter indexes and return *this for chaining; a
// bind error is kept and reported by the next Step()/Run().
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;

  Statement& BindText(int index, std::string_view text);
  Statement& BindTextOrNull(int index, std::string_view text);  // "" binds NULL
  Statement& BindInt(int index, int64_t value);
  Statement& BindReal(int index, double value);  // NaN is stored as NULL by SQLite
  Statement& BindNull(int index);

  // true: a row is ready to read; false: the statement is done.
  StatusOr<bool> Step();
  // Steps until done (for statements that return no rows).
  Status Run();
  // Ready to run again with new bindings.
  void Reset();

  int ColumnCount() const { return sqlite3_column_count(stmt_); }
  std::string ColumnName(int col) const;
  int ColumnType(int col) const { return sqlite3_column_type(stmt_, col); }  // SQLITE_INTEGER, ...
  bool IsNull(int col) const { return ColumnType(col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const;  // "" for NULL

  sqlite3_stmt* get() const { return stmt_; }

 private:
  Statement& Check(int rc, int index);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  Status bind_error_;
};

// An open database file. Not thread-safe by itself: callers serialize their use of one
// connection (Dataset holds a mutex); separate connections may be used from separate threads.
class Connection {
 public:
  // Opens (creating when absent) the file read-write.
  static StatusOr<std::unique_ptr<Connection>> Open(const std::string& path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  StatusOr<Statement> Prepare(std::string_view sql);
  // Runs SQL with no parameters (schema, pragmas); may hold several statements.
  Status Exec(std::string_view sql);
  // The error message of the last failed call on this connection.
  std::string LastError() const { return sqlite3_errmsg(db_); }
  int64_t Changes() const { return sqlite3_changes64(db_); }

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// BEGIN IMMEDIATE (takes the write lock at once, waiting up to the busy timeout, so two writers
// never deadlock upgrading a read lock); rolled back on destruction unless committed.
class Transaction {
 public:
  static StatusOr<std::unique_ptr<Transaction>> Begin(Connection& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Status Commit();

 private:
  explicit Transaction(Connection& db) : db_(db) {}
  Connection& db_;
  bool done_ = false;
};

}  // namespace tlm::sqlite
