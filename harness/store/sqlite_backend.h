// The SQLite side of sql::Connection, for code that needs SQLite itself (pragmas, the busy
// timeout): SqliteOf(connection) is its sqlite::Connection, or nullptr on another backend.
#pragma once

#include "harness/store/sql.h"
#include "harness/store/sqlite.h"

namespace tlm::sql {

class SqliteBackend : public Connection {
 public:
  virtual sqlite::Connection& sqlite() = 0;
};

sqlite::Connection* SqliteOf(Connection& db);

}  // namespace tlm::sql
