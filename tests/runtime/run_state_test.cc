// RunState and SchedulerLock: runs, checkpoints, ticks and timelines in state.sqlite, shared by
// connections and threads; the scheduler's lock within a process and across processes.
#include "runtime/run_state.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "sqlite/sqlite.h"
#include "support/temp_dir.h"

namespace sentiflow::runtime {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

class TempDir : public testing_support::TempDir {
 public:
  TempDir() : testing_support::TempDir("runtime") {}
};

Millis at_ms(int64_t ms) { return Millis(milliseconds(ms)); }
Seconds at_s(int64_t s) { return Seconds(seconds(s)); }

// The code of the Error that `f` throws; fails the test when it throws none.
template <typename F>
std::optional<ErrorCode> error_of(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message != nullptr) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "no Error thrown";
  return std::nullopt;
}

bool same_counts(const RunCounts& a, const RunCounts& b) {
  return a.scanned == b.scanned && a.sent == b.sent && a.producer_errors == b.producer_errors &&
         a.processed == b.processed && a.failed == b.failed && a.dead_letters == b.dead_letters && a.labels == b.labels;
}

void expect_same(const RunRecord& a, const RunRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.phase, b.phase);
  EXPECT_EQ(a.attempt, b.attempt);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.produced_at, b.produced_at);
  EXPECT_EQ(a.finished_at, b.finished_at);
  EXPECT_TRUE(same_counts(a.counts, b.counts));
}

RunCounts some_counts() {
  RunCounts c;
  c.scanned = 10;
  c.sent = 9;
  c.producer_errors = 1;
  c.processed = 7;
  c.failed = 2;
  c.dead_letters = 1;
  c.labels = {{"POSITIVE", 4}, {"NEGATIVE", 3}};
  return c;
}

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

TEST_F(RunStateTest, CreatesTheStateDirectoryAndFile) {
  const fs::path nested = dir_.path() / "a" / "b";
  RunState state(nested);
  EXPECT_EQ(RunState::file_in(nested), nested / "state.sqlite");
  EXPECT_TRUE(fs::exists(nested / "state.sqlite"));
  EXPECT_FALSE(state.run("nothing").has_value());
  EXPECT_FALSE(state.newest_unfinished().has_value());
  EXPECT_TRUE(state.recent_runs(10).empty());
}

