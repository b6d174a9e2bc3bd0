// SqliteRunState and SchedulerLock: the RunState conformance suite on state.sqlite, and what is
// SQLite's own: the file, its schema checks and upgrade, the scheduler's lock within a process
// and across processes.
#include "state/run_state.h"
#include "state/scheduler_lock.h"
#include "state/sqlite_run_state.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "state/run_state_conformance.h"
#include "sqlite/sqlite.h"
#include "support/temp_dir.h"

namespace sentiflow {
namespace {

namespace fs = std::filesystem;
using conformance::at_ms;
using conformance::at_s;
using conformance::error_of;
using conformance::some_counts;
using std::chrono::milliseconds;
using std::chrono::seconds;

class TempDir : public testing_support::TempDir {
 public:
  TempDir() : testing_support::TempDir("runtime") {}
};

// The conformance suite's store: a fresh state directory.
class SqliteStore {
 public:
  static void set_up_suite() {}
  static void tear_down_suite() {}
  static std::string skip_reason() { return ""; }
  static constexpr int kConcurrentCalls = 1000;

  std::unique_ptr<RunState> open() { return std::make_unique<SqliteRunState>(dir_.path()); }

 private:
  TempDir dir_;
};

}  // namespace

namespace conformance {
INSTANTIATE_TYPED_TEST_SUITE_P(SqliteRunState, RunStateConformance, ::testing::Types<SqliteStore>);
}  // namespace conformance

namespace {

class RunStateTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST(RunStateNames, KindsAndPhases) {
  EXPECT_EQ(to_string(RunKind::scheduled), "scheduled");
  EXPECT_EQ(to_string(RunKind::manual), "manual");
  EXPECT_EQ(to_string(RunKind::backfill), "backfill");
  EXPECT_EQ(to_string(RunPhase::producing), "producing");
  EXPECT_EQ(to_string(RunPhase::draining), "draining");
  EXPECT_EQ(to_string(RunPhase::finished), "finished");
}

TEST(RunCountsTest, PlusEqualsAddsEveryCountAndMergesLabels) {
  RunCounts a = some_counts();
  RunCounts b;
  b.scanned = 1;
  b.dead_letters = 5;
  b.labels = {{"POSITIVE", 1}, {"NEUTRAL", 2}};
  a += b;
  EXPECT_EQ(a.scanned, 11);
  EXPECT_EQ(a.sent, 9);
  EXPECT_EQ(a.dead_letters, 6);
  EXPECT_EQ(a.labels, (std::map<std::string, int64_t>{{"NEGATIVE", 3}, {"NEUTRAL", 2}, {"POSITIVE", 5}}));
}

TEST(RunStateNames, ParseTheNamesBack) {
  for (const RunKind kind : {RunKind::scheduled, RunKind::manual, RunKind::backfill})
    EXPECT_EQ(parse_run_kind(to_string(kind)), kind);
  for (const RunPhase phase : {RunPhase::producing, RunPhase::draining, RunPhase::finished})
    EXPECT_EQ(parse_run_phase(to_string(phase)), phase);
  EXPECT_FALSE(parse_run_kind("Scheduled").has_value());
  EXPECT_FALSE(parse_run_phase("").has_value());
}

TEST_F(RunStateTest, CreatesTheStateDirectoryAndFile) {
  const fs::path nested = dir_.path() / "a" / "b";
  SqliteRunState state(nested);
  EXPECT_EQ(SqliteRunState::file_in(nested), nested / "state.sqlite");
  EXPECT_TRUE(fs::exists(nested / "state.sqlite"));
  EXPECT_FALSE(state.run("nothing").has_value());
  EXPECT_FALSE(state.newest_unfinished().has_value());
  EXPECT_TRUE(state.recent_runs(10).empty());
}

// A file of schema 1 (before leases, the checkpoints' table and the billed work) is upgraded
// in place on open, its runs and checkpoints kept; a checkpoint saved before schema 3 names no
// table, and a run counted before schema 4 has billed no work yet.
TEST_F(RunStateTest, ASchemaOneFileIsUpgraded) {
  {
    SqliteRunState state(dir_.path());
    state.start_run("old", RunKind::scheduled, at_ms(1));
    state.add_counts("old", some_counts());
    state.save_checkpoint("old", ScanCheckpoint{0, 1, "k1", false, 1, 1, "local://items"});
  }
  {
    sqlite::Database db(SqliteRunState::file_in(dir_.path()), milliseconds(1000));
    db.exec(
        "ALTER TABLE runs DROP COLUMN lease_owner; ALTER TABLE runs DROP COLUMN lease_until; "
        "ALTER TABLE checkpoints DROP COLUMN table_uri; ALTER TABLE runs DROP COLUMN comprehend_units; "
        "ALTER TABLE runs DROP COLUMN scan_read_units; ALTER TABLE runs DROP COLUMN pages; "
        "ALTER TABLE runs DROP COLUMN sqs_requests; ALTER TABLE runs DROP COLUMN batches; "
        "ALTER TABLE runs DROP COLUMN batch_ms; ALTER TABLE runs DROP COLUMN objects; ALTER TABLE runs DROP COLUMN "
        "unchanged_comprehend_units; ALTER TABLE runs DROP COLUMN producer_ms; ALTER TABLE runs DROP COLUMN "
        "unchanged; DROP TABLE fingerprints; "
        "PRAGMA user_version=1");
  }
  SqliteRunState state(dir_.path());
  EXPECT_EQ(state.run("old")->counts.scanned, some_counts().scanned);
  EXPECT_EQ(state.run("old")->counts.work.comprehend_units, 0);
  RunCounts more;
  more.work.objects = 3;
  state.add_counts("old", more);
  EXPECT_EQ(state.run("old")->counts.work.objects, 3);
  state.record_fingerprints({{"k", "f"}});
  EXPECT_EQ(state.fingerprints({"k"}).at("k"), "f");
  ASSERT_EQ(state.checkpoints("old").size(), 1u);
  EXPECT_EQ(state.checkpoints("old")[0].token, "k1");
  EXPECT_EQ(state.checkpoints("old")[0].table, "");
  state.save_checkpoint("old", ScanCheckpoint{0, 1, "k2", false, 2, 2, "local://items"});
  EXPECT_EQ(state.checkpoints("old")[0].table, "local://items");
  EXPECT_TRUE(state.acquire_producer_lease("old", "p1", at_ms(1), at_ms(10)));
  EXPECT_FALSE(state.acquire_producer_lease("old", "p2", at_ms(2), at_ms(10)));
  SqliteRunState again(dir_.path());  // an upgraded file opens as it is
  EXPECT_FALSE(again.acquire_producer_lease("old", "p2", at_ms(3), at_ms(10)));
}

// Fingerprints are held in memory and written in key order (sqlite_run_state.h): once enough
// are waiting, and when the state is closed; another connection then reads them.
// A file of schema 4 (this release's first, before the unchanged texts' units and the
// producer's time) opens: its two columns are added, its fingerprints kept.
TEST_F(RunStateTest, ASchemaFourFileIsUpgraded) {
  {
    SqliteRunState state(dir_.path());
    state.start_run("r", RunKind::manual, at_ms(1));
    state.record_fingerprints({{"k", "f"}});
  }
  {
    sqlite::Database db(SqliteRunState::file_in(dir_.path()), milliseconds(1000));
    db.exec(
        "ALTER TABLE runs DROP COLUMN unchanged_comprehend_units; ALTER TABLE runs DROP COLUMN producer_ms; "
        "PRAGMA user_version=4");
  }
  SqliteRunState state(dir_.path());
  RunCounts more;
  more.work.producer_ms = 7;
  state.add_counts("r", more);
  EXPECT_EQ(state.run("r")->counts.work.producer_ms, 7);
  EXPECT_EQ(state.fingerprints({"k"}).at("k"), "f");
}

TEST_F(RunStateTest, HeldFingerprintsAreWrittenWhenManyWaitAndWhenClosed) {
  {
    SqliteRunState state(dir_.path());
    state.record_fingerprints({{"a", "fa"}});
    SqliteRunState other(dir_.path());
    EXPECT_TRUE(other.fingerprints({"a"}).empty());  // held by the first
    EXPECT_EQ(state.fingerprints({"a"}).at("a"), "fa");
  }
  SqliteRunState reopened(dir_.path());
  EXPECT_EQ(reopened.fingerprints({"a"}).at("a"), "fa");

  std::map<std::string, std::string> many;
  for (int i = 0; i < 250'000; ++i) many[std::to_string(i)] = "f";
  reopened.record_fingerprints(many);
  SqliteRunState other(dir_.path());
  EXPECT_EQ(other.fingerprints({"0", "249999"}).size(), 2u);  // written without waiting for the close
}

TEST_F(RunStateTest, AFileThatIsNotAStateFileIsInvalidInput) {
  {
    std::ofstream out(SqliteRunState::file_in(dir_.path()), std::ios::binary);
    out << std::string(8192, 'x');
  }
  EXPECT_EQ(error_of([&] { SqliteRunState state(dir_.path()); }), ErrorCode::invalid_input);
}

TEST_F(RunStateTest, AnotherSqliteFileIsInvalidInput) {
  {
    sqlite::Database db(SqliteRunState::file_in(dir_.path()), milliseconds(1000));
    db.exec("CREATE TABLE theirs(x)");
  }
  std::string message;
  EXPECT_EQ(error_of([&] { SqliteRunState state(dir_.path()); }, &message), ErrorCode::invalid_input);
  EXPECT_NE(message.find("not a sentiflow run state file"), std::string::npos) << message;
}

TEST_F(RunStateTest, ANewerSchemaIsInvalidInputNamingTheVersion) {
  { SqliteRunState state(dir_.path()); }
  {
    sqlite::Database db(SqliteRunState::file_in(dir_.path()), milliseconds(1000));
    db.exec("PRAGMA user_version=99");
  }
  std::string message;
  EXPECT_EQ(error_of([&] { SqliteRunState state(dir_.path()); }, &message), ErrorCode::invalid_input);
  EXPECT_NE(message.find("99"), std::string::npos) << message;
}

TEST_F(RunStateTest, SchedulerLockIsExclusiveWithinTheProcess) {
  const fs::path state_dir = dir_.path() / "new";
  auto first = SchedulerLock::try_acquire(state_dir);
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(fs::exists(state_dir / "scheduler.lock"));
  EXPECT_EQ(SchedulerLock::try_acquire(state_dir), nullptr);
  EXPECT_EQ(SchedulerLock::try_acquire(state_dir), nullptr);
  first.reset();
  auto again = SchedulerLock::try_acquire(state_dir);
  EXPECT_NE(again, nullptr);
}

// A forked child that holds the lock until the test kills it.
class LockHolder {
 public:
  explicit LockHolder(const fs::path& state_dir) {
    if (::pipe(ready_) != 0 || ::pipe(hold_) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::close(ready_[0]);
      ::close(hold_[1]);
      int status = 1;
      try {
        auto lock = SchedulerLock::try_acquire(state_dir);
        status = lock != nullptr ? 0 : 2;
        const char byte = static_cast<char>(status);
        if (::write(ready_[1], &byte, 1) != 1) ::_exit(3);
        char ignored = 0;
        while (::read(hold_[0], &ignored, 1) < 0 && errno == EINTR) {}
      } catch (...) {}
      ::_exit(status);
    }
    ::close(ready_[1]);
    ::close(hold_[0]);
  }
  ~LockHolder() {
    kill_hard();
    ::close(ready_[0]);
    ::close(hold_[1]);
  }
  LockHolder(const LockHolder&) = delete;
  LockHolder& operator=(const LockHolder&) = delete;

  // True when the child reports that it holds the lock.
  bool wait_until_held() {
    char byte = 1;
    ssize_t n = 0;
    while ((n = ::read(ready_[0], &byte, 1)) < 0 && errno == EINTR) {}
    return n == 1 && byte == 0;
  }

  void kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
    pid_ = -1;
  }

 private:
  int ready_[2] = {-1, -1};
  int hold_[2] = {-1, -1};
  pid_t pid_ = -1;
};

TEST_F(RunStateTest, SchedulerLockIsExclusiveAcrossProcessesAndFreedWhenTheHolderIsKilled) {
  LockHolder holder(dir_.path());
  ASSERT_TRUE(holder.wait_until_held());
  EXPECT_EQ(SchedulerLock::try_acquire(dir_.path()), nullptr);
  holder.kill_hard();
  std::unique_ptr<SchedulerLock> lock;
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (!(lock = SchedulerLock::try_acquire(dir_.path())) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_NE(lock, nullptr);
}

TEST_F(RunStateTest, SchedulerLockOnAnUnusablePathIsInvalidInput) {
  const fs::path file = dir_.path() / "a-file";
  { std::ofstream(file) << "x"; }
  EXPECT_EQ(error_of([&] { SchedulerLock::try_acquire(file / "state"); }), ErrorCode::invalid_input);
}

}  // namespace
}  // namespace sentiflow
