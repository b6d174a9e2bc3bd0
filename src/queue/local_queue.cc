#include "queue/local_queue.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <ctime>
#include <fstream>
#include <condition_variable>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <random>
#include <thread>

#include "core/strings.h"
#include "observe/log.h"
#include "queue/message_rules.h"
#include "sqlite/sqlite.h"

namespace sentiflow {
namespace {

using sqlite::Database;
using sqlite::Statement;
using sqlite::WriteTransaction;
using std::chrono::milliseconds;

// 'SFLQ': marks a SQLite file as a sentiflow queue file, so that we never write our tables
// into somebody else's database.
constexpr int64_t kApplicationId = 0x53464C51;
// 2: queues.retention (schema 1 files get the column, NULL, when first opened); 3:
// queues.expired (0 for files of 1 and 2); 4: the clock table (anchored when first opened).
constexpr int64_t kSchemaVersion = 4;
// The wall clock may differ this much from the queue's before the queue follows it (when empty).
constexpr int64_t kClockTolerance = 2'000;  // ms

constexpr size_t kLocalMaxBatch = 10'000;
constexpr uint64_t kLocalMaxBatchBytes = 64ULL * 1024 * 1024;
constexpr uint64_t kMaxMessageSizeLimit = 1024 * 1024;
constexpr milliseconds kMaxRetention{14LL * 24 * 3600 * 1000};
// The retention of a queue created without one, and of a queue of a schema 1 file (NULL).
constexpr milliseconds kDefaultRetention{4LL * 24 * 3600 * 1000};
// Expired messages are never returned nor counted; removing them is only housekeeping. It
// scans the queue's rows, so it runs every tenth of the retention, within these bounds.
constexpr milliseconds kMinSweepInterval{1'000};
constexpr std::chrono::microseconds kSpin{100};
constexpr milliseconds kMaxSweepInterval{3'600'000};

// The row layout. `visible_at` and `receive_count` come first: SQLite reads a row's columns
// in order, so the hot ones sit before the body. A message is visible when visible_at <= now,
// else in flight when it has been received, else delayed.
constexpr const char* kSchema = R"sql(
CREATE TABLE queues(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  retention INTEGER,                      -- ms; NULL: kDefaultRetention
  expired INTEGER NOT NULL DEFAULT 0      -- messages removed past their retention, ever
);
CREATE TABLE messages(
  seq INTEGER PRIMARY KEY,                -- order of sending
  queue_id INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,            -- ms since the Unix epoch
  receive_count INTEGER NOT NULL DEFAULT 0,
  receipt INTEGER NOT NULL DEFAULT 0,     -- token of the latest receive; 0 before the first
  sent_at INTEGER NOT NULL,
  first_received_at INTEGER,
  message_id TEXT NOT NULL,
  body BLOB NOT NULL,
  attributes BLOB,                        -- CBOR {name: [data_type, bytes]}; NULL when none
  dead_letter_source TEXT,                -- in a dead-letter queue: the source queue's name
  dead_letter_receive_count INTEGER,
  dead_lettered_at INTEGER,
  last_error TEXT
);
-- The queue's clock (docs/EMBEDDED.md, "The queue's clock"): the queue's time was queue_ms when
-- the machine's boot clock (CLOCK_BOOTTIME, which no setting of the wall clock moves) read
-- boot_ms in the boot boot_id. Every time in this file is the queue's time.
CREATE TABLE clock(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  queue_ms INTEGER NOT NULL,
  boot_ms INTEGER NOT NULL,
  boot_id TEXT NOT NULL
);
-- The receive query walks this index in its order: the oldest visible first.
-- receive_count and sent_at make it cover counts() too, so counting never reads the rows.
CREATE INDEX messages_by_visibility ON messages(queue_id, visible_at, receive_count, sent_at);
)sql";

constexpr const char* kColumns =
    "seq, receive_count, sent_at, first_received_at, message_id, body, attributes, dead_letter_source, "
    "dead_letter_receive_count, dead_lettered_at, last_error";

// The machine's boot clock in ms (CLOCK_BOOTTIME: counts suspend, never stepped) and its boot id.
int64_t system_boot_ms() {
  timespec t{};
  ::clock_gettime(CLOCK_BOOTTIME, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1'000'000;
}
const std::string& system_boot_id() {
  static const std::string id = [] {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string line;
    std::getline(in, line);
    return line;  // "" where there is none: a reboot is then seen by the boot clock going back
  }();
  return id;
}
Millis to_millis(int64_t ms) { return Millis(milliseconds(ms)); }

void check_queue_name(const std::string& name, std::string_view what) {
  bool ok = !name.empty() && name.size() <= 80;
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_');
  if (!ok) throw invalid_input(fmt::format("{} '{}' must be 1-80 of A-Z a-z 0-9 - _", what, name));
}

void check_options(const LocalQueueOptions& o) {
  check_queue_name(o.name, "queue name");
  if (!o.dead_letter_queue.empty()) {
    check_queue_name(o.dead_letter_queue, "dead-letter queue name");
    if (o.dead_letter_queue == o.name)
      throw invalid_input(fmt::format("queue '{}' cannot be its own dead-letter queue", o.name));
    if (o.max_receive_count < 1 || o.max_receive_count > 1000)
      throw invalid_input(fmt::format("max_receive_count {} is outside 1-1000", o.max_receive_count));
  }
  if (o.visibility_timeout.count() < 0 || o.visibility_timeout > QueueLimits{}.max_visibility_timeout)
    throw invalid_input(fmt::format("visibility timeout {} ms is outside 0-12 h", o.visibility_timeout.count()));
  if (o.retention && (o.retention->count() <= 0 || *o.retention > kMaxRetention))
    throw invalid_input(fmt::format("retention {} ms is outside 1 ms-14 days", o.retention->count()));
  if (o.message_size_limit < 1 || o.message_size_limit > kMaxMessageSizeLimit)
    throw invalid_input(fmt::format("message size limit {} bytes is outside 1 B-1 MiB", o.message_size_limit));
  if (o.poll_interval.count() <= 0) throw invalid_input("the poll interval must be positive");
}

// Attributes as CBOR (nlohmann): exact bytes for Binary values, and compact.
std::string encode_attributes(const MessageAttributes& attributes) {
  if (attributes.empty()) return {};
  nlohmann::json map = nlohmann::json::object();
  for (const auto& [name, attribute] : attributes)
    map[name] = {attribute.data_type,
                 nlohmann::json::binary(std::vector<uint8_t>(attribute.value.begin(), attribute.value.end()))};
  const auto bytes = nlohmann::json::to_cbor(map);
  return std::string(bytes.begin(), bytes.end());
}

MessageAttributes decode_attributes(std::string_view bytes) {
  MessageAttributes attributes;
  if (bytes.empty()) return attributes;
  const auto map = nlohmann::json::from_cbor(bytes.begin(), bytes.end());
  for (const auto& [name, pair] : map.items()) {
    const auto& value = pair.at(1).get_binary();
    attributes[name] = MessageAttribute{pair.at(0).get<std::string>(), std::string(value.begin(), value.end())};
  }
  return attributes;
}

// A receipt handle: queue id, message seq and the receive's token, in hex. The token is
// random, so a handle from an earlier receive of the same message never matches again.
struct Receipt {
  int64_t queue_id = 0;
  int64_t seq = 0;
  int64_t token = 0;
};

std::string format_receipt(const Receipt& r) {
  return fmt::format("{:x}.{:x}.{:016x}", r.queue_id, r.seq, static_cast<uint64_t>(r.token));
}

std::optional<Receipt> parse_receipt(std::string_view text) {
  const auto parts = split(text, '.');
  if (parts.size() != 3 || parts[2].size() != 16) return std::nullopt;
  uint64_t values[3] = {};
  for (size_t i = 0; i < 3; ++i) {
    const auto p = parts[i];
    if (p.empty() || p.size() > 16) return std::nullopt;
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), values[i], 16);
    if (ec != std::errc() || end != p.data() + p.size()) return std::nullopt;
  }
  if (values[2] == 0) return std::nullopt;  // 0 marks a message never received: no handle has it
  return Receipt{static_cast<int64_t>(values[0]), static_cast<int64_t>(values[1]), static_cast<int64_t>(values[2])};
}

template <typename Result>
Result failure(std::string id, ErrorCode code, std::string service_code, std::string message) {
  Result result;
  result.id = std::move(id);
  result.error = Error(code, std::move(message));
  result.service_code = std::move(service_code);
  return result;
}

// A row as a receive took it (RETURNING: the values after the receive marked it).
struct MessageRow {
  int64_t seq = 0;
  int64_t receive_count = 0;
  int64_t sent_at = 0;
  std::optional<int64_t> first_received_at;
  std::string message_id;
  std::string body;
  std::string attributes;
  std::optional<DeadLetterInfo> dead_letter;
};

// A row that a receive took, with the token of its new receipt handle.
struct Taken {
  MessageRow row;
  int64_t token = 0;
};

// A unit of work on the connection, run by whichever thread leads the group it joins.
struct Operation {
  std::function<void()> work;
  bool write = true;  // false: a read, run outside the group's transaction
  std::exception_ptr error{};
  std::atomic<bool> done{false};
};

}  // namespace

