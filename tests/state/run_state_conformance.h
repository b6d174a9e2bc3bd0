// The RunState contract (runtime/run_state.h), one typed test suite for every implementation:
// runs (start, resume, restart, keep), counts (atomic under threads), phases, the producer
// lease, owner-checked checkpoints (dropped when a run finishes), scheduler ticks (claims
// racing on threads) and timelines.
//
// An implementation's test file instantiates it with a Store type:
//
//   struct Store {
//     static void set_up_suite();                // once per suite (e.g. start moto)
//     static void tear_down_suite();
//     static std::string skip_reason();          // non-empty: the suite is skipped
//     static constexpr int kConcurrentCalls;     // calls per thread in the concurrency tests
//     Store();                                   // a fresh, empty store
//     std::unique_ptr<RunState> open();          // another RunState object on that store
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Name, RunStateConformance, ::testing::Types<Store>);
#pragma once

#include <gtest/gtest.h>

#include <barrier>
#include <chrono>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "state/run_state.h"

namespace sentiflow::conformance {

inline Millis at_ms(int64_t ms) { return Millis(std::chrono::milliseconds(ms)); }
inline Seconds at_s(int64_t s) { return Seconds(std::chrono::seconds(s)); }

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

inline bool same_counts(const RunCounts& a, const RunCounts& b) {
  return a.scanned == b.scanned && a.sent == b.sent && a.producer_errors == b.producer_errors &&
         a.processed == b.processed && a.failed == b.failed && a.dead_letters == b.dead_letters &&
         a.unchanged == b.unchanged && a.labels == b.labels && a.work == b.work;
}

inline void expect_same(const RunRecord& a, const RunRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.phase, b.phase);
  EXPECT_EQ(a.attempt, b.attempt);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.produced_at, b.produced_at);
  EXPECT_EQ(a.finished_at, b.finished_at);
  EXPECT_TRUE(same_counts(a.counts, b.counts));
}

inline RunCounts some_counts() {
  RunCounts c;
  c.scanned = 10;
  c.sent = 9;
  c.producer_errors = 1;
  c.processed = 7;
  c.failed = 2;
  c.dead_letters = 1;
  c.unchanged = 5;
  c.labels = {{"POSITIVE", 4}, {"NEGATIVE", 3}};
  c.work = {.comprehend_units = 30,
            .scan_read_units = 3,
            .pages = 1,
            .sqs_requests = 4,
            .batches = 1,
            .batch_ms = 250,
            .objects = 2};
  return c;
}

// Runs f(0) .. f(n - 1) on n threads released together, so that their calls overlap.
template <typename F>
void on_threads(int n, F&& f) {
  std::latch start(n);
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t)
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      f(t);
    });
  for (auto& thread : threads) thread.join();
}

