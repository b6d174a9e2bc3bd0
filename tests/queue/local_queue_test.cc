// LocalQueue: the conformance suite, then what only the SQLite queue promises (its file,
// its options, several processes).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "queue/local_queue.h"
#include "queue/message_rules.h"
#include "queue_conformance.h"
#include "support/run_binary.h"
#include "support/spawned.h"
#include "support/temp_dir.h"

namespace sentiflow::testing {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards; tests run in parallel processes (ctest -j).
// Each test's own directory, labelled by component.
class TempDir : public testing_support::TempDir {
 public:
  TempDir() : testing_support::TempDir("queue") {}
};

class LocalQueueFactory {
 public:
  static QueueCapabilities capabilities() {
    return {.sub_second_timing = true,
            .strict_stale_receipts = true,
            .short_retention = true,
            .keeps_last_error = true,
            .exact_counts = true};
  }

  std::unique_ptr<Queue> open(const QueueSpec& spec) { return std::make_unique<LocalQueue>(options(spec)); }

  void send_from_elsewhere(const QueueSpec& spec, const std::string& body) {
    testing_support::Spawned helper(QUEUE_HELPER, {"send", file().string(), spec.name, body});
    const int status = helper.wait_exit(std::chrono::seconds(60)).value_or(-1);
    if (status != 0) throw std::runtime_error("queue_helper send failed with status " + std::to_string(status));
  }

  LocalQueueOptions options(const QueueSpec& spec) const {
    LocalQueueOptions o;
    o.file = file();
    o.name = spec.name;
    o.visibility_timeout = spec.visibility_timeout;
    o.dead_letter_queue = spec.dead_letter_queue;
    o.max_receive_count = spec.max_receive_count;
    o.message_size_limit = spec.message_size_limit;
    o.retention = spec.retention;
    return o;
  }

  fs::path file() const { return LocalQueue::file_in(dir_.path()); }