// Its more than thirty members are one connection's: the connection and its ids, the group
// commit's queue, the long polls' wake-ups, the cached retention, and one prepared statement
// per query (fourteen). Every operation runs on the one connection, so they stay together.
struct LocalQueue::State {
  explicit State(const LocalQueueOptions& options)
      : db(options.file, options.busy_timeout),
        random(std::random_device{}()),
        wall_clock(options.wall_clock ? options.wall_clock : now_millis),
        boot_clock(options.boot_clock ? options.boot_clock : [] { return milliseconds(system_boot_ms()); }),
        boot_id(options.boot_clock ? options.boot_id : system_boot_id()),
        queue_name(options.name) {}

  // Group commit. Every use of the connection is an Operation. A thread that finds no group
  // running leads one: it takes every operation waiting at that moment, runs the reads, then
  // the writes in one transaction (a savepoint each, so one failing operation does not undo
  // the others) and commits once. Threads that arrive meanwhile wait (spinning briefly, then
  // sleeping) and form the next group. One producer and two consumers thus share commits
  // (1.5 operations a commit in BM_QueueCycle) and hand the connection on without a sleep
  // and wake-up each time, which is what makes batches of 10 fast (docs/PERFORMANCE.md).
  void execute(Operation& op) {
    std::unique_lock lock(group_mutex);
    pending.push_back(&op);
    while (!op.done) {
      if (leading) {
        // Spin a little before sleeping: a group takes tens of microseconds, about what the
        // wake-up from a condition variable costs on a small machine.
        lock.unlock();
        const auto spin_until = std::chrono::steady_clock::now() + kSpin;
        while (leading.load(std::memory_order_acquire) && !op.done.load(std::memory_order_acquire) &&
               std::chrono::steady_clock::now() < spin_until)
          std::this_thread::yield();
        lock.lock();
        if (leading && !op.done) group_done.wait(lock);
        continue;
      }
      leading = true;
      std::vector<Operation*> group;
      group.swap(pending);
      lock.unlock();
      try {
        run_group(group);
      } catch (...) {  // run_group reports failures per operation; this is for the unforeseen
        for (auto* o : group)
          if (!o->error) o->error = std::current_exception();
      }
      lock.lock();
      for (auto* o : group) o->done = true;
      leading = false;
      group_done.notify_all();
    }
    if (op.error) std::rethrow_exception(op.error);
  }

