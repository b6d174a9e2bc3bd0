#include "sqlite/sqlite.h"

#include <fmt/format.h>

#include <thread>

#include "core/error.h"

namespace sentiflow::sqlite {

void throw_error(sqlite3* db, int rc, std::string_view what) {
  const std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const std::string file =
      db != nullptr && sqlite3_db_filename(db, "main") != nullptr ? sqlite3_db_filename(db, "main") : "";
  const std::string message = fmt::format("{}{}: {}", what, file.empty() ? "" : fmt::format(" ({})", file), detail);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:  // disk full: may pass when space is freed
      throw Error(ErrorCode::transient, message);
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_NOTADB: throw Error(ErrorCode::invalid_input, message);
    default: throw Error(ErrorCode::internal, message);
  }
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  const int rc =
      sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) throw_error(db, rc, fmt::format("preparing '{}'", sql));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement::Use::~Use() {
  sqlite3_reset(statement_->stmt_);
  sqlite3_clear_bindings(statement_->stmt_);
}

namespace {
void check_bind(sqlite3* db, int rc) {
  if (rc != SQLITE_OK) throw_error(db, rc, "binding a statement parameter");
}
}  // namespace

Statement::Use& Statement::Use::bind(int index, int64_t value) {
  check_bind(statement_->db_, sqlite3_bind_int64(statement_->stmt_, index, value));
  return *this;
}

Statement::Use& Statement::Use::bind_text(int index, std::string_view text) {
  check_bind(statement_->db_,
             sqlite3_bind_text64(statement_->stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
  return *this;
}

Statement::Use& Statement::Use::bind_blob(int index, std::string_view bytes) {
  // A zero-length blob must not be bound as NULL: SQLite takes a null pointer for NULL.
  check_bind(statement_->db_,
             bytes.empty() ? sqlite3_bind_zeroblob(statement_->stmt_, index, 0)
                           : sqlite3_bind_blob64(statement_->stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC));
  return *this;
}

Statement::Use& Statement::Use::bind_null(int index) {
  check_bind(statement_->db_, sqlite3_bind_null(statement_->stmt_, index));
  return *this;
}

bool Statement::Use::step() {
  const int rc = sqlite3_step(statement_->stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_error(statement_->db_, rc, "running a statement");
}

int64_t Statement::Use::int64(int column) const { return sqlite3_column_int64(statement_->stmt_, column); }

bool Statement::Use::is_null(int column) const { return sqlite3_column_type(statement_->stmt_, column) == SQLITE_NULL; }

std::string_view Statement::Use::text(int column) const {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_->stmt_, column));
  return data == nullptr ? std::string_view()
                         : std::string_view(data, static_cast<size_t>(sqlite3_column_bytes(statement_->stmt_, column)));
}

std::string_view Statement::Use::blob(int column) const {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(statement_->stmt_, column));
  return data == nullptr ? std::string_view()
                         : std::string_view(data, static_cast<size_t>(sqlite3_column_bytes(statement_->stmt_, column)));
}

Database::Database(const std::filesystem::path& file, std::chrono::milliseconds busy_timeout)
    : file_(file), busy_timeout_(busy_timeout) {
  // NOMUTEX: the owner serialises access, so SQLite's own per-connection mutex is overhead.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string detail = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw Error(ErrorCode::invalid_input, fmt::format("cannot open {}: {}", file.string(), detail));
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_handler(db_, &Database::on_busy, this);
  try {
    set_wal_mode();
  } catch (...) {
    // A failed constructor runs no destructor: close here, or the connection leaks (a file
    // that is not a database fails right here).
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

// Switching a new file to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY at once,
// without calling the busy handler, when two connections would otherwise deadlock on it (each
// holding a shared lock while it waits for the other's): two processes opening a fresh state
// file at the same moment. So the switch is retried, by calling the busy handler itself (its
// backoff, and its deadline: the busy timeout from the first refusal).
void Database::set_wal_mode() {
  for (int attempt = 0;; ++attempt) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &message);
    sqlite3_free(message);
    if (rc == SQLITE_OK) return;
    const bool busy = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
    if (!busy || !on_busy(this, attempt)) throw_error(db_, rc, "running 'PRAGMA journal_mode=WAL'");
  }
}

Database::~Database() { sqlite3_close_v2(db_); }

void Database::exec(const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    sqlite3_free(message);
    throw_error(db_, rc, fmt::format("running '{}'", sql));
  }
}

void Database::run_cached(const char* sql) {
  for (auto& [text, statement] : cached_)
    if (text == sql) return statement.use().run();
  cached_.emplace_back(sql, prepare(sql));
  cached_.back().second.use().run();
}

// SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries, which caps several
// busy processes at a few hundred transactions per second. Ours starts at 50 µs and doubles
// to 2 ms, so a waiting writer gets the lock soon after it is free.
int Database::on_busy(void* self, int attempt) {
  auto* db = static_cast<Database*>(self);
  const auto now = std::chrono::steady_clock::now();
  if (attempt == 0) db->busy_since_ = now;
  if (now - db->busy_since_ >= db->busy_timeout_) return 0;
  const auto pause = std::chrono::microseconds(50) * (1 << std::min(attempt, 5));
  std::this_thread::sleep_for(pause);
  return 1;
}

WriteTransaction::WriteTransaction(Database& db) : db_(db) { db_.run_cached("BEGIN IMMEDIATE"); }

WriteTransaction::~WriteTransaction() {
  if (open_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void WriteTransaction::commit() {
  db_.run_cached("COMMIT");
  open_ = false;
}

bool stamp_or_check(Database& db, int64_t application_id, int64_t schema_version, const char* schema,
                    std::string_view what, const std::function<void()>& on_create) {
  WriteTransaction tx(db);
  const auto single = [&](const char* sql) {
    auto statement = db.prepare(sql);
    auto u = statement.use();
    return u.step() ? u.int64(0) : 0;
  };
  const int64_t found_id = single("PRAGMA application_id");
  const int64_t found_version = single("PRAGMA user_version");
  const int64_t tables = single("SELECT count(*) FROM sqlite_schema");
  const bool created = found_id == 0 && tables == 0;
  if (created) {
    db.exec(schema);
    db.exec(fmt::format("PRAGMA application_id={}; PRAGMA user_version={}", application_id, schema_version).c_str());
    if (on_create) on_create();
  } else if (found_id != application_id) {
    throw Error(ErrorCode::invalid_input, fmt::format("{} is not a sentiflow {} file", db.file().string(), what));
  } else if (found_version > schema_version) {
    throw Error(ErrorCode::invalid_input,
                fmt::format("{} was written by a newer sentiflow ({} schema {}; this one reads {})", db.file().string(),
                            what, found_version, schema_version));
  }
  tx.commit();
  return created;
}

}  // namespace sentiflow::sqlite