template <typename Store>
class RunStateConformance : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Store::set_up_suite(); }
  static void TearDownTestSuite() { Store::tear_down_suite(); }

  void SetUp() override {
    if (const std::string why = Store::skip_reason(); !why.empty()) GTEST_SKIP() << why;
    store_ = std::make_unique<Store>();
    state_ = store_->open();
  }

  RunState& state() { return *state_; }
  // Another object on the same store: another process, as far as the contract goes.
  std::unique_ptr<RunState> another() { return store_->open(); }

  // A run that went through producing and draining to finished, with a checkpoint, a
  // timeline point, counts and a released lease.
  void finished_run(const std::string& id) {
    state().start_run(id, RunKind::scheduled, at_ms(1'000));
    state().add_counts(id, some_counts());
    ASSERT_TRUE(state().acquire_producer_lease(id, "p1", at_ms(1'000), at_ms(60'000)));
    state().save_checkpoint(id, ScanCheckpoint{0, 2, "tok", true, 10, 9}, "p1");
    state().record_timeline(id, TimelinePoint{at_s(1), R"({"sent":9})"});
    state().mark_produced(id, at_ms(2'000));
    state().mark_finished(id, at_ms(3'000));
    state().release_producer_lease(id, "p1");
  }

  std::unique_ptr<Store> store_;
  std::unique_ptr<RunState> state_;
};

TYPED_TEST_SUITE_P(RunStateConformance);

TYPED_TEST_P(RunStateConformance, AnEmptyStoreHasNothing) {
  EXPECT_FALSE(this->state().run("nothing").has_value());
  EXPECT_FALSE(this->state().newest_unfinished().has_value());
  EXPECT_TRUE(this->state().recent_runs(10).empty());
  EXPECT_TRUE(this->state().checkpoints("nothing").empty());
  EXPECT_TRUE(this->state().timeline("nothing").empty());
  EXPECT_FALSE(this->state().last_tick().has_value());
  EXPECT_EQ(this->state().skipped_ticks(), 0);
}

TYPED_TEST_P(RunStateConformance, StartRunCreatesAttemptOne) {
  RunState& state = this->state();
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
  EXPECT_EQ(error_of([&] { state.start_run("", RunKind::manual, at_ms(1)); }), ErrorCode::invalid_input);
}

TYPED_TEST_P(RunStateConformance, StartRunResumesAnUnfinishedRunUnchanged) {
  RunState& state = this->state();
  state.start_run("r", RunKind::scheduled, at_ms(1'000));
  state.add_counts("r", some_counts());
  state.save_checkpoint("r", ScanCheckpoint{0, 1, "tok", false, 10, 9});
  state.mark_produced("r", at_ms(2'000));
  const RunRecord before = *state.run("r");
  for (const IfFinished if_finished : {IfFinished::restart, IfFinished::keep}) {
    const RunRecord resumed = state.start_run("r", RunKind::backfill, at_ms(5'000), if_finished);
    expect_same(resumed, before);
    EXPECT_EQ(resumed.kind, RunKind::scheduled);
    EXPECT_EQ(resumed.phase, RunPhase::draining);
  }
  EXPECT_EQ(state.checkpoints("r").size(), 1u);
}

TYPED_TEST_P(RunStateConformance, StartRunRestartsAFinishedRun) {
  RunState& state = this->state();
  this->finished_run("r");
  // More timeline points than one DynamoDB transaction deletes.
  for (int s = 2; s < 40; ++s) state.record_timeline("r", TimelinePoint{at_s(s), "{}"});
  ASSERT_TRUE(state.acquire_producer_lease("r", "p2", at_ms(3'000), at_ms(90'000)));

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
  // The lease went with the old attempt: a new producer takes it at once.
  EXPECT_TRUE(state.acquire_producer_lease("r", "p3", at_ms(10'000), at_ms(20'000)));

  // The re-run counts from zero, and a third start after it finishes is attempt 3.
  RunCounts one;
  one.processed = 1;
  one.labels = {{"NEUTRAL", 1}};
  state.add_counts("r", one);
  EXPECT_TRUE(same_counts(state.run("r")->counts, one));
  state.mark_finished("r", at_ms(11'000));
  EXPECT_EQ(state.start_run("r", RunKind::manual, at_ms(12'000)).attempt, 3);
}

TYPED_TEST_P(RunStateConformance, StartRunKeepReturnsAFinishedRunUnchanged) {
  RunState& state = this->state();
  this->finished_run("r");
  const RunRecord before = *state.run("r");
  const RunRecord kept = state.start_run("r", RunKind::scheduled, at_ms(10'000), IfFinished::keep);
  expect_same(kept, before);
  EXPECT_EQ(kept.phase, RunPhase::finished);
  EXPECT_EQ(kept.attempt, 1);
  expect_same(*state.run("r"), before);
  EXPECT_TRUE(state.checkpoints("r").empty());  // mark_finished dropped them
  EXPECT_EQ(state.timeline("r").size(), 1u);
}

TYPED_TEST_P(RunStateConformance, MarkFinishedDropsTheRunsCheckpointsOnly) {
  RunState& state = this->state();
  state.start_run("r", RunKind::scheduled, at_ms(1));
  state.start_run("other", RunKind::scheduled, at_ms(1));
  for (int segment = 0; segment < 3; ++segment) {
    state.save_checkpoint("r", ScanCheckpoint{segment, 3, "t", true, 1, 1});
    state.save_checkpoint("other", ScanCheckpoint{segment, 3, "t", false, 1, 1});
  }
  state.record_timeline("r", TimelinePoint{at_s(5), "{}"});
  state.mark_produced("r", at_ms(2));
  state.mark_finished("r", at_ms(3));
  EXPECT_TRUE(state.checkpoints("r").empty());
  EXPECT_TRUE(this->another()->checkpoints("r").empty());
  EXPECT_EQ(state.checkpoints("other").size(), 3u);
  EXPECT_EQ(state.timeline("r").size(), 1u);
  EXPECT_EQ(state.run("r")->finished_at, at_ms(3));
  state.mark_finished("r", at_ms(4));  // again: nothing left to drop, the first time kept
  EXPECT_EQ(state.run("r")->finished_at, at_ms(3));
  // A restart saves its own checkpoints as before.
  EXPECT_EQ(state.start_run("r", RunKind::backfill, at_ms(5)).attempt, 2);
  state.save_checkpoint("r", ScanCheckpoint{0, 1, "again", false, 1, 1});
  EXPECT_EQ(state.checkpoints("r").at(0).token, "again");
}

// Duplicate ticks racing: two objects (two processes), many ids, each started by both at once.
TYPED_TEST_P(RunStateConformance, RacingStartsOfOneIdGiveOneRun) {
  auto other = this->another();
  constexpr int kIds = 8;
  std::vector<RunRecord> got[2];
  on_threads(2, [&](int t) {
    RunState& state = t == 0 ? this->state() : *other;
    for (int i = 0; i < kIds; ++i)
      got[t].push_back(
          state.start_run("run-" + std::to_string(i), RunKind::scheduled, at_ms(1'000 + 10 * t), IfFinished::keep));
  });
  for (int i = 0; i < kIds; ++i) {
    SCOPED_TRACE(i);
    expect_same(got[0][i], got[1][i]);  // the loser resumed the winner's run
    EXPECT_EQ(got[0][i].attempt, 1);
    expect_same(*this->state().run(got[0][i].id), got[0][i]);
  }
  EXPECT_EQ(this->state().recent_runs(100).size(), static_cast<size_t>(kIds));
}

// Two backfills of one finished run at once: one restarts it, the other resumes that attempt.
TYPED_TEST_P(RunStateConformance, RacingRestartsOfAFinishedRunGiveOneAttempt) {
  this->finished_run("r");
  auto other = this->another();
  RunRecord got[2];
  on_threads(2, [&](int t) {
    RunState& state = t == 0 ? this->state() : *other;
    got[t] = state.start_run("r", RunKind::backfill, at_ms(10'000 + t), IfFinished::restart);
  });
  expect_same(got[0], got[1]);
  EXPECT_EQ(got[0].attempt, 2);
  EXPECT_EQ(this->state().run("r")->attempt, 2);
}

TYPED_TEST_P(RunStateConformance, AddCountsAddsAndMergesLabels) {
  RunState& state = this->state();
  state.start_run("r", RunKind::manual, at_ms(1));
  state.add_counts("r", some_counts());
  RunCounts more;
  more.sent = 1;
  more.failed = 3;
  more.labels = {{"POSITIVE", 2}, {"NEUTRAL", 5}};
  more.work.batch_ms = 1'000;
  more.work.objects = 1;
  state.add_counts("r", more);
  RunCounts expected = some_counts();
  expected += more;
  EXPECT_TRUE(same_counts(state.run("r")->counts, expected));
  EXPECT_EQ(state.run("r")->counts.labels.at("POSITIVE"), 6);
  EXPECT_EQ(state.run("r")->counts.work.batch_ms, 1'250);
  EXPECT_EQ(state.run("r")->counts.work.objects, 3);
}

// Incremental scans (docs/RUNNING.md): a key's fingerprint is recorded, replaced, and read back
// for many keys at once (more than one BatchGetItem and BatchWriteItem on DynamoDB).
TYPED_TEST_P(RunStateConformance, FingerprintsAreRecordedReplacedAndReadForManyKeys) {
  RunState& state = this->state();
  EXPECT_TRUE(state.fingerprints({"a", "b"}).empty());
  state.record_fingerprints({{"a", "fa"}, {"b", "fb"}});
  state.record_fingerprints({{"a", "fa2"}});
  EXPECT_EQ(state.fingerprints({"a", "b", "c"}), (std::map<std::string, std::string>{{"a", "fa2"}, {"b", "fb"}}));
  std::map<std::string, std::string> many;
  std::vector<std::string> keys;
  for (int i = 0; i < 230; ++i) {
    const std::string key = "key/" + std::to_string(i) + " with spaces";
    many[key] = "f" + std::to_string(i);
    keys.push_back(key);
  }
  state.record_fingerprints(many);
  keys.push_back("never");
  keys.push_back(keys.front());  // a page may name a key twice
  EXPECT_EQ(state.fingerprints(keys), many);
  state.record_fingerprints({});           // nothing to do
  const std::string long_key(2'048, 'k');  // the longest partition key DynamoDB takes
  state.record_fingerprints({{long_key, "long"}});
  EXPECT_EQ(state.fingerprints({long_key}).at(long_key), "long");
}

TYPED_TEST_P(RunStateConformance, AddCountsToAnUnknownRunIsNotFound) {
  RunState& state = this->state();
  EXPECT_EQ(error_of([&] { state.add_counts("nope", some_counts()); }), ErrorCode::not_found);
  // Nothing of it stays behind: a run started later has no counts.
  state.start_run("nope", RunKind::manual, at_ms(1));
  EXPECT_TRUE(same_counts(state.run("nope")->counts, RunCounts{}));
}

// Four threads on two objects: every add counts exactly once.
TYPED_TEST_P(RunStateConformance, AddCountsFromFourThreadsLosesNothing) {
  auto other = this->another();
  this->state().start_run("r", RunKind::manual, at_ms(1));
  constexpr int kThreads = 4;
  constexpr int kCalls = TypeParam::kConcurrentCalls;
  on_threads(kThreads, [&](int t) {
    RunState& state = t % 2 == 0 ? this->state() : *other;
    RunCounts delta;
    delta.scanned = 1;
    delta.processed = 2;
    delta.labels = {{t % 2 == 0 ? "POSITIVE" : "NEGATIVE", 1}, {"ALL", 1}};
    for (int i = 0; i < kCalls; ++i) state.add_counts("r", delta);
  });
  const RunCounts counts = other->run("r")->counts;
  EXPECT_EQ(counts.scanned, kThreads * kCalls);
  EXPECT_EQ(counts.processed, 2 * kThreads * kCalls);
  EXPECT_EQ(counts.labels, (std::map<std::string, int64_t>{
                               {"ALL", kThreads * kCalls}, {"NEGATIVE", 2 * kCalls}, {"POSITIVE", 2 * kCalls}}));
}

TYPED_TEST_P(RunStateConformance, MarkProducedThenFinished) {
  RunState& state = this->state();
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

TYPED_TEST_P(RunStateConformance, MarkProducedDoesNotMoveAFinishedRunBack) {
  RunState& state = this->state();
  state.start_run("r", RunKind::manual, at_ms(1));
  state.mark_produced("r", at_ms(2));
  state.mark_finished("r", at_ms(3));
  state.mark_produced("r", at_ms(4));
  const auto r = *state.run("r");
  EXPECT_EQ(r.phase, RunPhase::finished);
  EXPECT_EQ(r.produced_at, at_ms(2));
  EXPECT_EQ(r.finished_at, at_ms(3));
}

TYPED_TEST_P(RunStateConformance, MarkFinishedTwiceKeepsTheFirstTime) {
  RunState& state = this->state();
  state.start_run("r", RunKind::manual, at_ms(1));
  state.mark_finished("r", at_ms(5));
  state.mark_finished("r", at_ms(9));
  EXPECT_EQ(state.run("r")->finished_at, at_ms(5));
}

TYPED_TEST_P(RunStateConformance, WritesToAnUnknownRunAreNotFound) {
  RunState& state = this->state();
  EXPECT_EQ(error_of([&] { state.mark_produced("x", at_ms(1)); }), ErrorCode::not_found);
  EXPECT_EQ(error_of([&] { state.mark_finished("x", at_ms(1)); }), ErrorCode::not_found);
  EXPECT_EQ(error_of([&] { state.save_checkpoint("x", ScanCheckpoint{}); }), ErrorCode::not_found);
  EXPECT_EQ(error_of([&] { state.save_checkpoint("x", ScanCheckpoint{}, "p1"); }), ErrorCode::not_found);
  EXPECT_EQ(error_of([&] { state.record_timeline("x", TimelinePoint{at_s(1), "{}"}); }), ErrorCode::not_found);
  EXPECT_EQ(error_of([&] { state.acquire_producer_lease("x", "p1", at_ms(1), at_ms(2)); }), ErrorCode::not_found);
  state.release_producer_lease("x", "p1");  // a no-op
  EXPECT_FALSE(state.run("x").has_value());
  EXPECT_TRUE(state.checkpoints("x").empty());
  EXPECT_TRUE(state.timeline("x").empty());
}

TYPED_TEST_P(RunStateConformance, NewestUnfinishedByStartedAtThenId) {
  RunState& state = this->state();
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

TYPED_TEST_P(RunStateConformance, RecentRunsNewestFirstUpToTheLimit) {
  RunState& state = this->state();
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

TYPED_TEST_P(RunStateConformance, CheckpointsReplacePerSegmentInSegmentOrder) {
  RunState& state = this->state();
  state.start_run("r", RunKind::manual, at_ms(1));
  state.start_run("other", RunKind::manual, at_ms(1));
  state.save_checkpoint("r", ScanCheckpoint{12, 13, "t12", false, 5, 5});
  state.save_checkpoint("r", ScanCheckpoint{2, 13, "t2", false, 5, 5});
  state.save_checkpoint("r", ScanCheckpoint{0, 13, "t0", false, 1, 1});
  state.save_checkpoint("other", ScanCheckpoint{0, 1, "x", true, 9, 9});
  state.save_checkpoint("r", ScanCheckpoint{0, 13, "", true, 7, 6, "dynamodb://items"});
  const auto cps = state.checkpoints("r");
  ASSERT_EQ(cps.size(), 3u);
  EXPECT_EQ(cps[0].segment, 0);
  EXPECT_EQ(cps[0].total_segments, 13);
  EXPECT_EQ(cps[0].token, "");
  EXPECT_TRUE(cps[0].done);
  EXPECT_EQ(cps[0].scanned, 7);
  EXPECT_EQ(cps[0].sent, 6);
  EXPECT_EQ(cps[0].table, "dynamodb://items");  // the table the token belongs to
  EXPECT_EQ(cps[1].segment, 2);
  EXPECT_EQ(cps[1].table, "");
  EXPECT_EQ(cps[1].token, "t2");
  EXPECT_FALSE(cps[1].done);
  EXPECT_EQ(cps[1].scanned, 5);
  EXPECT_EQ(cps[2].segment, 12);
  ASSERT_EQ(state.checkpoints("other").size(), 1u);
  EXPECT_EQ(state.checkpoints("other")[0].token, "x");
}

TYPED_TEST_P(RunStateConformance, LeaseGrantDenyRenewTakeOverRelease) {
  RunState& state = this->state();
  state.start_run("r", RunKind::scheduled, at_ms(1'000));
  // Granted: there was none.
  EXPECT_TRUE(state.acquire_producer_lease("r", "p1", at_ms(1'000), at_ms(5'000)));
  // Denied while unexpired, to another owner, up to the last millisecond.
  EXPECT_FALSE(state.acquire_producer_lease("r", "p2", at_ms(1'500), at_ms(9'000)));
  EXPECT_FALSE(state.acquire_producer_lease("r", "p2", at_ms(4'999), at_ms(9'000)));
  // Renewed by its owner: the new until holds.
  EXPECT_TRUE(state.acquire_producer_lease("r", "p1", at_ms(4'000), at_ms(8'000)));
  EXPECT_FALSE(state.acquire_producer_lease("r", "p2", at_ms(7'000), at_ms(9'000)));
  // Expired (until <= now): taken over.
  EXPECT_TRUE(state.acquire_producer_lease("r", "p2", at_ms(8'000), at_ms(12'000)));
  EXPECT_FALSE(state.acquire_producer_lease("r", "p1", at_ms(8'001), at_ms(20'000)));
  // Released by another owner: a no-op; by its owner: free at once, unexpired or not.
  state.release_producer_lease("r", "p1");
  EXPECT_FALSE(state.acquire_producer_lease("r", "p3", at_ms(9'000), at_ms(20'000)));
  state.release_producer_lease("r", "p2");
  state.release_producer_lease("r", "p2");  // twice: nothing to release
  EXPECT_TRUE(state.acquire_producer_lease("r", "p3", at_ms(9'000), at_ms(20'000)));
  // Leases belong to one run each.
  state.start_run("s", RunKind::scheduled, at_ms(1'000));
  EXPECT_TRUE(state.acquire_producer_lease("s", "p1", at_ms(9'000), at_ms(20'000)));
}

TYPED_TEST_P(RunStateConformance, RacingLeaseTakersGetOneLease) {
  auto other = this->another();
  constexpr int kRuns = 8;
  for (int i = 0; i < kRuns; ++i) this->state().start_run("run-" + std::to_string(i), RunKind::scheduled, at_ms(1));
  std::vector<bool> got[2];
  on_threads(2, [&](int t) {
    RunState& state = t == 0 ? this->state() : *other;
    for (int i = 0; i < kRuns; ++i)
      got[t].push_back(
          state.acquire_producer_lease("run-" + std::to_string(i), "p" + std::to_string(t), at_ms(10), at_ms(10'000)));
  });
  for (int i = 0; i < kRuns; ++i) EXPECT_NE(got[0][i], got[1][i]) << i;
}

TYPED_TEST_P(RunStateConformance, CheckpointsWithAnOwnerNeedItsLease) {
  RunState& state = this->state();
  state.start_run("r", RunKind::scheduled, at_ms(1'000));
  // No lease at all: refused.
  EXPECT_EQ(error_of([&] {
              state.save_checkpoint("r", ScanCheckpoint{0, 1, "t0", false, 1, 1}, "p1");
            }),
            ErrorCode::conflict);
  EXPECT_TRUE(state.checkpoints("r").empty());

  ASSERT_TRUE(state.acquire_producer_lease("r", "p1", at_ms(1'000), at_ms(5'000)));
  state.save_checkpoint("r", ScanCheckpoint{0, 1, "t1", false, 10, 10}, "p1");
  EXPECT_EQ(state.checkpoints("r").at(0).token, "t1");
  // Another owner's checkpoint is refused while p1 holds the lease.
  EXPECT_EQ(error_of([&] {
              state.save_checkpoint("r", ScanCheckpoint{0, 1, "bad", false, 1, 1}, "p2");
            }),
            ErrorCode::conflict);

  // p2 takes the expired lease over and moves on; p1 (which does not know yet) must not move
  // the checkpoint back.
  ASSERT_TRUE(state.acquire_producer_lease("r", "p2", at_ms(5'000), at_ms(9'000)));
  state.save_checkpoint("r", ScanCheckpoint{0, 1, "t2", false, 20, 20}, "p2");
  std::string message;
  EXPECT_EQ(error_of(
                [&] {
                  state.save_checkpoint("r", ScanCheckpoint{0, 1, "t1b", false, 11, 11}, "p1");
                },
                &message),
            ErrorCode::conflict);
  EXPECT_NE(message.find("p1"), std::string::npos) << message;
  const auto cps = state.checkpoints("r");
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].token, "t2");
  EXPECT_EQ(cps[0].scanned, 20);

  // Without an owner the write is not checked (the local runner's own producer).
  state.save_checkpoint("r", ScanCheckpoint{1, 2, "u", true, 3, 3});
  EXPECT_EQ(state.checkpoints("r").size(), 2u);
  // After its release nobody's owner-checked write is accepted.
  state.release_producer_lease("r", "p2");
  EXPECT_EQ(error_of([&] {
              state.save_checkpoint("r", ScanCheckpoint{0, 1, "t3", false, 30, 30}, "p2");
            }),
            ErrorCode::conflict);
}

TYPED_TEST_P(RunStateConformance, LastTickAndSkippedTicksPersist) {
  {
    auto state = this->another();
    EXPECT_FALSE(state->last_tick().has_value());
    EXPECT_EQ(state->skipped_ticks(), 0);
    state->set_last_tick(at_s(1'767'261'600));
    state->set_last_tick(at_s(1'767'265'200));
    state->add_skipped_tick();
    state->add_skipped_tick();
  }
  auto state = this->another();
  EXPECT_EQ(state->last_tick(), at_s(1'767'265'200));
  EXPECT_EQ(state->skipped_ticks(), 2);
  EXPECT_EQ(this->state().skipped_ticks(), 2);
}

TYPED_TEST_P(RunStateConformance, ClaimTickMovesTheLastTickForwardOnly) {
  RunState& state = this->state();
  EXPECT_TRUE(state.claim_tick(at_s(1'767'261'600)));  // none recorded yet
  EXPECT_EQ(state.last_tick(), at_s(1'767'261'600));
  EXPECT_FALSE(state.claim_tick(at_s(1'767'261'600)));  // a duplicate
  EXPECT_FALSE(this->another()->claim_tick(at_s(1'767'261'600)));
  EXPECT_FALSE(state.claim_tick(at_s(1'767'258'000)));  // a late, older tick
  EXPECT_EQ(state.last_tick(), at_s(1'767'261'600));
  EXPECT_TRUE(this->another()->claim_tick(at_s(1'767'265'200)));
  EXPECT_EQ(state.last_tick(), at_s(1'767'265'200));
  // After set_last_tick (the local scheduler), claims compare with what it wrote.
  state.set_last_tick(at_s(1'767'272'400));
  EXPECT_FALSE(state.claim_tick(at_s(1'767'268'800)));
  EXPECT_TRUE(state.claim_tick(at_s(1'767'276'000)));
  EXPECT_EQ(state.skipped_ticks(), 0);  // claiming is not skipping
}

// Duplicate deliveries of each tick racing on four threads and two objects (two processes):
// in each round all threads claim the same tick at once (a barrier between rounds), and
// exactly one of them wins it.
TYPED_TEST_P(RunStateConformance, RacingClaimsOfOneTickHaveOneWinner) {
  auto other = this->another();
  constexpr int kThreads = 4;
  constexpr int kTicks = 12;
  std::barrier round(kThreads);
  std::vector<std::vector<bool>> won(kThreads);
  on_threads(kThreads, [&](int t) {
    RunState& state = t % 2 == 0 ? this->state() : *other;
    for (int i = 0; i < kTicks; ++i) {
      round.arrive_and_wait();
      won[t].push_back(state.claim_tick(at_s(60 * (i + 1))));
    }
  });
  for (int i = 0; i < kTicks; ++i) {
    int winners = 0;
    for (int t = 0; t < kThreads; ++t) winners += won[t][i] ? 1 : 0;
    EXPECT_EQ(winners, 1) << "tick " << i;
  }
  EXPECT_EQ(this->state().last_tick(), at_s(60 * kTicks));
}

TYPED_TEST_P(RunStateConformance, TimelineOldestFirstAndReplacedAtTheSameSecond) {
  RunState& state = this->state();
  state.start_run("r", RunKind::manual, at_ms(1));
  state.start_run("other", RunKind::manual, at_ms(1));
  state.record_timeline("r", TimelinePoint{at_s(1'767'261'630), R"({"sent":3})"});
  state.record_timeline("r", TimelinePoint{at_s(1'767'261'610), R"({"sent":1})"});
  state.record_timeline("other", TimelinePoint{at_s(1'767'261'620), R"({"sent":0})"});
  state.record_timeline("r", TimelinePoint{at_s(1'767'261'620), R"({"sent":2})"});
  state.record_timeline("r", TimelinePoint{at_s(1'767'261'610), R"({"sent":1.5})"});
  state.record_timeline("r", TimelinePoint{at_s(5), R"({"early":true})"});
  const auto points = state.timeline("r");
  ASSERT_EQ(points.size(), 4u);
  EXPECT_EQ(points[0].at, at_s(5));
  EXPECT_EQ(points[1].at, at_s(1'767'261'610));
  EXPECT_EQ(points[1].json, R"({"sent":1.5})");
  EXPECT_EQ(points[2].at, at_s(1'767'261'620));
  EXPECT_EQ(points[2].json, R"({"sent":2})");
  EXPECT_EQ(points[3].at, at_s(1'767'261'630));
  EXPECT_EQ(state.timeline("other").size(), 1u);
}

TYPED_TEST_P(RunStateConformance, TwoObjectsSeeEachOthersWrites) {
  RunState& a = this->state();
  auto b_owner = this->another();
  RunState& b = *b_owner;
  a.start_run("r", RunKind::scheduled, at_ms(1));
  ASSERT_TRUE(b.run("r").has_value());
  b.add_counts("r", some_counts());
  EXPECT_TRUE(same_counts(a.run("r")->counts, some_counts()));
  b.save_checkpoint("r", ScanCheckpoint{0, 1, "t", false, 1, 1});
  EXPECT_EQ(a.checkpoints("r").at(0).token, "t");
  a.record_timeline("r", TimelinePoint{at_s(5), "{}"});
  EXPECT_EQ(b.timeline("r").size(), 1u);
  b.set_last_tick(at_s(60));
  EXPECT_EQ(a.last_tick(), at_s(60));
  a.add_skipped_tick();
  b.add_skipped_tick();
  EXPECT_EQ(b.skipped_ticks(), 2);
  EXPECT_TRUE(a.acquire_producer_lease("r", "pa", at_ms(1), at_ms(100)));
  EXPECT_FALSE(b.acquire_producer_lease("r", "pb", at_ms(2), at_ms(100)));
  a.mark_produced("r", at_ms(2));
  EXPECT_EQ(b.newest_unfinished()->phase, RunPhase::draining);
  b.mark_finished("r", at_ms(3));
  EXPECT_FALSE(a.newest_unfinished().has_value());
  EXPECT_EQ(a.recent_runs(5).at(0).finished_at, at_ms(3));
}

REGISTER_TYPED_TEST_SUITE_P(
    RunStateConformance, AnEmptyStoreHasNothing, StartRunCreatesAttemptOne, StartRunResumesAnUnfinishedRunUnchanged,
    StartRunRestartsAFinishedRun, StartRunKeepReturnsAFinishedRunUnchanged, RacingStartsOfOneIdGiveOneRun,
    RacingRestartsOfAFinishedRunGiveOneAttempt, AddCountsAddsAndMergesLabels, AddCountsToAnUnknownRunIsNotFound,
    FingerprintsAreRecordedReplacedAndReadForManyKeys, AddCountsFromFourThreadsLosesNothing, MarkProducedThenFinished,
    MarkProducedDoesNotMoveAFinishedRunBack, MarkFinishedTwiceKeepsTheFirstTime, WritesToAnUnknownRunAreNotFound,
    NewestUnfinishedByStartedAtThenId, RecentRunsNewestFirstUpToTheLimit, CheckpointsReplacePerSegmentInSegmentOrder,
    LeaseGrantDenyRenewTakeOverRelease, RacingLeaseTakersGetOneLease, CheckpointsWithAnOwnerNeedItsLease,
    LastTickAndSkippedTicksPersist, TimelineOldestFirstAndReplacedAtTheSameSecond, TwoObjectsSeeEachOthersWrites,
    MarkFinishedDropsTheRunsCheckpointsOnly, ClaimTickMovesTheLastTickForwardOnly, RacingClaimsOfOneTickHaveOneWinner);

}  // namespace sentiflow::conformance