  void run_group(const std::vector<Operation*>& group) {
    std::vector<Operation*> writes;
    for (auto* o : group) {
      if (o->write) {
        writes.push_back(o);
        continue;
      }
      try {
        o->work();
      } catch (...) {
        o->error = std::current_exception();
      }
    }
    if (writes.empty()) return;
    try {
      WriteTransaction tx(db);
      for (auto* o : writes) {
        if (writes.size() == 1) {  // alone: its failure is the transaction's (caught below)
          o->work();
          continue;
        }
        db.run_cached("SAVEPOINT operation");
        try {
          o->work();
          db.run_cached("RELEASE operation");
        } catch (...) {
          o->error = std::current_exception();
          db.run_cached("ROLLBACK TO operation");
          db.run_cached("RELEASE operation");
        }
      }
      tx.commit();
    } catch (...) {  // nothing of the group was committed
      for (auto* o : writes)
        if (!o->error) o->error = std::current_exception();
    }
  }

  template <typename Work>
  void write(Work&& work) {
    Operation op{std::forward<Work>(work), true};
    execute(op);
  }

  template <typename Work>
  void read(Work&& work) {
    Operation op{std::forward<Work>(work), false};
    execute(op);
  }

  int64_t new_token() {
    std::lock_guard lock(random_mutex);
    int64_t token = 0;
    while (token == 0) token = static_cast<int64_t>(random());
    return token;
  }

