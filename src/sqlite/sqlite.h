// RAII for SQLite: a connection, prepared statements, a write transaction. Shared by the
// local table, the local queue and the local run state (state/sqlite_run_state.h), which are
// siblings and may not include each other.
// Errors become sentiflow::Error: a busy file is transient, a read-only or unopenable one is
// invalid_input (the user fixes the path or permissions), everything else internal.
// Not thread-safe: the owner serialises calls (LocalTable and SqliteRunState hold a mutex;
// LocalQueue lets only the leader of its group commit use the connection).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sentiflow::sqlite {

// Throws the Error for SQLite result `rc`; `what` says what was being done.
[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view what);

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // One execution: bind, step through the rows, read columns. The statement is reset and
  // its bindings cleared when the Use ends, so a cached statement never holds a read
  // transaction open after an exception.
  class Use {
   public:
    explicit Use(Statement& statement) : statement_(&statement) {}
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

    Use& bind(int index, int64_t value);
    Use& bind_text(int index, std::string_view text);
    Use& bind_blob(int index, std::string_view bytes);
    Use& bind_null(int index);
    // True when a row is ready, false when the statement is done; throws on failure.
    bool step();
    // Runs a statement that returns no rows to its end.
    void run() {
      while (step()) {}
    }

    int64_t int64(int column) const;
    bool is_null(int column) const;
    // Views into SQLite's buffer: valid until the next step() or the end of the Use.
    std::string_view text(int column) const;
    std::string_view blob(int column) const;

   private:
    Statement* statement_;
  };

  Use use() { return Use(*this); }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  // Opens (creating when missing) `file` in WAL mode. A busy file is retried with short
  // sleeps for up to `busy_timeout` before an operation fails with Error(transient).
  Database(const std::filesystem::path& file, std::chrono::milliseconds busy_timeout);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(const char* sql);
  Statement prepare(std::string_view sql) { return Statement(db_, sql); }
  // Runs a cached statement of `sql` that returns no rows: for the statements of every
  // transaction (BEGIN, COMMIT, SAVEPOINT ...), which sqlite3_exec would compile each time.
  void run_cached(const char* sql);
  int64_t changes() const { return sqlite3_changes64(db_); }
  sqlite3* handle() const { return db_; }
  const std::filesystem::path& file() const { return file_; }

 private:
  static int on_busy(void* self, int attempt);
  void set_wal_mode();

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  std::chrono::milliseconds busy_timeout_;
  std::chrono::steady_clock::time_point busy_since_{};
  std::vector<std::pair<const char*, Statement>> cached_;  // by the address of their text: a few literals
};

// BEGIN IMMEDIATE: takes the write lock at once, so a read-then-write transaction never
// fails half way because another connection wrote in between. Rolls back unless committed.
class WriteTransaction {
 public:
  explicit WriteTransaction(Database& db);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  void commit();

 private:
  Database& db_;
  bool open_ = true;
};

// Makes `db` a file of this kind: in a write transaction, creates `schema` and stamps the file
// with `application_id` and `schema_version` when it is new (no id, no tables), and returns
// true; returns false for an existing file of this kind. Throws Error(invalid_input) for a file
// of another kind (`what` names ours, e.g. "queue") or one with a newer schema version.
// `on_create` runs in the same transaction after the schema, to fill it in.
bool stamp_or_check(Database& db, int64_t application_id, int64_t schema_version, const char* schema,
                    std::string_view what, const std::function<void()>& on_create = {});

}  // namespace sentiflow::sqlite
