#include "state/sqlite_run_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "core/error.h"
#include "core/time.h"
#include "observe/log.h"
#include "sqlite/sqlite.h"

namespace sentiflow {
namespace {

namespace fs = std::filesystem;
using sqlite::Database;
using sqlite::Statement;
using sqlite::WriteTransaction;

// 'SFLS': marks a SQLite file as a sentiflow run state file (the table is 'SFLT', the queue
// 'SFLQ'), so that a state_dir pointing at somebody else's database is refused, not written.
constexpr int64_t kApplicationId = 0x53464C53;
// 2 added the producer lease (runs.lease_owner, runs.lease_until), 3 the table a checkpoint's
// token belongs to (checkpoints.table_uri); older files are upgraded on open (upgrade_schema).
constexpr int64_t kSchemaVersion = 5;
// As the table and the queue: a scheduler and consumer processes share the file, and every
// transaction is short, so a long wait means something is stuck.
constexpr std::chrono::milliseconds kBusyTimeout{10'000};

// Schemas 4 and 5 added the runs' unchanged count and BilledWork's columns (no comments on those
// lines: SQLite's DROP COLUMN, which the upgrade test uses to make an old file, trips on them)
// and the fingerprints. Kind and phase are stored as their names, so that the file reads well in the sqlite3 shell.
// Labels have a table of their own: add_counts merges them with exact integer arithmetic in
// SQL, without reading and rewriting a JSON object. Times are ms since the Unix epoch, except
// timeline.at_second and meta 'last_tick' (whole seconds).
constexpr const char* kSchema = R"sql(
CREATE TABLE runs(
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('scheduled', 'manual', 'backfill')),
  phase TEXT NOT NULL CHECK (phase IN ('producing', 'draining', 'finished')),
  attempt INTEGER NOT NULL,
  started_at INTEGER NOT NULL,            -- of this attempt
  produced_at INTEGER,
  finished_at INTEGER,
  scanned INTEGER NOT NULL DEFAULT 0,
  sent INTEGER NOT NULL DEFAULT 0,
  producer_errors INTEGER NOT NULL DEFAULT 0,
  processed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  dead_letters INTEGER NOT NULL DEFAULT 0,
  unchanged INTEGER NOT NULL DEFAULT 0,
  comprehend_units INTEGER NOT NULL DEFAULT 0,
  scan_read_units INTEGER NOT NULL DEFAULT 0,
  pages INTEGER NOT NULL DEFAULT 0,
  sqs_requests INTEGER NOT NULL DEFAULT 0,
  batches INTEGER NOT NULL DEFAULT 0,
  batch_ms INTEGER NOT NULL DEFAULT 0,
  objects INTEGER NOT NULL DEFAULT 0,
  unchanged_comprehend_units INTEGER NOT NULL DEFAULT 0,
  producer_ms INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,                       -- the producer lease: who holds it, until when (ms)
  lease_until INTEGER
);
-- newest_unfinished and recent_runs walk this backwards.
CREATE INDEX runs_by_start ON runs(started_at, id);
CREATE TABLE run_labels(
  run TEXT NOT NULL,
  label TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (run, label)
) WITHOUT ROWID;
CREATE TABLE checkpoints(
  run TEXT NOT NULL,
  segment INTEGER NOT NULL,
  total_segments INTEGER NOT NULL,
  token TEXT NOT NULL,
  done INTEGER NOT NULL,
  scanned INTEGER NOT NULL,
  sent INTEGER NOT NULL,
  table_uri TEXT NOT NULL DEFAULT '',     -- the source table of the token; '' before schema 3
  PRIMARY KEY (run, segment)
) WITHOUT ROWID;
CREATE TABLE timeline(
  run TEXT NOT NULL,
  at_second INTEGER NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (run, at_second)
) WITHOUT ROWID;
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE fingerprints(key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL) WITHOUT ROWID;  -- schema 4
)sql";

constexpr const char* kCountColumns =
    "id, kind, phase, attempt, started_at, produced_at, finished_at, scanned, sent, producer_errors, processed, "
    "failed, dead_letters, unchanged";
constexpr int kFirstWorkColumn = 14;

// The columns read_run reads: the counts', then BilledWork's in kFields' order.
std::string run_columns() {
  std::string columns = kCountColumns;
  for (const auto& [name, field] : BilledWork::kFields) columns += fmt::format(", {}", name);
  return columns;
}

// "name = 0, ..." or "name = name + ?N, ..." over BilledWork's columns, parameters from `first`.
std::string work_assignments(std::optional<int> first) {
  std::string out;
  int n = first.value_or(0);
  for (const auto& [name, field] : BilledWork::kFields)
    out += first ? fmt::format(", {0} = {0} + ?{1}", name, n++) : fmt::format(", {} = 0", name);
  return out;
}

constexpr const char* kLastTick = "last_tick";
constexpr const char* kSkippedTicks = "skipped_ticks";

int64_t to_ms(Millis t) { return t.time_since_epoch().count(); }
Millis from_ms(int64_t ms) { return Millis(std::chrono::milliseconds(ms)); }

RunKind parse_kind(std::string_view text) {
  if (const auto kind = parse_run_kind(text)) return *kind;
  throw Error(ErrorCode::internal, fmt::format("the state file holds an unknown run kind '{}'", text));
}

RunPhase parse_phase(std::string_view text) {
  if (const auto phase = parse_run_phase(text)) return *phase;
  throw Error(ErrorCode::internal, fmt::format("the state file holds an unknown run phase '{}'", text));
}

void check_id(const std::string& id) {
  if (id.empty()) throw invalid_input("a run id must not be empty");
}

// The file's schema version (PRAGMA user_version; 0 when unset).
int64_t schema_version(Database& db) {
  auto statement = db.prepare("PRAGMA user_version");
  auto u = statement.use();
  return u.step() ? u.int64(0) : 0;
}

// Brings a file of schema 1 to 4 to the current one (the lease columns of 2, the checkpoints'
// table_uri of 3, the unchanged count, BilledWork's columns and the fingerprints of 4, the
// unchanged texts' units and the producer's time of 5). A file that is current (every open but the first after an upgrade of
// sentiflow) is only read, so that opens do not queue for the write lock; an old one is
// upgraded in a write transaction that reads the version again, so that of several processes
// opening it at once one upgrades it.
void upgrade_schema(Database& db) {
  if (schema_version(db) >= kSchemaVersion) return;
  WriteTransaction tx(db);
  const int64_t version = schema_version(db);
  if (version < 2) {
    db.exec("ALTER TABLE runs ADD COLUMN lease_owner TEXT");
    db.exec("ALTER TABLE runs ADD COLUMN lease_until INTEGER");
  }
  if (version < 3) db.exec("ALTER TABLE checkpoints ADD COLUMN table_uri TEXT NOT NULL DEFAULT ''");
  // Each version's columns by name, as that version had them: a migration does not follow
  // BilledWork as it grows.
  const auto add_columns = [&](std::initializer_list<const char*> names) {
    for (const char* name : names)
      db.exec(fmt::format("ALTER TABLE runs ADD COLUMN {} INTEGER NOT NULL DEFAULT 0", name).c_str());
  };
  if (version < 4) {
    add_columns({"unchanged", "comprehend_units", "scan_read_units", "pages", "sqs_requests", "batches", "batch_ms",
                 "objects"});
    db.exec("CREATE TABLE fingerprints(key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL) WITHOUT ROWID");
  }
  if (version < 5) add_columns({"unchanged_comprehend_units", "producer_ms"});
  db.exec(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str());
  tx.commit();
}

// A deferred transaction for reads of several statements, so that they see one snapshot (a
// run's counts and its labels from the same moment). WAL readers never wait for writers.
class ReadTransaction {
 public:
  explicit ReadTransaction(Database& db) : db_(db) { db_.run_cached("BEGIN"); }
  ~ReadTransaction() {
    if (open_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

  void commit() {
    db_.run_cached("COMMIT");
    open_ = false;
  }

 private:
  Database& db_;
  bool open_ = true;
};

}  // namespace

// The connection and one prepared statement per query of the run state (26 of them, made once
// by prepare()): more than a dozen members, but each is only a query's handle.
struct SqliteRunState::State {
  explicit State(const fs::path& file) : db(file, kBusyTimeout) {}