 private:
  TempDir dir_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Local, QueueConformance, ::testing::Types<LocalQueueFactory>);

namespace {

class LocalQueueTest : public ::testing::Test {
 protected:
  LocalQueueOptions options(std::string name = "q") {
    LocalQueueOptions o;
    o.file = LocalQueue::file_in(dir_.path());
    o.name = std::move(name);
    return o;
  }
  TempDir dir_;
};

void expect_invalid(const LocalQueueOptions& o, std::string_view fragment) {
  try {
    LocalQueue queue(o);
    ADD_FAILURE() << "options accepted; expected an error with '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST_F(LocalQueueTest, RefusesBadOptions) {
  auto o = options("bad name");
  expect_invalid(o, "queue name 'bad name' must be 1-80");
  o = options();
  o.message_size_limit = 1024 * 1024 + 1;
  expect_invalid(o, "outside 1 B-1 MiB");
  o = options();
  o.dead_letter_queue = "q";
  expect_invalid(o, "cannot be its own dead-letter queue");
  o = options();
  o.dead_letter_queue = "dlq";
  o.max_receive_count = 0;
  expect_invalid(o, "max_receive_count 0");
  o = options();
  o.retention = std::chrono::hours(24 * 15);
  expect_invalid(o, "retention");
  o = options();
  o.visibility_timeout = std::chrono::hours(13);
  expect_invalid(o, "visibility timeout");
}

TEST_F(LocalQueueTest, LimitsAreSqsLimitsWithLargerBatchesAndMilliseconds) {
  auto o = options();
  o.message_size_limit = 1024 * 1024;
  LocalQueue queue(o);
  const auto limits = queue.limits();
  EXPECT_EQ(limits.max_batch_entries, 10'000u);
  EXPECT_EQ(limits.max_receive_messages, 10'000u);
  EXPECT_EQ(limits.max_message_bytes, 1024u * 1024);
  EXPECT_EQ(limits.max_wait, std::chrono::seconds(20));
  EXPECT_EQ(limits.time_granularity, std::chrono::milliseconds(1));
  EXPECT_NO_THROW(queue.send_one(std::string(1024 * 1024, 'x')));
}

TEST_F(LocalQueueTest, RefusesAFileThatIsNotAQueueFile) {
  const auto file = LocalQueue::file_in(dir_.path());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE other(x)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  expect_invalid(options(), "is not a sentiflow queue file");
}

TEST_F(LocalQueueTest, RefusesAFileFromANewerSentiflow) {
  { LocalQueue queue(options()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(LocalQueue::file_in(dir_.path()).c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  expect_invalid(options(), "newer sentiflow");
}

TEST_F(LocalQueueTest, RefusesAFileOfGarbage) {
  std::ofstream(LocalQueue::file_in(dir_.path())) << std::string(8192, 'g');
  try {
    LocalQueue queue(options());
    ADD_FAILURE() << "a garbage file was opened";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
  }
}

TEST_F(LocalQueueTest, ListsTheQueuesOfAFile) {
  EXPECT_TRUE(LocalQueue::list(LocalQueue::file_in(dir_.path())).empty());
  auto o = options("producer");
  o.dead_letter_queue = "producer-dlq";
  LocalQueue queue(o);
  LocalQueue other(options("another"));
  EXPECT_EQ(LocalQueue::list(LocalQueue::file_in(dir_.path())),
            (std::vector<std::string>{"another", "producer", "producer-dlq"}));
}

TEST_F(LocalQueueTest, MessagesSurviveReopeningInBothDurabilityModes) {
  for (auto durability : {LocalQueueOptions::Durability::normal, LocalQueueOptions::Durability::full}) {
    auto o = options(durability == LocalQueueOptions::Durability::full ? "full" : "normal");
    o.durability = durability;
    { LocalQueue(o).send_one("kept"); }
    LocalQueue reopened(o);
    const auto got = reopened.receive({1, std::nullopt, std::chrono::milliseconds(0)});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body, "kept");
  }
}

TEST_F(LocalQueueTest, ReceiptHandlesOfOtherQueuesAreRefused) {
  LocalQueue a(options("a"));
  LocalQueue b(options("b"));
  a.send_one("for a");
  const auto got = a.receive({1, std::nullopt, std::chrono::milliseconds(0)});
  ASSERT_EQ(got.size(), 1u);
  const DeleteEntry entry{"x", got[0].receipt_handle};
  const auto result = b.delete_messages(std::span(&entry, 1));
  ASSERT_FALSE(result[0].ok());
  EXPECT_EQ(result[0].error->code(), ErrorCode::invalid_input);
  EXPECT_EQ(result[0].service_code, "ReceiptHandleIsInvalid");
  EXPECT_EQ(a.counts().in_flight, 1);
  for (std::string bad : {"", "1.2", "1.2.3", "zz.1.0000000000000001", "1.2.00000000000000001", "1.2.-000000000000001",
                          "1.1.0000000000000000"}) {
    const DeleteEntry e{"x", bad};
    EXPECT_FALSE(a.delete_messages(std::span(&e, 1))[0].ok()) << bad;
  }
}

TEST_F(LocalQueueTest, DeadLettersAfterAChangeOfVisibilityWithoutReasonSayWhy) {
  auto o = options();
  o.dead_letter_queue = "dlq";
  o.max_receive_count = 1;
  o.visibility_timeout = std::chrono::milliseconds(0);
  LocalQueue queue(o);
  LocalQueue dlq(options("dlq"));
  queue.send_one("poison");
  ASSERT_EQ(queue.receive({1, std::nullopt, std::chrono::milliseconds(0)}).size(), 1u);
  EXPECT_TRUE(queue.receive({1, std::nullopt, std::chrono::milliseconds(0)}).empty());
  const auto dead = dlq.receive({1, std::nullopt, std::chrono::milliseconds(0)});
  ASSERT_EQ(dead.size(), 1u);
  ASSERT_TRUE(dead[0].dead_letter);
  EXPECT_EQ(dead[0].dead_letter->last_error, "received 1 times without being deleted (max_receive_count 1)");
  EXPECT_LE(dead[0].dead_letter->moved_at, now_millis());
}

TEST_F(LocalQueueTest, RedriveMovesOnlyItsOwnDeadLettersAndAtMostMax) {
  auto a = options("a");
  a.dead_letter_queue = "shared-dlq";
  a.max_receive_count = 1;
  a.visibility_timeout = std::chrono::milliseconds(0);
  auto b = a;
  b.name = "b";
  LocalQueue qa(a), qb(b);
  for (int i = 0; i < 3; ++i) qa.send_one("a" + std::to_string(i));
  qb.send_one("b0");
  for (int round = 0; round < 2; ++round) {
    qa.receive({10, std::nullopt, std::chrono::milliseconds(0)});
    qb.receive({10, std::nullopt, std::chrono::milliseconds(0)});
  }
  LocalQueue dlq(options("shared-dlq"));
  EXPECT_EQ(dlq.counts().visible, 4);
  EXPECT_EQ(qa.redrive_dead_letters(2), 2);
  EXPECT_EQ(qa.redrive_dead_letters(10), 1);
  EXPECT_EQ(dlq.counts().visible, 1) << "b's dead letter stays";
  EXPECT_EQ(qa.counts().visible, 3);
  EXPECT_THROW(qa.redrive_dead_letters(0), Error);
}

TEST_F(LocalQueueTest, ALongPollSeesAMessageWhoseDelayEnds) {
  LocalQueue queue(options());
  const SendEntry entry{"e", "soon", std::chrono::milliseconds(150)};
  queue.send(std::span(&entry, 1));
  const auto start = std::chrono::steady_clock::now();
  const auto got = queue.receive({1, std::nullopt, std::chrono::seconds(10)});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LT(took, std::chrono::seconds(1)) << "woken when the delay ended, not at the end of the wait";
}

// Polls (with a deadline, no sleeping to wait) until `n` receives wait on `queue`.
bool wait_for_waiting_receivers(const LocalQueue& queue, int64_t n) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (queue.waiting_receivers() < n) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::yield();
  }
  return true;
}

// Same-process wake-up, deterministic: the send happens only once the receive waits.
TEST_F(LocalQueueTest, LongPollWakesAtOnceOnASendInTheSameProcess) {
  LocalQueue queue(options());
  EXPECT_EQ(queue.waiting_receivers(), 0);
  std::vector<ReceivedMessage> got;
  std::chrono::steady_clock::time_point woke;
  std::thread receiver([&] {
    got = queue.receive({1, std::nullopt, queue.limits().max_wait});
    woke = std::chrono::steady_clock::now();
  });
  ASSERT_TRUE(wait_for_waiting_receivers(queue, 1));
  queue.send_one("wake up");
  const auto sent = std::chrono::steady_clock::now();
  receiver.join();
  ASSERT_EQ(got.size(), 1u);
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(woke - sent);
  RecordProperty("wake_latency_ms", static_cast<int>(latency.count()));
  EXPECT_LT(latency, std::chrono::milliseconds(100)) << "the receive woke " << latency.count() << " ms after the send";
  EXPECT_EQ(queue.waiting_receivers(), 0);
}

// A change of visibility to a shorter timeout in the same process changes no data_version of
// the waiter's connection: the waiter must still wake when the message comes due.
TEST_F(LocalQueueTest, ALongPollSeesAMessageWhoseVisibilityWasShortened) {
  LocalQueue queue(options());
  queue.send_one("held");
  const auto held = queue.receive({1, std::chrono::milliseconds(30'000), std::chrono::milliseconds(0)});
  ASSERT_EQ(held.size(), 1u);
  std::vector<ReceivedMessage> got;
  std::chrono::steady_clock::time_point woke;
  const auto start = std::chrono::steady_clock::now();
  std::thread waiter([&] {
    got = queue.receive({1, std::nullopt, std::chrono::seconds(5)});
    woke = std::chrono::steady_clock::now();
  });
  ASSERT_TRUE(wait_for_waiting_receivers(queue, 1));
  const VisibilityChange change{"c", held[0].receipt_handle, std::chrono::milliseconds(300)};
  const auto changed = queue.change_visibility(std::span(&change, 1));
  ASSERT_TRUE(changed[0].ok());
  const auto changed_at = std::chrono::steady_clock::now();
  waiter.join();
  ASSERT_EQ(got.size(), 1u) << "the message came due 300 ms into a 5 s long poll";
  EXPECT_EQ(got[0].body, "held");
  EXPECT_LT(woke - changed_at, std::chrono::seconds(2));
  EXPECT_LT(woke - start, std::chrono::seconds(4)) << "woken when the message came due, not at the deadline";
}

TEST_F(LocalQueueTest, RedriveLeavesDeadLettersInFlight) {
  auto o = options();
  o.dead_letter_queue = "dlq";
  o.max_receive_count = 1;
  o.visibility_timeout = std::chrono::milliseconds(0);
  LocalQueue queue(o);
  LocalQueue dlq(options("dlq"));
  queue.send_one("poison");
  ASSERT_EQ(queue.receive({1, std::nullopt, std::chrono::milliseconds(0)}).size(), 1u);
  EXPECT_TRUE(queue.receive({1, std::nullopt, std::chrono::milliseconds(0)}).empty());
  const auto held = dlq.receive({1, std::chrono::milliseconds(30'000), std::chrono::milliseconds(0)});
  ASSERT_EQ(held.size(), 1u) << "a consumer of the dead-letter queue holds it";
  EXPECT_EQ(queue.redrive_dead_letters(10), 0) << "a dead letter in flight is not moved under its consumer";
  EXPECT_EQ(dlq.counts().in_flight, 1);
  const VisibilityChange release{"r", held[0].receipt_handle, std::chrono::milliseconds(0)};
  ASSERT_TRUE(dlq.change_visibility(std::span(&release, 1))[0].ok());
  EXPECT_EQ(queue.redrive_dead_letters(10), 1);
  EXPECT_EQ(dlq.counts().total(), 0);
}

// Many threads at once: their calls share transactions (group commit); nothing may be lost,
// doubled or acknowledged without being done.
TEST_F(LocalQueueTest, ConcurrentProducersAndConsumersLoseNothing) {
  auto o = options();
  o.visibility_timeout = std::chrono::seconds(60);
  LocalQueue queue(o);
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 700;
  std::atomic<int> deleted{0};
  std::vector<std::string> received[2];
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p)
    threads.emplace_back([&, p] {
      for (int sent = 0; sent < kPerProducer;) {
        std::vector<SendEntry> batch;
        for (int i = 0; i < 7 && sent < kPerProducer; ++i, ++sent)
          batch.push_back({"e" + std::to_string(i), std::to_string(p) + "-" + std::to_string(sent)});
        for (const auto& r : queue.send(batch)) ASSERT_TRUE(r.ok());
      }
    });
  for (int c = 0; c < 2; ++c)
    threads.emplace_back([&, c] {
      while (deleted.load() < kProducers * kPerProducer) {
        const auto got = queue.receive({11, std::nullopt, std::chrono::milliseconds(100)});
        std::vector<DeleteEntry> deletes;
        for (const auto& m : got) {
          deletes.push_back({"d" + std::to_string(deletes.size()), m.receipt_handle});
          received[c].push_back(m.body);
        }
        if (deletes.empty()) continue;
        for (const auto& r : queue.delete_messages(deletes)) ASSERT_TRUE(r.ok()) << r.error->what();
        deleted += static_cast<int>(deletes.size());
      }
    });
  for (auto& t : threads) t.join();
  std::set<std::string> all(received[0].begin(), received[0].end());
  for (const auto& body : received[1]) EXPECT_TRUE(all.insert(body).second) << body << " was delivered twice";
  EXPECT_EQ(all.size(), static_cast<size_t>(kProducers * kPerProducer));
  EXPECT_EQ(queue.counts().total(), 0);
}

// Two other processes write to the queue file while this one receives and deletes: SQLite's
// write lock is taken in turn, and every message arrives exactly once.
TEST_F(LocalQueueTest, SeveralProcessesShareOneQueueFile) {
  auto o = options();
  o.visibility_timeout = std::chrono::seconds(60);
  LocalQueue queue(o);
  constexpr int kPerProcess = 300;
  testing_support::Spawned first(QUEUE_HELPER,
                                 {"send-many", o.file.string(), o.name, "first", std::to_string(kPerProcess)});
  testing_support::Spawned second(QUEUE_HELPER,
                                  {"send-many", o.file.string(), o.name, "second", std::to_string(kPerProcess)});
  std::set<std::string> bodies;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (bodies.size() < 2 * kPerProcess && std::chrono::steady_clock::now() < deadline) {
    const auto got = queue.receive({50, std::nullopt, std::chrono::milliseconds(500)});
    std::vector<DeleteEntry> deletes;
    for (const auto& m : got) {
      EXPECT_TRUE(bodies.insert(m.body).second) << m.body << " arrived twice";
      deletes.push_back({"d" + std::to_string(deletes.size()), m.receipt_handle});
    }
    if (deletes.empty()) continue;
    for (const auto& r : queue.delete_messages(deletes)) EXPECT_TRUE(r.ok());
  }
  ASSERT_TRUE(first.wait_for_end(std::chrono::seconds(60)));
  ASSERT_TRUE(second.wait_for_end(std::chrono::seconds(60)));
  EXPECT_EQ(WEXITSTATUS(first.status()), 0);
  EXPECT_EQ(WEXITSTATUS(second.status()), 0);
  EXPECT_EQ(bodies.size(), static_cast<size_t>(2 * kPerProcess));
  EXPECT_EQ(queue.counts().total(), 0);
}

TEST(MessageRules, TextRules) {
  EXPECT_FALSE(find_invalid_message_text("plain\ttext\r\n"));
  EXPECT_FALSE(find_invalid_message_text("\xf0\x9f\x98\x80 \xee\x80\x80"));
  EXPECT_TRUE(find_invalid_message_text(std::string("nul\0", 4)));
  EXPECT_TRUE(find_invalid_message_text("\x7f\xff"));
  EXPECT_TRUE(find_invalid_message_text("\xef\xbf\xbe"));  // U+FFFE
  EXPECT_TRUE(find_invalid_message_text("\xef\xbf\xbf"));  // U+FFFF
  EXPECT_TRUE(find_invalid_message_text("\xed\xa0\x80"));  // a surrogate
}

TEST(MessageRules, DurationsRoundUpToTheGranularity) {
  using std::chrono::milliseconds;
  EXPECT_EQ(check_duration(milliseconds(1), milliseconds(20'000), milliseconds(1000), "wait"), milliseconds(1000));
  EXPECT_EQ(check_duration(milliseconds(0), milliseconds(20'000), milliseconds(1000), "wait"), milliseconds(0));
  EXPECT_EQ(check_duration(milliseconds(250), milliseconds(20'000), milliseconds(1), "wait"), milliseconds(250));
  EXPECT_THROW(check_duration(milliseconds(-1), milliseconds(20'000), milliseconds(1), "wait"), Error);
  EXPECT_THROW(check_duration(milliseconds(20'001), milliseconds(20'000), milliseconds(1), "wait"), Error);
}

using namespace std::chrono_literals;

int64_t schema_version_of(const fs::path& file) {
  sqlite3* db = nullptr;
  if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) return -1;
  sqlite3_stmt* statement = nullptr;
  int64_t version = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nullptr) == SQLITE_OK &&
      sqlite3_step(statement) == SQLITE_ROW)
    version = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return version;
}

// Retention is the queue's, stored in the file: an object opened later without one (nullopt)
// uses the stored retention, not a default of its own, and does not change it.
TEST_F(LocalQueueTest, AnOpenWithoutRetentionKeepsAndUsesTheStoredOne) {
  auto o = options();
  o.retention = 1h;
  LocalQueue keeper(o);
  keeper.send_one("kept");
  EXPECT_EQ(keeper.retention(), 1h);

  auto later = options();  // retention: nullopt
  LocalQueue inspector(later);
  EXPECT_EQ(inspector.retention(), 1h);
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(inspector.counts().visible, 1);
  const auto got = inspector.receive({10, 0ms, 0ms});  // its sweep runs here: nothing is expired
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "kept");
  EXPECT_EQ(keeper.retention(), 1h);
  EXPECT_EQ(keeper.counts().visible, 1);
  // A new queue opened without a retention gets the default, 4 days.
  EXPECT_EQ(LocalQueue(options("fresh")).retention(), std::chrono::hours(4 * 24));
}

// An explicit retention sets the stored one, for every object of the queue (the last one
// configured wins, as SetQueueAttributes); a dead-letter queue keeps its own.
TEST_F(LocalQueueTest, AnExplicitRetentionSetsTheStoredOneForEveryObject) {
  auto o = options();
  o.retention = 1h;
  o.dead_letter_queue = "q-dlq";
  LocalQueue first(o);
  first.send_one("old");
  auto shorter = options();
  shorter.retention = 300ms;
  LocalQueue second(shorter);
  EXPECT_EQ(first.retention(), 300ms);
  EXPECT_EQ(second.retention(), 300ms);
  EXPECT_EQ(LocalQueue(options()).retention(), 300ms);  // nullopt keeps it
  EXPECT_EQ(LocalQueue(options("q-dlq")).retention(), std::chrono::hours(4 * 24));
  std::this_thread::sleep_for(400ms);
  // `first` was opened with 1 h, but the queue's retention is now 300 ms.
  EXPECT_EQ(first.counts().total(), 0);
  EXPECT_TRUE(first.receive({10, 0ms, 0ms}).empty());
  first.send_one("new");
  EXPECT_EQ(first.receive({10, 0ms, 0ms}).size(), 1u);

  o.retention = 2h;  // reopened with a longer one: that one wins again
  LocalQueue third(o);
  EXPECT_EQ(second.retention(), 2h);
}

// A file of schema 1 (no stored retention) keeps working: it gets the column, and its queues
// the default retention until one is configured.
TEST_F(LocalQueueTest, ASchemaOneFileGetsTheRetentionColumn) {
  const auto file = LocalQueue::file_in(dir_.path());
  {
    LocalQueue queue(options());
    queue.send_one("from schema 1");
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(
                db,
                "ALTER TABLE queues DROP COLUMN retention; ALTER TABLE queues DROP COLUMN expired; DROP TABLE clock; "
                "PRAGMA user_version=1",
                nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  ASSERT_EQ(schema_version_of(file), 1);

  EXPECT_EQ(LocalQueue::list(file), std::vector<std::string>{"q"});
  EXPECT_EQ(schema_version_of(file), 4);
  LocalQueue queue(options());
  EXPECT_EQ(queue.retention(), std::chrono::hours(4 * 24));
  const auto got = queue.receive({10, 0ms, 0ms});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "from schema 1");
  EXPECT_EQ(queue.expired_total(), 0);  // the upgrade's expired column starts at 0
  auto o = options();
  o.retention = 1h;
  LocalQueue configured(o);
  EXPECT_EQ(queue.retention(), 1h);
}

// The clocks of a queue under test: a wall clock that a test steps and a boot clock that only
// moves forward, as a machine's do when NTP or a person sets the time.
struct SteppedClocks {
  std::atomic<int64_t> wall_ms{1'765'000'000'000};
  std::atomic<int64_t> boot_ms{50'000};
  // Time passes: both clocks move.
  void pass(std::chrono::milliseconds d) {
    wall_ms += d.count();
    boot_ms += d.count();
  }
  // The wall clock is set: only it moves.
  void step(std::chrono::milliseconds d) { wall_ms += d.count(); }
  void use_in(LocalQueueOptions& o, std::string boot_id = "boot-1") {
    o.wall_clock = [this] { return Millis(std::chrono::milliseconds(wall_ms.load())); };
    o.boot_clock = [this] { return std::chrono::milliseconds(boot_ms.load()); };
    o.boot_id = std::move(boot_id);
  }
};

// A step of the wall clock moves neither visibility timeouts nor retention (issue 14, fault 7).
// Before the queue kept its own time, a step back of an hour hid every queued message for an
// hour, and a step forward let every message in flight be received again and expired messages
// an hour early.
TEST_F(LocalQueueTest, VisibilityAndRetentionSurviveClockStepsOfAnHour) {
  for (const auto step : {1h, -1h}) {
    SCOPED_TRACE(step.count());
    SteppedClocks clocks;
    auto o = options(step > 0h ? "ahead" : "behind");
    o.retention = 10min;
    clocks.use_in(o);
    LocalQueue queue(o);
    queue.send_one("in flight");
    const auto held = queue.receive({1, 30s, 0ms});
    ASSERT_EQ(held.size(), 1u);
    queue.send_one("waiting");

    clocks.step(step);
    clocks.pass(1s);
    auto got = queue.receive({10, 30s, 0ms});
    ASSERT_EQ(got.size(), 1u) << "the waiting message is visible and the one in flight still hidden";
    EXPECT_EQ(got[0].body, "waiting");
    EXPECT_EQ(queue.counts().in_flight, 2);
    const std::vector<VisibilityChange> extend{{.id = "e", .receipt_handle = held[0].receipt_handle, .timeout = 30s}};
    EXPECT_TRUE(queue.change_visibility(extend).at(0).ok()) << "its receipt is still good";

    clocks.pass(31s);
    got = queue.receive({10, 30s, 0ms});
    EXPECT_EQ(got.size(), 2u) << "both come back once their timeouts end, in the queue's time";

    clocks.pass(9min);  // 9 min 32 s since the sends: within the retention
    EXPECT_EQ(queue.counts().visible, 2);
    EXPECT_EQ(queue.expired_total(), 0);
    clocks.pass(1min);
    EXPECT_EQ(queue.counts().in_flight + queue.counts().visible, 0) << "expired after 10 min of the queue's time";
  }
}

// The queue's time is the file's: another process (another LocalQueue) that opens the file after
// the step keeps the same time; a queue with no message follows the wall clock again; a reboot
// (a new boot id) anchors the clock on the wall clock anew.
TEST_F(LocalQueueTest, TheQueuesTimeIsSharedAndFollowsTheWallClockWhenEmpty) {
  SteppedClocks clocks;
  auto o = options();
  clocks.use_in(o);
  LocalQueue first(o);
  first.send_one("kept");
  clocks.step(-1h);
  LocalQueue second(o);
  auto got = second.receive({1, 30s, 0ms});
  ASSERT_EQ(got.size(), 1u) << "the other object sees the message as visible";
  EXPECT_EQ(got[0].sent_at, Millis(std::chrono::milliseconds(1'765'000'000'000)));
  const std::vector<DeleteEntry> done{{.id = "d", .receipt_handle = got[0].receipt_handle}};
  ASSERT_TRUE(second.delete_messages(done).at(0).ok());

  first.send_one("after");  // the file was empty: the queue takes the wall clock's time again
  got = second.receive({1, 30s, 0ms});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].sent_at, Millis(std::chrono::milliseconds(clocks.wall_ms.load())));

  auto rebooted = o;
  clocks.boot_ms = 10;  // the boot clock starts again
  clocks.use_in(rebooted, "boot-2");
  clocks.step(5h);
  LocalQueue after_reboot(rebooted);
  after_reboot.send_one("new boot");
  got = after_reboot.receive({10, 30s, 0ms});
  ASSERT_EQ(got.size(), 2u) << "5 h passed by the wall clock: the message in flight before the reboot is back";
  EXPECT_EQ(got[1].body, "new boot");
  EXPECT_EQ(got[1].sent_at, Millis(std::chrono::milliseconds(clocks.wall_ms.load())));
}

// The CLI inspects: stats, receive and --state-dir opens never change a queue's stored
// retention, of the pipeline's queue or of its dead-letter queue; a send that creates the
// pipeline's queue gives it the pipeline's retention.
TEST_F(LocalQueueTest, TheCliNeverChangesAStoredRetention) {
  const auto pipeline = dir_.path() / "pipeline.yaml";
  std::ofstream(pipeline) << "name: retention-test\n"
                             "state_dir: state\n"
                             "source: {table: local://companies, key: name, text: description}\n"
                             "queue: {url: local://producer, retention: 1h}\n"
                             "sink: {store: out/}\n";
  const auto file = LocalQueue::file_in(dir_.path() / "state");
  {
    LocalQueueOptions o;
    o.file = file;
    o.name = "producer";
    o.dead_letter_queue = "producer-dlq";
    o.retention = 48h;
    LocalQueue(o).send_one("waiting");
    LocalQueueOptions d;
    d.file = file;
    d.name = "producer-dlq";
    d.retention = 72h;
    LocalQueue{d};
  }
  const std::string target = "--pipeline '" + pipeline.string() + "'";
  for (const std::string& command :
       {"queue stats " + target, "queue stats " + target + " --json", "queue receive " + target + " --visibility 0s",
        "queue receive " + target + " --queue producer-dlq",
        "queue stats --state-dir '" + (dir_.path() / "state").string() + "'",
        "queue receive --state-dir '" + (dir_.path() / "state").string() + "' --queue producer --visibility 0s",
        "queue send " + target + " more"}) {
    const auto r = testing_support::run_sentiflow(command);
    EXPECT_EQ(r.status, 0) << command << ": " << r.err;
  }
  LocalQueueOptions inspect;
  inspect.file = file;
  inspect.name = "producer";
  EXPECT_EQ(LocalQueue(inspect).retention(), 48h);
  inspect.name = "producer-dlq";
  EXPECT_EQ(LocalQueue(inspect).retention(), 72h);

  // A send that creates the pipeline's queue: the pipeline's retention.
  fs::remove_all(dir_.path() / "state");
  const auto r = testing_support::run_sentiflow("queue send " + target + " first");
  EXPECT_EQ(r.status, 0) << r.err;
  inspect.name = "producer";
  EXPECT_EQ(LocalQueue(inspect).retention(), 1h);
}

}  // namespace
}  // namespace sentiflow::testing