  // A version 4 UUID, SQS's message id format.
  std::string new_message_id() {
    uint64_t high = 0, low = 0;
    {
      std::lock_guard lock(random_mutex);
      high = random();
      low = random();
    }
    high = (high & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
    low = (low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
    return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xFFFF, high & 0xFFFF,
                       low >> 48, low & 0xFFFFFFFFFFFFULL);
  }

  // One receive's work in the group's transaction; see take_visible below.
  void take_visible(const LocalQueueOptions& options, size_t max_messages, std::chrono::milliseconds visibility_timeout,
                    std::vector<Taken>& taken, int64_t& next_visible_at);

  void wake_receivers() {
    {
      std::lock_guard lock(wait_mutex);
      ++generation;
    }
    sent.notify_all();
  }

  // A write through this object hid a message of the queue until `visible_at`. Waiting
  // receives only know the earliest visible_at they read after their last empty take, and
  // commits on this connection do not change data_version; this keeps them from sleeping past
  // the moment. Called in the group's transaction (the group leader), so it is ordered with
  // the takes that reset it.
  void hidden_until(int64_t visible_at) {
    {
      std::lock_guard lock(wait_mutex);
      if (visible_at >= earliest_hidden) return;
      earliest_hidden = visible_at;
    }
    sent.notify_all();  // waiters recompute when to wake; they take nothing before then
  }

  Database db;  // used only by the leader of the running group
  int64_t queue_id = 0;
  int64_t dead_letter_id = 0;  // 0: no dead-letter queue
  int64_t next_sweep_at = 0;

  std::mutex group_mutex;
  std::condition_variable group_done;
  std::vector<Operation*> pending;
  std::atomic<bool> leading{false};

  std::mutex random_mutex;
  std::mt19937_64 random;

  // Long polls sleep on `sent`; a send through this object bumps the generation.
  std::mutex wait_mutex;
  std::condition_variable sent;
  uint64_t generation = 0;
  // No message of the queue is hidden until earlier than this: the earliest visible_at that
  // the last empty take read, lowered by every later write that hides a message. Waiting
  // receives wake by it (with their own reading), so none sleeps past a message coming due.
  int64_t earliest_hidden = std::numeric_limits<int64_t>::max();
  // Receives now waiting for a message (LocalQueue::waiting_receivers()).
  int64_t waiting = 0;

  Statement insert;
  Statement take;
  Statement move_to_dead_letter;
  Statement delete_expired_one;
  Statement delete_expired;
  Statement add_expired;
  Statement expired_total;
  Statement earliest_visible;
  Statement delete_by_receipt;
  Statement find;
  Statement change_visibility;
  Statement count;
  Statement purge;
  Statement redrive;
  Statement data_version;
  Statement select_retention;

  // The queue's stored retention: any process may set it (LocalQueueOptions::retention).
  // Every receive and count needs it, and it almost never changes, so it is read from the
  // file at most once a second rather than by each call on the hot path.
  int64_t stored_retention(int64_t now) {
    if (now - retention_read_at >= kRetentionRefresh) {
      auto u = select_retention.use();
      u.bind(1, queue_id);
      retention_cached = u.step() ? u.int64(0) : kDefaultRetention.count();
      retention_read_at = now;
    }
    return retention_cached;
  }
  static constexpr int64_t kRetentionRefresh = 1000;  // ms
  int64_t retention_cached = 0;
  int64_t retention_read_at = std::numeric_limits<int64_t>::min() / 2;  // never read yet

  // The queue's time (docs/EMBEDDED.md, "The queue's clock"): the wall clock as it was when the
  // file's clock was anchored, advanced by the boot clock since. A step of the wall clock (NTP,
  // a VM resumed, a hand) moves neither visibility timeouts nor retention: before, a step back
  // of an hour hid every queued message for an hour and a step forward let every message in
  // flight be received again. The anchor is read from the file by every operation (another
  // process may have moved it) and moved by a write only when the machine rebooted (a new boot
  // clock) or when the file holds no message while the wall clock has moved away: an empty
  // queue has no time to keep, so it follows the wall clock again. Returns the time now.
  int64_t clock(bool writing) {
    {
      auto u = select_clock.use();
      if (u.step()) {
        anchor_queue = u.int64(0);
        anchor_boot = u.int64(1);
        anchor_boot_id = u.text(2);
      } else {
        anchor_boot_id.reset();  // a file of schema 3 or older, not yet anchored
      }
    }
    const int64_t wall = wall_clock().time_since_epoch().count();
    const int64_t boot = boot_clock().count();
    const bool rebooted = !anchor_boot_id || *anchor_boot_id != boot_id || boot < anchor_boot;
    if (rebooted) {
      anchor_queue = wall;
      anchor_boot = boot;
      if (writing) write_anchor();
      return wall;
    }
    const int64_t now = anchor_queue + (boot - anchor_boot);
    if (std::abs(wall - now) <= kClockTolerance) return now;
    if (writing) {
      auto u = any_message.use();
      if (!u.step()) {  // an empty file: follow the wall clock again
        anchor_queue = wall;
        anchor_boot = boot;
        write_anchor();
        return wall;
      }
    }
    if (!warned_step.exchange(true))
      log::warn(
          fmt::format("the wall clock is {} s {} queue '{}''s time; the queue keeps its own time until it is "
                      "empty, so visibility timeouts and retention are not moved by the step",
                      std::abs(wall - now) / 1000, wall > now ? "ahead of" : "behind", queue_name));
    return now;
  }
  // The time from the anchor last read, without a look at the file (a waiting receive's wake-up).
  int64_t clock_now() { return anchor_queue + (boot_clock().count() - anchor_boot); }
  void write_anchor() {
    upsert_clock.use().bind(1, anchor_queue).bind(2, anchor_boot).bind_text(3, boot_id).run();
    anchor_boot_id = boot_id;
  }
  std::function<Millis()> wall_clock;
  std::function<milliseconds()> boot_clock;
  std::string boot_id;
  std::string queue_name;
  // Written by the group's leader, read by waiting receives (clock_now): atomic.
  std::atomic<int64_t> anchor_queue{0};
  std::atomic<int64_t> anchor_boot{0};
  std::optional<std::string> anchor_boot_id;
  std::atomic<bool> warned_step{false};
  Statement select_clock;
  Statement upsert_clock;
  Statement any_message;
};

namespace {

// Creates the schema in a new file, or checks that an existing file is a queue file we can read.
// An older file gets the columns it lacks (retention NULL: the default; expired 0) and becomes
// the current schema.
void prepare_schema(Database& db) {
  if (sqlite::stamp_or_check(db, kApplicationId, kSchemaVersion, kSchema, "queue")) return;
  const auto single = [&](const char* sql) {
    auto statement = db.prepare(sql);
    auto u = statement.use();
    return u.step() ? u.int64(0) : 0;
  };
  if (single("PRAGMA user_version") >= kSchemaVersion) return;
  WriteTransaction tx(db);  // another process may have migrated it meanwhile: look again
  if (single("SELECT count(*) FROM pragma_table_info('queues') WHERE name = 'retention'") == 0)
    db.exec("ALTER TABLE queues ADD COLUMN retention INTEGER");
  if (single("SELECT count(*) FROM pragma_table_info('queues') WHERE name = 'expired'") == 0)
    db.exec("ALTER TABLE queues ADD COLUMN expired INTEGER NOT NULL DEFAULT 0");
  db.exec(
      "CREATE TABLE IF NOT EXISTS clock(id INTEGER PRIMARY KEY CHECK (id = 1), queue_ms INTEGER NOT NULL, "
      "boot_ms INTEGER NOT NULL, boot_id TEXT NOT NULL)");
  if (single("PRAGMA user_version") < kSchemaVersion)
    db.exec(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str());
  tx.commit();
}

// Creates the queue when missing, with `retention` or the default, and sets its retention
// when one is given (the last one configured wins).
int64_t queue_id_of(Database& db, const std::string& name, std::optional<milliseconds> retention) {
  auto insert =
      db.prepare("INSERT INTO queues(name, created_at, retention) VALUES(?1, ?2, ?3) ON CONFLICT(name) DO NOTHING");
  insert.use()
      .bind_text(1, name)
      .bind(2, now_millis().time_since_epoch().count())
      .bind(3, retention.value_or(kDefaultRetention).count())
      .run();
  if (retention) {
    auto update = db.prepare("UPDATE queues SET retention = ?2 WHERE name = ?1");
    update.use().bind_text(1, name).bind(2, retention->count()).run();
  }
  auto select = db.prepare("SELECT id FROM queues WHERE name = ?1");
  auto u = select.use();
  u.bind_text(1, name);
  if (!u.step()) throw Error(ErrorCode::internal, fmt::format("queue '{}' vanished while it was created", name));
  return u.int64(0);
}

}  // namespace

LocalQueue::LocalQueue(LocalQueueOptions options) : options_(std::move(options)) {
  check_options(options_);
  std::error_code ec;
  if (options_.file.has_parent_path()) std::filesystem::create_directories(options_.file.parent_path(), ec);
  if (ec) throw invalid_input(fmt::format("cannot create the folder of {}: {}", options_.file.string(), ec.message()));
  state_ = std::make_unique<State>(options_);
  auto& db = state_->db;
  db.exec(options_.durability == LocalQueueOptions::Durability::full ? "PRAGMA synchronous=FULL"
                                                                     : "PRAGMA synchronous=NORMAL");
  // Deleted messages need not be overwritten with zeros (Debian builds SQLite with
  // SECURE_DELETE); a larger page cache keeps the index of a long queue in memory.
  db.exec("PRAGMA secure_delete=OFF; PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY");
  // Checkpoints (copying the WAL into the file, with an fsync) every 40 MB of WAL rather than
  // SQLite's 4 MB: a queue rewrites the same pages all the time, so a rarer checkpoint copies
  // each page once for many commits. The WAL file is kept (up to 128 MB) and overwritten from
  // its start, which is cheaper than growing a new one.
  db.exec("PRAGMA wal_autocheckpoint=10000; PRAGMA journal_size_limit=134217728");
  prepare_schema(db);
  {
    WriteTransaction tx(db);
    state_->queue_id = queue_id_of(db, options_.name, options_.retention);
    // The dead-letter queue is another queue, with its own retention: created with the
    // default, never changed by the source queue's options.
    if (!options_.dead_letter_queue.empty())
      state_->dead_letter_id = queue_id_of(db, options_.dead_letter_queue, std::nullopt);
    tx.commit();
  }
  auto& s = *state_;
  s.insert = db.prepare(
      "INSERT INTO messages(queue_id, visible_at, sent_at, message_id, body, attributes) VALUES(?1, ?2, ?3, ?4, ?5, "
      "?6)");
  // One statement takes a receive's messages: the oldest visible ones, each marked received
  // with the receive's token. Rows past their retention or receive limit are put right
  // afterwards (take_visible); that is rare, so the common receive is this one statement.
  s.take =
      db.prepare(fmt::format("UPDATE messages SET visible_at = ?3, receive_count = receive_count + 1, receipt = ?4, "
                             "first_received_at = coalesce(first_received_at, ?2) "
                             "WHERE seq IN (SELECT seq FROM messages WHERE queue_id = ?1 AND visible_at <= ?2 "
                             // The index's own order, so the subquery stops after LIMIT rows instead of sorting
                             // every visible message.
                             "ORDER BY visible_at, receive_count, sent_at, seq LIMIT ?5) "
                             "RETURNING {}",
                             kColumns));
  s.move_to_dead_letter = db.prepare(
      "UPDATE messages SET queue_id = ?1, visible_at = ?2, receive_count = 0, receipt = 0, first_received_at = NULL, "
      "dead_letter_source = ?3, dead_letter_receive_count = ?6, dead_lettered_at = ?2, "
      "last_error = coalesce(last_error, ?4) WHERE seq = ?5");
  s.delete_expired_one = db.prepare("DELETE FROM messages WHERE seq = ?1");
  // Only messages visible now: a consumer (of any process) may hold a message that a shorter
  // retention, set since by another process, has expired; it goes when it is visible again.
  s.delete_expired = db.prepare("DELETE FROM messages WHERE queue_id = ?1 AND sent_at <= ?2 AND visible_at <= ?3");
  s.add_expired = db.prepare("UPDATE queues SET expired = expired + ?2 WHERE id = ?1");
  // Those removed, and those past their retention that no sweep has removed yet and no consumer
  // holds (a held one may still be processed and deleted; the sweep spares it likewise).
  s.expired_total = db.prepare(
      "SELECT (SELECT expired FROM queues WHERE id = ?1) + "
      "(SELECT count(*) FROM messages WHERE queue_id = ?1 AND sent_at <= ?2 AND visible_at <= ?3)");
  s.earliest_visible = db.prepare("SELECT min(visible_at) FROM messages WHERE queue_id = ?1");
  s.delete_by_receipt = db.prepare("DELETE FROM messages WHERE seq = ?1 AND queue_id = ?2 AND receipt = ?3");
  s.find = db.prepare("SELECT queue_id, receipt, visible_at FROM messages WHERE seq = ?1");
  s.change_visibility = db.prepare(
      "UPDATE messages SET visible_at = ?1, last_error = coalesce(?2, last_error) "
      "WHERE seq = ?3 AND queue_id = ?4 AND receipt = ?5 AND visible_at > ?6");
  s.count = db.prepare(
      "SELECT coalesce(sum(visible_at <= ?2), 0), coalesce(sum(visible_at > ?2 AND receive_count > 0), 0), "
      "coalesce(sum(visible_at > ?2 AND receive_count = 0), 0) FROM messages WHERE queue_id = ?1 AND sent_at > ?3");
  s.purge = db.prepare("DELETE FROM messages WHERE queue_id = ?1");
  s.redrive = db.prepare(
      "UPDATE messages SET queue_id = ?1, visible_at = ?2, receive_count = 0, receipt = 0, first_received_at = NULL, "
      "dead_letter_source = NULL, dead_letter_receive_count = NULL, dead_lettered_at = NULL, last_error = NULL "
      "WHERE seq IN (SELECT seq FROM messages WHERE queue_id = ?3 AND dead_letter_source = ?4 AND visible_at <= ?2 "
      "ORDER BY seq LIMIT ?5)");
  s.data_version = db.prepare("PRAGMA data_version");
  s.select_retention =
      db.prepare(fmt::format("SELECT coalesce(retention, {}) FROM queues WHERE id = ?1", kDefaultRetention.count()));
  s.select_clock = db.prepare("SELECT queue_ms, boot_ms, boot_id FROM clock WHERE id = 1");
  s.upsert_clock = db.prepare(
      "INSERT INTO clock(id, queue_ms, boot_ms, boot_id) VALUES(1, ?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET "
      "queue_ms = excluded.queue_ms, boot_ms = excluded.boot_ms, boot_id = excluded.boot_id");
  s.any_message = db.prepare("SELECT 1 FROM messages LIMIT 1");
  s.write([&] { s.clock(true); });  // anchors the clock of a new file (or one of schema 3)
}

std::chrono::milliseconds LocalQueue::retention() const {
  auto& s = *state_;
  int64_t stored = 0;
  s.read([&] {
    s.retention_read_at = std::numeric_limits<int64_t>::min() / 2;  // this call reads the file
    stored = s.stored_retention(s.clock(false));
  });
  return milliseconds(stored);
}

LocalQueue::~LocalQueue() = default;

std::filesystem::path LocalQueue::file_in(const std::filesystem::path& state_dir) {
  return state_dir / "queues.sqlite";
}

std::vector<std::string> LocalQueue::list(const std::filesystem::path& file) {
  std::vector<std::string> names;
  if (!std::filesystem::exists(file)) return names;
  Database db(file, milliseconds(10'000));
  prepare_schema(db);
  auto select = db.prepare("SELECT name FROM queues ORDER BY name");
  auto u = select.use();
  while (u.step()) names.emplace_back(u.text(0));
  return names;
}

const std::string& LocalQueue::name() const { return options_.name; }

int64_t LocalQueue::waiting_receivers() const {
  std::lock_guard lock(state_->wait_mutex);
  return state_->waiting;
}

QueueLimits LocalQueue::limits() const {
  QueueLimits limits;
  limits.max_batch_entries = kLocalMaxBatch;
  limits.max_receive_messages = kLocalMaxBatch;
  limits.max_message_bytes = options_.message_size_limit;
  limits.max_batch_bytes = kLocalMaxBatchBytes;
  limits.time_granularity = milliseconds(1);
  return limits;
}

namespace {

std::vector<std::string_view> ids_of(auto entries) {
  std::vector<std::string_view> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  return ids;
}

EntryResult bad_receipt(const std::string& id, const std::string& handle, const std::string& queue) {
  return failure<EntryResult>(id, ErrorCode::invalid_input, "ReceiptHandleIsInvalid",
                              fmt::format("'{}' is not a receipt handle of queue '{}'", handle, queue));
}

}  // namespace

std::vector<SendResult> LocalQueue::send(std::span<const SendEntry> entries) {
  const QueueLimits limits = this->limits();
  check_batch_ids(ids_of(entries), limits.max_batch_entries, "send");
  uint64_t batch_bytes = 0;
  for (const auto& e : entries) batch_bytes += message_size(e.body, e.attributes);
  if (batch_bytes > limits.max_batch_bytes)
    throw invalid_input(fmt::format("send: the batch holds {} bytes; at most {} are allowed in one call", batch_bytes,
                                    limits.max_batch_bytes));

  // Checks, ids and attribute encoding happen here, in the caller's thread; only the inserts
  // run in the group's transaction.
  auto& s = *state_;
  std::vector<SendResult> results(entries.size());
  std::vector<std::string> attributes(entries.size());
  bool any_valid = false;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (auto violation = check_send_entry(entries[i], limits)) {
      results[i] =
          failure<SendResult>(entries[i].id, ErrorCode::invalid_input, violation->service_code, violation->message);
      continue;
    }
    results[i].id = entries[i].id;
    results[i].message_id = s.new_message_id();
    attributes[i] = encode_attributes(entries[i].attributes);
    any_valid = true;
  }
  if (!any_valid) return results;
  s.write([&] {
    const int64_t now = s.clock(true);
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!results[i].ok()) continue;
      auto u = s.insert.use();
      u.bind(1, s.queue_id).bind(2, now + entries[i].delay.count()).bind(3, now).bind_text(4, results[i].message_id);
      u.bind_blob(5, entries[i].body);
      if (attributes[i].empty())
        u.bind_null(6);
      else
        u.bind_blob(6, attributes[i]);
      u.run();
      if (entries[i].delay.count() > 0) s.hidden_until(now + entries[i].delay.count());
    }
  });
  s.wake_receivers();
  return results;
}