  Database db;
  Statement select_run;
  Statement select_labels;
  Statement newest_unfinished;
  Statement recent_runs;
  Statement insert_run;
  Statement restart_run;
  Statement clear_labels;
  Statement clear_checkpoints;
  Statement clear_timeline;
  Statement add_counts;
  Statement add_label;
  Statement mark_produced;
  Statement mark_finished;
  Statement select_checkpoints;
  Statement save_checkpoint;
  Statement select_meta;
  Statement set_meta;
  Statement add_to_meta;
  Statement claim_meta;
  Statement save_point;
  Statement select_timeline;
  Statement acquire_lease;
  Statement release_lease;
  Statement select_lease_owner;
  Statement select_fingerprint;
  Statement save_fingerprint;

  void prepare() {
    select_run = db.prepare(fmt::format("SELECT {} FROM runs WHERE id = ?1", run_columns()));
    select_labels = db.prepare("SELECT label, count FROM run_labels WHERE run = ?1");
    newest_unfinished = db.prepare(fmt::format(
        "SELECT {} FROM runs WHERE phase != 'finished' ORDER BY started_at DESC, id DESC LIMIT 1", run_columns()));
    recent_runs =
        db.prepare(fmt::format("SELECT {} FROM runs ORDER BY started_at DESC, id DESC LIMIT ?1", run_columns()));
    insert_run =
        db.prepare("INSERT INTO runs(id, kind, phase, attempt, started_at) VALUES(?1, ?2, 'producing', 1, ?3)");
    restart_run = db.prepare(
        "UPDATE runs SET kind = ?2, phase = 'producing', attempt = attempt + 1, started_at = ?3, produced_at = NULL, "
        "finished_at = NULL, lease_owner = NULL, lease_until = NULL, scanned = 0, sent = 0, producer_errors = 0, "
        "processed = 0, failed = 0, dead_letters = 0, unchanged = 0" +
        work_assignments(std::nullopt) + " WHERE id = ?1");
    clear_labels = db.prepare("DELETE FROM run_labels WHERE run = ?1");
    clear_checkpoints = db.prepare("DELETE FROM checkpoints WHERE run = ?1");
    clear_timeline = db.prepare("DELETE FROM timeline WHERE run = ?1");
    add_counts = db.prepare(
        "UPDATE runs SET scanned = scanned + ?2, sent = sent + ?3, producer_errors = producer_errors + ?4, "
        "processed = processed + ?5, failed = failed + ?6, dead_letters = dead_letters + ?7, "
        "unchanged = unchanged + ?8" +
        work_assignments(9) + " WHERE id = ?1");
    add_label = db.prepare(
        "INSERT INTO run_labels(run, label, count) VALUES(?1, ?2, ?3) "
        "ON CONFLICT(run, label) DO UPDATE SET count = count + excluded.count");
    // The WHERE is on the id alone, so that changes() tells an unknown run from a finished one.
    mark_produced = db.prepare(
        "UPDATE runs SET phase = CASE phase WHEN 'finished' THEN phase ELSE 'draining' END, "
        "produced_at = CASE phase WHEN 'finished' THEN produced_at ELSE ?2 END WHERE id = ?1");
    mark_finished =
        db.prepare("UPDATE runs SET phase = 'finished', finished_at = coalesce(finished_at, ?2) WHERE id = ?1");
    select_checkpoints = db.prepare(
        "SELECT segment, total_segments, token, done, scanned, sent, table_uri FROM checkpoints WHERE run = ?1 "
        "ORDER BY segment");
    save_checkpoint = db.prepare(
        "INSERT INTO checkpoints(run, segment, total_segments, token, done, scanned, sent, table_uri) "
        "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?1) "
        "ON CONFLICT(run, segment) DO UPDATE SET total_segments = excluded.total_segments, token = excluded.token, "
        "done = excluded.done, scanned = excluded.scanned, sent = excluded.sent, table_uri = excluded.table_uri");
    select_meta = db.prepare("SELECT value FROM meta WHERE key = ?1");
    set_meta =
        db.prepare("INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    // The upsert's WHERE makes it a compare-and-set: an older or equal value updates nothing
    // (changes() is 0).
    claim_meta = db.prepare(
        "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value "
        "WHERE meta.value < excluded.value");
    add_to_meta = db.prepare(
        "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = value + excluded.value");
    save_point = db.prepare(
        "INSERT INTO timeline(run, at_second, json) SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?1) "
        "ON CONFLICT(run, at_second) DO UPDATE SET json = excluded.json");
    select_timeline = db.prepare("SELECT at_second, json FROM timeline WHERE run = ?1 ORDER BY at_second");
    acquire_lease = db.prepare(
        "UPDATE runs SET lease_owner = ?2, lease_until = ?4 WHERE id = ?1 AND "
        "(lease_owner IS NULL OR lease_owner = ?2 OR lease_until <= ?3)");
    release_lease =
        db.prepare("UPDATE runs SET lease_owner = NULL, lease_until = NULL WHERE id = ?1 AND lease_owner = ?2");
    select_lease_owner = db.prepare("SELECT lease_owner FROM runs WHERE id = ?1");
    select_fingerprint = db.prepare("SELECT fingerprint FROM fingerprints WHERE key = ?1");
    save_fingerprint = db.prepare(
        "INSERT INTO fingerprints(key, fingerprint) VALUES(?1, ?2) "
        "ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint");
  }

  [[noreturn]] void throw_not_found(const std::string& id) {
    throw Error(ErrorCode::not_found, fmt::format("run '{}' does not exist in {}", id, db.file().string()));
  }

  // The run of the current row of `u` (kRunColumns), with its labels.
  RunRecord read_run(const Statement::Use& u) {
    RunRecord r;
    r.id = std::string(u.text(0));
    r.kind = parse_kind(u.text(1));
    r.phase = parse_phase(u.text(2));
    r.attempt = static_cast<int>(u.int64(3));
    r.started_at = from_ms(u.int64(4));
    if (!u.is_null(5)) r.produced_at = from_ms(u.int64(5));
    if (!u.is_null(6)) r.finished_at = from_ms(u.int64(6));
    r.counts.scanned = u.int64(7);
    r.counts.sent = u.int64(8);
    r.counts.producer_errors = u.int64(9);
    r.counts.processed = u.int64(10);
    r.counts.failed = u.int64(11);
    r.counts.dead_letters = u.int64(12);
    r.counts.unchanged = u.int64(13);
    int column = kFirstWorkColumn;
    for (const auto& [name, field] : BilledWork::kFields) r.counts.work.*field = u.int64(column++);
    auto labels = select_labels.use();
    labels.bind_text(1, r.id);
    while (labels.step()) r.counts.labels[std::string(labels.text(0))] = labels.int64(1);
    return r;
  }

  std::optional<RunRecord> find(const std::string& id) {
    auto u = select_run.use();
    u.bind_text(1, id);
    if (!u.step()) return std::nullopt;
    return read_run(u);
  }

  std::optional<int64_t> meta(const char* key) {
    auto u = select_meta.use();
    u.bind_text(1, key);
    if (!u.step()) return std::nullopt;
    return u.int64(0);
  }
};

SqliteRunState::SqliteRunState(const fs::path& state_dir) {
  const fs::path file = file_in(state_dir);
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec)
    throw invalid_input(fmt::format("cannot create the state directory {}: {}", state_dir.string(), ec.message()));
  state_ = std::make_unique<State>(file);
  auto& db = state_->db;
  // NORMAL in WAL mode: a commit survives a crash of the process (not of the machine), and
  // costs no fsync.
  db.exec("PRAGMA synchronous=NORMAL");
  sqlite::stamp_or_check(db, kApplicationId, kSchemaVersion, kSchema, "run state");
  upgrade_schema(db);
  state_->prepare();
}

SqliteRunState::~SqliteRunState() {
  try {
    std::lock_guard lock(mutex_);
    write_fingerprints();
  } catch (const std::exception& e) {  // a destructor does not throw: the next scan sends them again
    log::warn("could not write the held fingerprints",
              {{"fingerprints", held_fingerprints_.size()}, {"error", e.what()}});
  }
}

fs::path SqliteRunState::file_in(const fs::path& state_dir) { return state_dir / "state.sqlite"; }

RunRecord SqliteRunState::start_run(const std::string& id, RunKind kind, Millis now, IfFinished if_finished) {
  check_id(id);
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  const auto existing = s.find(id);
  if (existing && (existing->phase != RunPhase::finished || if_finished == IfFinished::keep)) {
    tx.commit();
    return *existing;
  }
  if (!existing) {
    s.insert_run.use().bind_text(1, id).bind_text(2, to_string(kind)).bind(3, to_ms(now)).run();
  } else {
    s.restart_run.use().bind_text(1, id).bind_text(2, to_string(kind)).bind(3, to_ms(now)).run();
    s.clear_labels.use().bind_text(1, id).run();
    s.clear_checkpoints.use().bind_text(1, id).run();
    s.clear_timeline.use().bind_text(1, id).run();
  }
  auto record = s.find(id);
  if (!record) throw Error(ErrorCode::internal, fmt::format("run '{}' vanished while it was started", id));
  tx.commit();
  return std::move(*record);
}

std::optional<RunRecord> SqliteRunState::run(const std::string& id) {
  std::lock_guard lock(mutex_);
  ReadTransaction tx(state_->db);
  auto record = state_->find(id);
  tx.commit();
  return record;
}

std::optional<RunRecord> SqliteRunState::newest_unfinished() {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  ReadTransaction tx(s.db);
  std::optional<RunRecord> record;
  {
    auto u = s.newest_unfinished.use();
    if (u.step()) record = s.read_run(u);
  }
  tx.commit();
  return record;
}

std::vector<RunRecord> SqliteRunState::recent_runs(size_t limit) {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  std::vector<RunRecord> runs;
  ReadTransaction tx(s.db);
  {
    auto u = s.recent_runs.use();
    u.bind(1, static_cast<int64_t>(std::min<size_t>(limit, std::numeric_limits<int64_t>::max())));
    while (u.step()) runs.push_back(s.read_run(u));
  }
  tx.commit();
  return runs;
}

void SqliteRunState::add_counts(const std::string& id, const RunCounts& delta) {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  auto add = s.add_counts.use();
  add.bind_text(1, id)
      .bind(2, delta.scanned)
      .bind(3, delta.sent)
      .bind(4, delta.producer_errors)
      .bind(5, delta.processed)
      .bind(6, delta.failed)
      .bind(7, delta.dead_letters)
      .bind(8, delta.unchanged);
  int parameter = 9;
  for (const auto& [name, field] : BilledWork::kFields) add.bind(parameter++, delta.work.*field);
  add.run();
  if (s.db.changes() == 0) s.throw_not_found(id);
  for (const auto& [label, count] : delta.labels)
    s.add_label.use().bind_text(1, id).bind_text(2, label).bind(3, count).run();
  tx.commit();
}

void SqliteRunState::mark_produced(const std::string& id, Millis now) {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  s.mark_produced.use().bind_text(1, id).bind(2, to_ms(now)).run();
  if (s.db.changes() == 0) s.throw_not_found(id);
  tx.commit();
}

void SqliteRunState::mark_finished(const std::string& id, Millis now) {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  s.mark_finished.use().bind_text(1, id).bind(2, to_ms(now)).run();
  if (s.db.changes() == 0) s.throw_not_found(id);
  s.clear_checkpoints.use().bind_text(1, id).run();  // the contract: finishing drops them
  tx.commit();
}

std::vector<ScanCheckpoint> SqliteRunState::checkpoints(const std::string& id) {
  std::lock_guard lock(mutex_);
  std::vector<ScanCheckpoint> result;
  auto u = state_->select_checkpoints.use();
  u.bind_text(1, id);
  while (u.step()) {
    ScanCheckpoint c;
    c.segment = static_cast<int>(u.int64(0));
    c.total_segments = static_cast<int>(u.int64(1));
    c.token = std::string(u.text(2));
    c.done = u.int64(3) != 0;
    c.scanned = u.int64(4);
    c.sent = u.int64(5);
    c.table = std::string(u.text(6));
    result.push_back(std::move(c));
  }
  return result;
}

bool SqliteRunState::acquire_producer_lease(const std::string& id, const std::string& owner, Millis now, Millis until) {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  s.acquire_lease.use().bind_text(1, id).bind_text(2, owner).bind(3, to_ms(now)).bind(4, to_ms(until)).run();
  const bool acquired = s.db.changes() != 0;
  if (!acquired) {
    auto u = s.select_lease_owner.use();
    u.bind_text(1, id);
    if (!u.step()) s.throw_not_found(id);
  }
  tx.commit();
  return acquired;
}

void SqliteRunState::release_producer_lease(const std::string& id, const std::string& owner) {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  s.release_lease.use().bind_text(1, id).bind_text(2, owner).run();
  tx.commit();
}

void SqliteRunState::save_checkpoint(const std::string& id, const ScanCheckpoint& checkpoint,
                                     const std::optional<std::string>& lease_owner) {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  if (lease_owner) {
    // Checked in the write transaction, so no other process can take the lease between the
    // check and the write.
    auto u = s.select_lease_owner.use();
    u.bind_text(1, id);
    if (!u.step()) s.throw_not_found(id);
    if (u.is_null(0) || u.text(0) != *lease_owner)
      throw Error(
          ErrorCode::conflict,
          fmt::format("the producer lease of run '{}' is not held by '{}': checkpoint not saved", id, *lease_owner));
  }
  s.save_checkpoint.use()
      .bind_text(1, id)
      .bind(2, checkpoint.segment)
      .bind(3, checkpoint.total_segments)
      .bind_text(4, checkpoint.token)
      .bind(5, checkpoint.done ? 1 : 0)
      .bind(6, checkpoint.scanned)
      .bind(7, checkpoint.sent)
      .bind_text(8, checkpoint.table)
      .run();
  if (s.db.changes() == 0) s.throw_not_found(id);
  tx.commit();
}

std::optional<Seconds> SqliteRunState::last_tick() {
  std::lock_guard lock(mutex_);
  const auto value = state_->meta(kLastTick);
  if (!value) return std::nullopt;
  return Seconds(std::chrono::seconds(*value));
}

void SqliteRunState::set_last_tick(Seconds tick) {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  s.set_meta.use().bind_text(1, kLastTick).bind(2, tick.time_since_epoch().count()).run();
  tx.commit();
}

bool SqliteRunState::claim_tick(Seconds tick) {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  s.claim_meta.use().bind_text(1, kLastTick).bind(2, tick.time_since_epoch().count()).run();
  const bool claimed = s.db.changes() != 0;
  tx.commit();
  return claimed;
}

int64_t SqliteRunState::skipped_ticks() {
  std::lock_guard lock(mutex_);
  return state_->meta(kSkippedTicks).value_or(0);
}

void SqliteRunState::add_skipped_tick() {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  s.add_to_meta.use().bind_text(1, kSkippedTicks).bind(2, 1).run();
  tx.commit();
}

void SqliteRunState::record_timeline(const std::string& id, const TimelinePoint& point) {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  s.save_point.use().bind_text(1, id).bind(2, point.at.time_since_epoch().count()).bind_text(3, point.json).run();
  if (s.db.changes() == 0) s.throw_not_found(id);
  tx.commit();
}

std::vector<TimelinePoint> SqliteRunState::timeline(const std::string& id) {
  std::lock_guard lock(mutex_);
  std::vector<TimelinePoint> points;
  auto u = state_->select_timeline.use();
  u.bind_text(1, id);
  while (u.step()) points.push_back(TimelinePoint{Seconds(std::chrono::seconds(u.int64(0))), std::string(u.text(1))});
  return points;
}

std::map<std::string, std::string> SqliteRunState::fingerprints(const std::vector<std::string>& keys) {
  std::lock_guard lock(mutex_);
  auto& s = *state_;
  std::map<std::string, std::string> found;
  ReadTransaction tx(s.db);
  for (const auto& key : keys) {
    if (const auto held = held_fingerprints_.find(key); held != held_fingerprints_.end()) {
      found.emplace(key, held->second);
      continue;
    }
    auto u = s.select_fingerprint.use();
    u.bind_text(1, key);
    if (u.step()) found.emplace(key, std::string(u.text(0)));
  }
  tx.commit();
  return found;
}

void SqliteRunState::record_fingerprints(const std::map<std::string, std::string>& fingerprints) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (held_fingerprints_.empty()) held_since_ = now;
  for (const auto& [key, fingerprint] : fingerprints) held_fingerprints_[key] = fingerprint;
  if (held_fingerprints_.size() >= kFingerprintsHeld || now - held_since_ >= kFingerprintsHeldFor) write_fingerprints();
}

void SqliteRunState::write_fingerprints() {
  if (held_fingerprints_.empty()) return;
  auto& s = *state_;
  WriteTransaction tx(s.db);
  for (const auto& [key, fingerprint] : held_fingerprints_)  // in key order: each page once
    s.save_fingerprint.use().bind_text(1, key).bind_text(2, fingerprint).run();
  tx.commit();
  held_fingerprints_.clear();
}

}  // namespace sentiflow