TEST_F(RunStateTest, StartRunCreatesAttemptOne) {
  RunState state(dir_.path());
  const RunRecord r = state.start_run("2026-01-01T10:00:00Z", RunKind::scheduled, at_ms(1'000));
  EXPECT_EQ(r.id, "2026-01-01T10:00:00Z");
  EXPECT_EQ(r.kind, RunKind::scheduled);
  EXPECT_EQ(r.phase, RunPhase::producing);
  EXPECT_EQ(r.attempt, 1);
  EXPECT_EQ(r.started_at, at_ms(1'000));
  EXPECT_FALSE(r.produced_at.has_value());
  EXPECT_FALSE(r.finished_at.has_value());
  EXPECT_TRUE(same_counts(r.counts, RunCounts{}));
  const auto read = state.run(r.id);
  ASSERT_TRUE(read.has_value());
  expect_same(*read, r);
}

TEST_F(RunStateTest, StartRunRefusesAnEmptyId) {
  RunState state(dir_.path());
  EXPECT_EQ(error_of([&] { state.start_run("", RunKind::manual, at_ms(1)); }), ErrorCode::invalid_input);
}

TEST_F(RunStateTest, StartRunResumesAnUnfinishedRunUnchanged) {
  RunState state(dir_.path());
  state.start_run("r", RunKind::scheduled, at_ms(1'000));
  state.add_counts("r", some_counts());
  state.save_checkpoint("r", Checkpoint{0, 1, "tok", false, 10, 9});
  state.mark_produced("r", at_ms(2'000));
  const RunRecord before = *state.run("r");
  const RunRecord resumed = state.start_run("r", RunKind::backfill, at_ms(5'000));
  expect_same(resumed, before);
  EXPECT_EQ(resumed.kind, RunKind::scheduled);
  EXPECT_EQ(resumed.phase, RunPhase::draining);
  EXPECT_EQ(state.checkpoints("r").size(), 1u);
}

TEST_F(RunStateTest, StartRunStartsAFinishedRunAgain) {
  RunState state(dir_.path());
  state.start_run("r", RunKind::scheduled, at_ms(1'000));
  state.add_counts("r", some_counts());
  state.save_checkpoint("r", Checkpoint{0, 2, "tok", true, 10, 9});
  state.record_timeline("r", TimelinePoint{at_s(1), R"({"sent":9})"});
  state.mark_produced("r", at_ms(2'000));
  state.mark_finished("r", at_ms(3'000));

  const RunRecord again = state.start_run("r", RunKind::backfill, at_ms(10'000));
  EXPECT_EQ(again.attempt, 2);
  EXPECT_EQ(again.kind, RunKind::backfill);
  EXPECT_EQ(again.phase, RunPhase::producing);
  EXPECT_EQ(again.started_at, at_ms(10'000));
  EXPECT_FALSE(again.produced_at.has_value());
  EXPECT_FALSE(again.finished_at.has_value());
  EXPECT_TRUE(same_counts(again.counts, RunCounts{}));
  EXPECT_TRUE(state.checkpoints("r").empty());
  EXPECT_TRUE(state.timeline("r").empty());
  expect_same(*state.run("r"), again);

  // The re-run counts from zero, and a third start after it finishes is attempt 3.
  RunCounts one;
  one.processed = 1;
  one.labels = {{"NEUTRAL", 1}};
  state.add_counts("r", one);
  EXPECT_TRUE(same_counts(state.run("r")->counts, one));
  state.mark_finished("r", at_ms(11'000));
  EXPECT_EQ(state.start_run("r", RunKind::manual, at_ms(12'000)).attempt, 3);
}

TEST_F(RunStateTest, AddCountsAddsAndMergesLabels) {
  RunState state(dir_.path());
  state.start_run("r", RunKind::manual, at_ms(1));
  state.add_counts("r", some_counts());
  RunCounts more;
  more.sent = 1;
  more.failed = 3;
  more.labels = {{"POSITIVE", 2}, {"NEUTRAL", 5}};
  state.add_counts("r", more);
  RunCounts expected = some_counts();
  expected += more;
  EXPECT_TRUE(same_counts(state.run("r")->counts, expected));
  EXPECT_EQ(state.run("r")->counts.labels.at("POSITIVE"), 6);
}

TEST_F(RunStateTest, AddCountsToAnUnknownRunIsNotFound) {
  RunState state(dir_.path());
  EXPECT_EQ(error_of([&] { state.add_counts("nope", some_counts()); }), ErrorCode::not_found);
  // Nothing of it stays behind: a run started later has no labels.
  state.start_run("nope", RunKind::manual, at_ms(1));
  EXPECT_TRUE(state.run("nope")->counts.labels.empty());
}

// Four threads on two connections to one file: every add counts exactly once.
TEST_F(RunStateTest, AddCountsFromFourThreadsSumsExactly) {
  RunState a(dir_.path());
  RunState b(dir_.path());
  a.start_run("r", RunKind::manual, at_ms(1));
  constexpr int kThreads = 4;
  constexpr int kCalls = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RunState& state = t % 2 == 0 ? a : b;
      RunCounts delta;
      delta.scanned = 1;
      delta.processed = 2;
      delta.labels = {{t % 2 == 0 ? "POSITIVE" : "NEGATIVE", 1}, {"ALL", 1}};
      for (int i = 0; i < kCalls; ++i) state.add_counts("r", delta);
    });
  }
  for (auto& thread : threads) thread.join();
  const RunCounts counts = b.run("r")->counts;
  EXPECT_EQ(counts.scanned, kThreads * kCalls);
  EXPECT_EQ(counts.processed, 2 * kThreads * kCalls);
  EXPECT_EQ(counts.labels, (std::map<std::string, int64_t>{
                               {"ALL", kThreads * kCalls}, {"NEGATIVE", 2 * kCalls}, {"POSITIVE", 2 * kCalls}}));
}

TEST_F(RunStateTest, MarkProducedThenFinished) {
  RunState state(dir_.path());
  state.start_run("r", RunKind::manual, at_ms(1));
  state.mark_produced("r", at_ms(2));
  auto r = *state.run("r");
  EXPECT_EQ(r.phase, RunPhase::draining);
  EXPECT_EQ(r.produced_at, at_ms(2));
  EXPECT_FALSE(r.finished_at.has_value());
  state.mark_finished("r", at_ms(3));
  r = *state.run("r");
  EXPECT_EQ(r.phase, RunPhase::finished);
  EXPECT_EQ(r.produced_at, at_ms(2));
  EXPECT_EQ(r.finished_at, at_ms(3));
}

TEST_F(RunStateTest, MarkProducedDoesNotMoveAFinishedRunBack) {
  RunState state(dir_.path());
  state.start_run("r", RunKind::manual, at_ms(1));
  state.mark_produced("r", at_ms(2));
  state.mark_finished("r", at_ms(3));
  state.mark_produced("r", at_ms(4));
  const auto r = *state.run("r");
  EXPECT_EQ(r.phase, RunPhase::finished);
  EXPECT_EQ(r.produced_at, at_ms(2));
  EXPECT_EQ(r.finished_at, at_ms(3));
}

TEST_F(RunStateTest, MarkFinishedTwiceKeepsTheFirstTime) {
  RunState state(dir_.path());
  state.start_run("r", RunKind::manual, at_ms(1));
  state.mark_finished("r", at_ms(5));
  state.mark_finished("r", at_ms(9));
  EXPECT_EQ(state.run("r")->finished_at, at_ms(5));
}

TEST_F(RunStateTest, WritesToAnUnknownRunAreNotFound) {
  RunState state(dir_.path());
  EXPECT_EQ(error_of([&] { state.mark_produced("x", at_ms(1)); }), ErrorCode::not_found);
  EXPECT_EQ(error_of([&] { state.mark_finished("x", at_ms(1)); }), ErrorCode::not_found);
  EXPECT_EQ(error_of([&] { state.save_checkpoint("x", Checkpoint{}); }), ErrorCode::not_found);
  EXPECT_EQ(error_of([&] { state.record_timeline("x", TimelinePoint{at_s(1), "{}"}); }), ErrorCode::not_found);
  EXPECT_FALSE(state.run("x").has_value());
  EXPECT_TRUE(state.checkpoints("x").empty());
  EXPECT_TRUE(state.timeline("x").empty());
}

TEST_F(RunStateTest, NewestUnfinishedByStartedAtThenId) {
  RunState state(dir_.path());
  state.start_run("old", RunKind::scheduled, at_ms(100));
  state.start_run("newest-finished", RunKind::manual, at_ms(900));
  state.mark_finished("newest-finished", at_ms(901));
  state.start_run("b", RunKind::scheduled, at_ms(500));
  state.start_run("a", RunKind::scheduled, at_ms(500));
  EXPECT_EQ(state.newest_unfinished()->id, "b");  // a tie on started_at: the greater id
  state.mark_produced("b", at_ms(600));           // draining is unfinished too
  EXPECT_EQ(state.newest_unfinished()->id, "b");
  state.mark_finished("b", at_ms(601));
  EXPECT_EQ(state.newest_unfinished()->id, "a");
  state.mark_finished("a", at_ms(602));
  EXPECT_EQ(state.newest_unfinished()->id, "old");
  state.mark_finished("old", at_ms(603));
  EXPECT_FALSE(state.newest_unfinished().has_value());
}

TEST_F(RunStateTest, RecentRunsNewestFirstUpToTheLimit) {
  RunState state(dir_.path());
  state.start_run("r1", RunKind::scheduled, at_ms(100));
  state.start_run("r3", RunKind::scheduled, at_ms(300));
  state.start_run("r2", RunKind::manual, at_ms(200));
  RunCounts c;
  c.labels = {{"POSITIVE", 1}};
  state.add_counts("r2", c);
  const auto all = state.recent_runs(10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, "r3");
  EXPECT_EQ(all[1].id, "r2");
  EXPECT_EQ(all[1].kind, RunKind::manual);
  EXPECT_EQ(all[1].counts.labels, c.labels);
  EXPECT_EQ(all[2].id, "r1");
  const auto two = state.recent_runs(2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].id, "r2");
  EXPECT_TRUE(state.recent_runs(0).empty());
}

TEST_F(RunStateTest, CheckpointsReplacePerSegmentInSegmentOrder) {
  RunState state(dir_.path());
  state.start_run("r", RunKind::manual, at_ms(1));
  state.start_run("other", RunKind::manual, at_ms(1));
  state.save_checkpoint("r", Checkpoint{2, 3, "t2", false, 5, 5});
  state.save_checkpoint("r", Checkpoint{0, 3, "t0", false, 1, 1});
  state.save_checkpoint("other", Checkpoint{0, 1, "x", true, 9, 9});
  state.save_checkpoint("r", Checkpoint{0, 3, "", true, 7, 6});
  const auto cps = state.checkpoints("r");
  ASSERT_EQ(cps.size(), 2u);
  EXPECT_EQ(cps[0].segment, 0);
  EXPECT_EQ(cps[0].total_segments, 3);
  EXPECT_EQ(cps[0].token, "");
  EXPECT_TRUE(cps[0].done);
  EXPECT_EQ(cps[0].scanned, 7);
  EXPECT_EQ(cps[0].sent, 6);
  EXPECT_EQ(cps[1].segment, 2);
  EXPECT_EQ(cps[1].token, "t2");
  EXPECT_FALSE(cps[1].done);
  EXPECT_EQ(cps[1].scanned, 5);
  ASSERT_EQ(state.checkpoints("other").size(), 1u);
  EXPECT_EQ(state.checkpoints("other")[0].token, "x");
}

TEST_F(RunStateTest, LastTickAndSkippedTicksPersist) {
  {
    RunState state(dir_.path());
    EXPECT_FALSE(state.last_tick().has_value());
    EXPECT_EQ(state.skipped_ticks(), 0);
    state.set_last_tick(at_s(1'767'261'600));
    state.set_last_tick(at_s(1'767'265'200));
    state.add_skipped_tick();
    state.add_skipped_tick();
  }
  RunState state(dir_.path());
  EXPECT_EQ(state.last_tick(), at_s(1'767'265'200));
  EXPECT_EQ(state.skipped_ticks(), 2);
}

TEST_F(RunStateTest, TimelineOldestFirstAndReplacedAtTheSameSecond) {
  RunState state(dir_.path());
  state.start_run("r", RunKind::manual, at_ms(1));
  state.start_run("other", RunKind::manual, at_ms(1));
  state.record_timeline("r", TimelinePoint{at_s(30), R"({"sent":3})"});
  state.record_timeline("r", TimelinePoint{at_s(10), R"({"sent":1})"});
  state.record_timeline("other", TimelinePoint{at_s(20), R"({"sent":0})"});
  state.record_timeline("r", TimelinePoint{at_s(20), R"({"sent":2})"});
  state.record_timeline("r", TimelinePoint{at_s(10), R"({"sent":1.5})"});
  const auto points = state.timeline("r");
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0].at, at_s(10));
  EXPECT_EQ(points[0].json, R"({"sent":1.5})");
  EXPECT_EQ(points[1].at, at_s(20));
  EXPECT_EQ(points[1].json, R"({"sent":2})");
  EXPECT_EQ(points[2].at, at_s(30));
  EXPECT_EQ(state.timeline("other").size(), 1u);
}

TEST_F(RunStateTest, TwoObjectsOnOneDirectorySeeEachOthersWrites) {
  RunState a(dir_.path());
  RunState b(dir_.path());
  a.start_run("r", RunKind::scheduled, at_ms(1));
  ASSERT_TRUE(b.run("r").has_value());
  b.add_counts("r", some_counts());
  EXPECT_TRUE(same_counts(a.run("r")->counts, some_counts()));
  b.save_checkpoint("r", Checkpoint{0, 1, "t", false, 1, 1});
  EXPECT_EQ(a.checkpoints("r").at(0).token, "t");
  a.record_timeline("r", TimelinePoint{at_s(5), "{}"});
  EXPECT_EQ(b.timeline("r").size(), 1u);
  b.set_last_tick(at_s(60));
  EXPECT_EQ(a.last_tick(), at_s(60));
  a.add_skipped_tick();
  b.add_skipped_tick();
  EXPECT_EQ(b.skipped_ticks(), 2);
  a.mark_produced("r", at_ms(2));
  EXPECT_EQ(b.newest_unfinished()->phase, RunPhase::draining);
  b.mark_finished("r", at_ms(3));
  EXPECT_FALSE(a.newest_unfinished().has_value());
  EXPECT_EQ(a.recent_runs(5).at(0).finished_at, at_ms(3));
}

TEST_F(RunStateTest, AFileThatIsNotAStateFileIsInvalidInput) {
  {
    std::ofstream out(RunState::file_in(dir_.path()), std::ios::binary);
    out << std::string(8192, 'x');
  }
  EXPECT_EQ(error_of([&] { RunState state(dir_.path()); }), ErrorCode::invalid_input);
}

TEST_F(RunStateTest, AnotherSqliteFileIsInvalidInput) {
  {
    sqlite::Database db(RunState::file_in(dir_.path()), milliseconds(1000));
    db.exec("CREATE TABLE theirs(x)");
  }
  std::string message;
  EXPECT_EQ(error_of([&] { RunState state(dir_.path()); }, &message), ErrorCode::invalid_input);
  EXPECT_NE(message.find("not a sentiflow run state file"), std::string::npos) << message;
}

TEST_F(RunStateTest, ANewerSchemaIsInvalidInputNamingTheVersion) {
  { RunState state(dir_.path()); }
  {
    sqlite::Database db(RunState::file_in(dir_.path()), milliseconds(1000));
    db.exec("PRAGMA user_version=99");
  }
  std::string message;
  EXPECT_EQ(error_of([&] { RunState state(dir_.path()); }, &message), ErrorCode::invalid_input);
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
        while (::read(hold_[0], &ignored, 1) < 0 && errno == EINTR) {
        }
      } catch (...) {
      }
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
    while ((n = ::read(ready_[0], &byte, 1)) < 0 && errno == EINTR) {
    }
    return n == 1 && byte == 0;
  }

  void kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
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
}  // namespace sentiflow::runtime