// One receive transaction: takes up to `max_messages` visible rows (dropping expired ones and
// moving those past their receive limit to the dead-letter queue). When it takes none, also
// finds when the next hidden message becomes visible.
void LocalQueue::State::take_visible(const LocalQueueOptions& options, size_t max_messages,
                                     milliseconds visibility_timeout, std::vector<Taken>& taken,
                                     int64_t& next_visible_at) {
  auto& s = *this;
  const int64_t now = s.clock(true);
  const int64_t kept = s.stored_retention(now);
  const int64_t expired_before = now - kept;
  if (now >= s.next_sweep_at) {
    s.delete_expired.use().bind(1, s.queue_id).bind(2, expired_before).bind(3, now).run();
    if (const int64_t n = s.db.changes(); n > 0) s.add_expired.use().bind(1, s.queue_id).bind(2, n).run();
    s.next_sweep_at = now + std::clamp(milliseconds(kept / 10), kMinSweepInterval, kMaxSweepInterval).count();
  }
  std::vector<MessageRow> rows;
  while (taken.size() < max_messages) {
    // One token per receive call: handles differ by message, and a later receive of the same
    // message gets another token, which is what makes earlier handles stale.
    const int64_t token = s.new_token();
    rows.clear();
    {
      auto u = s.take.use();
      u.bind(1, s.queue_id).bind(2, now).bind(3, now + visibility_timeout.count()).bind(4, token);
      u.bind(5, static_cast<int64_t>(max_messages - taken.size()));
      while (u.step()) {
        MessageRow c;
        c.seq = u.int64(0);
        c.receive_count = u.int64(1);  // this receive included
        c.sent_at = u.int64(2);
        if (!u.is_null(3)) c.first_received_at = u.int64(3);
        c.message_id = u.text(4);
        c.body = u.blob(5);
        c.attributes = u.blob(6);
        if (!u.is_null(7))
          c.dead_letter =
              DeadLetterInfo{std::string(u.text(7)), u.int64(8), std::string(u.text(10)), to_millis(u.int64(9))};
        rows.push_back(std::move(c));
      }
    }
    if (rows.empty()) break;
    bool put_right = false;
    for (auto& c : rows) {
      if (c.sent_at <= expired_before) {  // past its retention: never delivered again
        s.delete_expired_one.use().bind(1, c.seq).run();
        s.add_expired.use().bind(1, s.queue_id).bind(2, 1).run();
        put_right = true;
        continue;
      }
      const int64_t earlier_receives = c.receive_count - 1;
      if (s.dead_letter_id != 0 && earlier_receives >= options.max_receive_count) {
        const std::string reason = fmt::format("received {} times without being deleted (max_receive_count {})",
                                               earlier_receives, options.max_receive_count);
        s.move_to_dead_letter.use()
            .bind(1, s.dead_letter_id)
            .bind(2, now)
            .bind_text(3, options.name)
            .bind_text(4, reason)
            .bind(5, c.seq)
            .bind(6, earlier_receives)
            .run();
        log::warn("message moved to the dead-letter queue", {{"queue", options.name},
                                                             {"dead_letter_queue", options.dead_letter_queue},
                                                             {"message_id", c.message_id},
                                                             {"receive_count", earlier_receives}});
        put_right = true;
        continue;
      }
      taken.push_back({std::move(c), token});
    }
    if (!put_right) break;  // the statement took every visible message it could
  }
  // RETURNING gives rows in no particular order; oldest first reads better.
  std::sort(taken.begin(), taken.end(), [](const Taken& a, const Taken& b) { return a.row.seq < b.row.seq; });
  next_visible_at = std::numeric_limits<int64_t>::max();
  if (taken.empty()) {
    {
      auto u = s.earliest_visible.use();
      u.bind(1, s.queue_id);
      if (u.step() && !u.is_null(0)) next_visible_at = u.int64(0);
    }
    // Every write before this one in the file is in that reading; later ones lower it again.
    std::lock_guard lock(s.wait_mutex);
    s.earliest_hidden = next_visible_at;
  } else {
    s.hidden_until(now + visibility_timeout.count());
  }
}

