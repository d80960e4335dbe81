// A backend-neutral SQL layer for the dataset: one connection API over SQLite (the embedded
// default, harness/store/sqlite.h) and PostgreSQL (libpq, for a dataset shared by a farm).
//
// Portable SQL for both backends:
//  - parameters are written $1, $2, ... (or ?1, ?2, ...) and bound by that number, in any order and
//    repeated as often as needed; each backend gets its own spelling;
//  - text, integers and reals bind with their types; "" through BindTextOrNull and NaN reals bind
//    NULL (as SQLite stores NaN), -0.0 binds 0; a NULL has no type on PostgreSQL, so it must get one
//    from where it stands (a column it is inserted into or compared with), else CAST($N AS TEXT);
//  - the common subset: INSERT ... ON CONFLICT (...) DO NOTHING / DO UPDATE SET x = excluded.x,
//    window functions, CTEs, count/avg/min/max, CASE, COALESCE, ORDER BY ... NULLS FIRST/LAST (the
//    default differs: SQLite sorts NULL first, PostgreSQL last), `runs.rowid` (write order; a real
//    column on PostgreSQL). Text compares bytewise in both (PostgreSQL columns are COLLATE "C").
//    Not portable: json_extract (PostgreSQL: (facts_json::jsonb)->'cpu'->>'model'), typeof, PRAGMA,
//    sqlite_master, `||` on NULL-able numbers; branch on Connection::dialect() where needed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace tlm::sql {

enum class Dialect { kSqlite, kPostgres };
std::string_view DialectName(Dialect dialect);  // "sqlite", "postgresql"

// The type of a value in the current row (per value, as SQLite reports it; PostgreSQL's column
// types map onto these: integer types and boolean to kInt, float and numeric to kReal (numeric
// without a fraction to kInt), anything else to kText).
enum class Type { kNull, kInt, kReal, kText };

// One prepared statement. Bind* take 1-based parameter numbers ($1 is 1) and return *this for
// chaining; a bind error is kept and reported by the next Step()/Run().
class Statement {
 public:
  // What a backend implements.
  class Impl {
   public:
    virtual ~Impl() = default;
    virtual void BindText(int index, std::string_view text) = 0;
    virtual void BindInt(int index, int64_t value) = 0;
    virtual void BindReal(int index, double value) = 0;  // never NaN (bound as NULL instead)
    virtual void BindNull(int index) = 0;
    virtual StatusOr<bool> Step() = 0;
    virtual void Reset() = 0;  // clears the bindings too
    virtual int ColumnCount() const = 0;
    virtual std::string ColumnName(int col) const = 0;
    virtual Type ColumnType(int col) const = 0;
    virtual int64_t Int(int col) const = 0;
    virtual double Real(int col) const = 0;
    virtual std::string Text(int col) const = 0;
  };

  explicit Statement(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;

  Statement& BindText(int index, std::string_view text) { return impl_->BindText(index, text), *this; }
  Statement& BindTextOrNull(int index, std::string_view text) {
    return text.empty() ? BindNull(index) : BindText(index, text);
  }
  Statement& BindInt(int index, int64_t value) { return impl_->BindInt(index, value), *this; }
  Statement& BindReal(int index, double value);  // NaN binds NULL
  Statement& BindNull(int index) { return impl_->BindNull(index), *this; }

  // true: a row is ready to read; false: the statement is done.
  StatusOr<bool> Step() { return impl_->Step(); }
  // Steps until done (for statements that return no rows).
  Status Run();
  // Ready to run again with new bindings.
  void Reset() { impl_->Reset(); }

  int ColumnCount() const { return impl_->ColumnCount(); }
  std::string ColumnName(int col) const { return impl_->ColumnName(col); }
  Type ColumnType(int col) const { return impl_->ColumnType(col); }
  bool IsNull(int col) const { return ColumnType(col) == Type::kNull; }
  int64_t Int(int col) const { return impl_->Int(col); }   // 0 for NULL
  double Real(int col) const { return impl_->Real(col); }  // 0 for NULL
  // "" for NULL. A number's text is the backend's own (SQLite writes a real 2400 as "2400.0",
  // PostgreSQL as "2400"): read numbers with Int()/Real().
  std::string Text(int col) const { return impl_->Text(col); }

 private:
  std::unique_ptr<Impl> impl_;
};

// An open dataset database. Not thread-safe by itself: callers serialize their use of one
// connection (Dataset holds a mutex); separate connections may be used from separate threads.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  virtual StatusOr<Statement> Prepare(std::string_view sql) = 0;
  // Runs SQL with no parameters (schema); may hold several statements separated by ';'.
  virtual Status Exec(std::string_view sql) = 0;
  // A write transaction: SQLite BEGIN IMMEDIATE (the write lock at once, waiting up to the busy
  // timeout), PostgreSQL BEGIN (READ COMMITTED).
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;
  // Rows changed by the last INSERT/UPDATE/DELETE run on this connection.
  virtual int64_t Changes() const = 0;
  // The file path, or the URL without its password.
  virtual const std::string& name() const = 0;
};

// Begin() now; rolled back on destruction unless committed.
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

// Whether a dataset location is a PostgreSQL URL: postgresql://... or postgres://...
bool IsPostgresUrl(std::string_view location);
// The URL with its password replaced by "***" (for messages); anything else as it is.
std::string RedactUrl(std::string_view location);
// Whether this build can open PostgreSQL datasets (linked with libpq).
bool PostgresAvailable();

// Rewrites ?N parameters as $N (to_dollar) or $N as ?N, outside quotes and comments.
std::string RewriteParameters(std::string_view sql, bool to_dollar);

// Opens a PostgreSQL URL with libpq, or else an SQLite file (created when absent).
StatusOr<std::unique_ptr<Connection>> Open(const std::string& location);
StatusOr<std::unique_ptr<Connection>> OpenSqlite(const std::string& path);
StatusOr<std::unique_ptr<Connection>> OpenPostgres(const std::string& url);

}  // namespace tlm::sql
