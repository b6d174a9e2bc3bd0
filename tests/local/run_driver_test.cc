// RunDriver's end of a run when the run state is busy at the wrong moment.
#include "local/run_driver.h"

#include <gtest/gtest.h>

#include <atomic>

#include "pipeline/consumer.h"
#include "queue/local_queue.h"
#include "sentiment/vader.h"
#include "state/sqlite_run_state.h"
#include "store/file_store.h"
#include "support/poll.h"
#include "support/temp_dir.h"

namespace sentiflow::local {
namespace {

using testing_support::poll_until;
using testing_support::TempDir;

// The SQLite run state, whose run() fails (busy, transient) on the calls numbered in
// [fail_from, fail_to] once armed.
class BusyRunState final : public RunState {
 public:
  explicit BusyRunState(const std::filesystem::path& dir) : inner_(dir) {}
  std::atomic<int> calls{0}, fail_from{0}, fail_to{-1};

  RunRecord start_run(const std::string& id, RunKind kind, Millis now, IfFinished f) override {
    return inner_.start_run(id, kind, now, f);
  }
  std::optional<RunRecord> run(const std::string& id) override {
    const int n = ++calls;
    if (n >= fail_from && n <= fail_to) throw Error(ErrorCode::transient, "the state file is busy");
    return inner_.run(id);
  }
  std::optional<RunRecord> newest_unfinished() override { return inner_.newest_unfinished(); }
  std::vector<RunRecord> recent_runs(size_t limit) override { return inner_.recent_runs(limit); }
  void add_counts(const std::string& id, const RunCounts& delta) override { inner_.add_counts(id, delta); }
  void mark_produced(const std::string& id, Millis now) override { inner_.mark_produced(id, now); }
  void mark_finished(const std::string& id, Millis now) override { inner_.mark_finished(id, now); }
  bool acquire_producer_lease(const std::string& id, const std::string& owner, Millis now, Millis until) override {
    return inner_.acquire_producer_lease(id, owner, now, until);
  }
  void release_producer_lease(const std::string& id, const std::string& owner) override {
    inner_.release_producer_lease(id, owner);
  }
  std::vector<ScanCheckpoint> checkpoints(const std::string& id) override { return inner_.checkpoints(id); }
  void save_checkpoint(const std::string& id, const ScanCheckpoint& c, const std::optional<std::string>& o) override {
    inner_.save_checkpoint(id, c, o);
  }
  std::optional<Seconds> last_tick() override { return inner_.last_tick(); }
  void set_last_tick(Seconds tick) override { inner_.set_last_tick(tick); }
  bool claim_tick(Seconds tick) override { return inner_.claim_tick(tick); }
  int64_t skipped_ticks() override { return inner_.skipped_ticks(); }
  void add_skipped_tick() override { inner_.add_skipped_tick(); }
  void record_timeline(const std::string& id, const TimelinePoint& point) override {
    inner_.record_timeline(id, point);
  }
  std::vector<TimelinePoint> timeline(const std::string& id) override { return inner_.timeline(id); }
  std::map<std::string, std::string> fingerprints(const std::vector<std::string>& keys) override {
    return inner_.fingerprints(keys);
  }
  void record_fingerprints(const std::map<std::string, std::string>& fingerprints) override {
    inner_.record_fingerprints(fingerprints);
  }

 private:
  SqliteRunState inner_;
};

// The run is marked finished, then the state is busy for the end's reads: the next check must
// finish the run's end, not wait for a phase (draining) it will never have again. Before, the
// driver kept the run current for good, and a daemon skipped every later tick.
TEST(RunDriver, ABusyStateAfterTheRunIsMarkedFinishedStillEndsIt) {
  TempDir dir("run-driver");
  PipelineConfig config;
  config.name = "p";
  config.state_dir = dir.path();
  BusyRunState state(dir.path());
  LocalQueue queue(LocalQueueOptions{.file = LocalQueue::file_in(dir.path()), .name = "q"});
  LocalQueue dead(LocalQueueOptions{.file = LocalQueue::file_in(dir.path()), .name = "q-dlq"});
  FileStore store(dir.path() / "out");
  pipeline::Sink sink(store, "", SinkFormat::jsonl, Compression::none);
  sentiment::VaderAnalyzer vader;
  Metrics metrics;
  pipeline::Consumer consumer(pipeline::ConsumerOptions{"text"}, vader, sink, nullptr, metrics);
  WorkerPool pool(WorkerPoolOptions{}, queue, consumer, nullptr, metrics);  // not started: nothing in hand
  LiveSampler sampler(
      config, state, state, queue, dead, [] { return 0; }, nullptr, metrics);
  RunDriver driver(config, state, queue, dead, sink, pool, sampler, nullptr);

  state.start_run("r", RunKind::manual, Millis{}, IfFinished::restart);
  state.mark_produced("r", Millis{});
  driver.start(*state.run("r"));  // produced already: no producer thread
  // The calls after finish_if_drained's own read: the final sample's, then the summary's.
  state.fail_from = state.calls.load() + 2;
  state.fail_to = state.calls.load() + 3;
  EXPECT_THROW(driver.finished(), Error);
  EXPECT_EQ(state.run("r")->phase, RunPhase::finished);
  EXPECT_EQ(driver.current(), "r");
  EXPECT_TRUE(poll_until([&] { return driver.finished(); })) << "the run's end was never done";
  EXPECT_TRUE(driver.current().empty());
}

}  // namespace
}  // namespace sentiflow::local