std::vector<ReceivedMessage> LocalQueue::receive(const ReceiveRequest& request) {
  const QueueLimits limits = this->limits();
  if (request.max_messages < 1 || request.max_messages > limits.max_receive_messages)
    throw invalid_input(
        fmt::format("receive: max_messages {} is outside 1-{}", request.max_messages, limits.max_receive_messages));
  const milliseconds visibility =
      check_duration(request.visibility_timeout.value_or(options_.visibility_timeout), limits.max_visibility_timeout,
                     limits.time_granularity, "receive: visibility timeout");
  const milliseconds wait = check_duration(request.wait, limits.max_wait, limits.time_granularity, "receive: wait");
  const auto deadline = std::chrono::steady_clock::now() + wait;

  auto& s = *state_;
  const auto data_version = [&] {
    int64_t version = 0;
    s.read([&] {
      auto u = s.data_version.use();
      if (u.step()) version = u.int64(0);
    });
    return version;
  };
  // Counts this receive among the waiting ones while it waits (waiting_receivers()).
  struct Waiting {
    State& s;
    explicit Waiting(State& state) : s(state) {
      std::lock_guard lock(s.wait_mutex);
      ++s.waiting;
    }
    ~Waiting() {
      std::lock_guard lock(s.wait_mutex);
      --s.waiting;
    }
    Waiting(const Waiting&) = delete;
    Waiting& operator=(const Waiting&) = delete;
  };
  std::vector<Taken> taken;
  while (true) {
    uint64_t seen_generation = 0;
    {
      std::lock_guard lock(s.wait_mutex);
      seen_generation = s.generation;
    }
    const int64_t seen_version = wait.count() > 0 ? data_version() : 0;
    int64_t next_visible_at = 0;
    s.write([&] { s.take_visible(options_, request.max_messages, visibility, taken, next_visible_at); });
    // A take at or after the deadline is the last one: a long poll always looks once more
    // when its wait ends.
    if (!taken.empty() || std::chrono::steady_clock::now() >= deadline) break;
    // Nothing yet: wait for a send through this object, a commit by another connection
    // (data_version, looked at every poll_interval), a hidden message coming due (by our own
    // reading or by a later write through this object: earliest_hidden), or the end.
    const Waiting waiting(s);
    bool again = false;
    while (!again) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;  // the outer loop takes once more, then returns
      int64_t due = 0;
      {
        std::lock_guard lock(s.wait_mutex);
        due = std::min(next_visible_at, s.earliest_hidden);
      }
      auto wake_at = std::min(deadline, now + options_.poll_interval);
      const int64_t until_visible = due - s.clock_now();
      if (until_visible < options_.poll_interval.count())
        wake_at = std::min(wake_at, now + milliseconds(std::max<int64_t>(until_visible, 0)));
      {
        std::unique_lock lock(s.wait_mutex);
        s.sent.wait_until(lock, wake_at, [&] { return s.generation != seen_generation || s.earliest_hidden < due; });
        again = s.generation != seen_generation;
        if (!again && s.earliest_hidden < due) continue;  // one comes due earlier: wait for that
      }
      again = again || s.clock_now() >= due || data_version() != seen_version;
    }
  }
  // Turning rows into messages (handles, attributes) happens outside the group.
  std::vector<ReceivedMessage> messages;
  messages.reserve(taken.size());
  for (auto& t : taken) {
    ReceivedMessage m;
    m.message_id = std::move(t.row.message_id);
    m.receipt_handle = format_receipt({s.queue_id, t.row.seq, t.token});
    m.body = std::move(t.row.body);
    m.attributes = decode_attributes(t.row.attributes);
    m.receive_count = t.row.receive_count;
    m.sent_at = to_millis(t.row.sent_at);
    m.first_received_at = to_millis(*t.row.first_received_at);
    m.dead_letter = std::move(t.row.dead_letter);
    messages.push_back(std::move(m));
  }
  return messages;
}

std::vector<EntryResult> LocalQueue::delete_messages(std::span<const DeleteEntry> entries) {
  check_batch_ids(ids_of(entries), limits().max_batch_entries, "delete");
  auto& s = *state_;
  std::vector<EntryResult> results(entries.size());
  std::vector<Receipt> receipts(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    results[i].id = entries[i].id;
    const auto receipt = parse_receipt(entries[i].receipt_handle);
    if (!receipt || receipt->queue_id != s.queue_id)
      results[i] = bad_receipt(entries[i].id, entries[i].receipt_handle, options_.name);
    else
      receipts[i] = *receipt;
  }
  s.write([&] {
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!results[i].ok()) continue;
      s.delete_by_receipt.use().bind(1, receipts[i].seq).bind(2, s.queue_id).bind(3, receipts[i].token).run();
      if (s.db.changes() > 0) continue;
      auto u = s.find.use();
      u.bind(1, receipts[i].seq);
      if (u.step())  // still there: received again (or dead-lettered) since this handle was issued
        results[i] = failure<EntryResult>(entries[i].id, ErrorCode::conflict, "ReceiptHandleIsInvalid",
                                          fmt::format("the receipt handle is stale: the message was received again "
                                                      "since (queue '{}')",
                                                      options_.name));
      // Gone already: deleting it again succeeds, as on SQS.
    }
  });
  return results;
}

std::vector<EntryResult> LocalQueue::change_visibility(std::span<const VisibilityChange> entries) {
  const QueueLimits limits = this->limits();
  check_batch_ids(ids_of(entries), limits.max_batch_entries, "change visibility");
  auto& s = *state_;
  std::vector<EntryResult> results(entries.size());
  std::vector<Receipt> receipts(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& entry = entries[i];
    results[i].id = entry.id;
    const auto receipt = parse_receipt(entry.receipt_handle);
    if (!receipt || receipt->queue_id != s.queue_id)
      results[i] = bad_receipt(entry.id, entry.receipt_handle, options_.name);
    else if (entry.timeout.count() < 0 || entry.timeout > limits.max_visibility_timeout)
      results[i] = failure<EntryResult>(entry.id, ErrorCode::invalid_input, "InvalidParameterValue",
                                        fmt::format("visibility timeout {} ms is outside 0-{} ms",
                                                    entry.timeout.count(), limits.max_visibility_timeout.count()));
    else
      receipts[i] = *receipt;
  }
  bool made_visible = false;
  s.write([&] {
    const int64_t now = s.clock(true);
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!results[i].ok()) continue;
      const auto& entry = entries[i];
      {
        auto u = s.change_visibility.use();
        u.bind(1, now + entry.timeout.count());
        if (entry.reason.empty())
          u.bind_null(2);
        else
          u.bind_text(2, entry.reason);
        u.bind(3, receipts[i].seq).bind(4, s.queue_id).bind(5, receipts[i].token).bind(6, now).run();
      }
      if (s.db.changes() > 0) {
        if (entry.timeout.count() == 0)
          made_visible = true;
        else
          s.hidden_until(now + entry.timeout.count());
        continue;
      }
      auto u = s.find.use();
      u.bind(1, receipts[i].seq);
      if (!u.step())
        results[i] = failure<EntryResult>(entry.id, ErrorCode::not_found, "ReceiptHandleIsInvalid",
                                          "the message was deleted or has expired");
      else if (u.int64(0) != s.queue_id || u.int64(1) != receipts[i].token)
        results[i] = failure<EntryResult>(entry.id, ErrorCode::conflict, "ReceiptHandleIsInvalid",
                                          "the receipt handle is stale: the message was received again since");
      else
        results[i] = failure<EntryResult>(entry.id, ErrorCode::conflict, "MessageNotInflight",
                                          "the message is not in flight: its visibility timeout has already ended");
    }
  });
  if (made_visible) s.wake_receivers();
  return results;
}

QueueCounts LocalQueue::counts() {
  auto& s = *state_;
  QueueCounts counts;
  s.read([&] {
    const int64_t now = s.clock(false);
    const int64_t kept = s.stored_retention(now);
    auto u = s.count.use();
    u.bind(1, s.queue_id).bind(2, now).bind(3, now - kept);
    if (u.step()) {
      counts.visible = u.int64(0);
      counts.in_flight = u.int64(1);
      counts.delayed = u.int64(2);
    }
  });
  return counts;
}

std::optional<int64_t> LocalQueue::expired_total() {
  auto& s = *state_;
  int64_t total = 0;
  s.read([&] {
    const int64_t now = s.clock(false);
    auto u = s.expired_total.use();
    u.bind(1, s.queue_id).bind(2, now - s.stored_retention(now)).bind(3, now);
    if (u.step()) total = u.int64(0);
  });
  return total;
}

void LocalQueue::purge() {
  auto& s = *state_;
  s.write([&] { s.purge.use().bind(1, s.queue_id).run(); });
}

int64_t LocalQueue::redrive_dead_letters(int64_t max_messages) {
  if (options_.dead_letter_queue.empty())
    throw invalid_input(fmt::format("queue '{}' has no dead-letter queue to redrive from", options_.name));
  if (max_messages < 1) throw invalid_input(fmt::format("redrive: max_messages {} must be at least 1", max_messages));
  auto& s = *state_;
  int64_t moved = 0;
  s.write([&] {
    s.redrive.use()
        .bind(1, s.queue_id)
        .bind(2, s.clock(true))
        .bind(3, s.dead_letter_id)
        .bind_text(4, options_.name)
        .bind(5, max_messages)
        .run();
    moved = s.db.changes();
  });
  if (moved > 0) {
    log::info("dead letters moved back",
              {{"queue", options_.name}, {"from", options_.dead_letter_queue}, {"messages", moved}});
    s.wake_receivers();
  }
  return moved;
}

}  // namespace sentiflow
