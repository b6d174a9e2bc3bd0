// The daemon's scheduling with an injected clock: ticks fire, catch up and are skipped while a
// run is unfinished, without waiting for real hours.
#include "local/local_runner.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <thread>

#include "assembly/backends.h"
#include "config/loader.h"
#include "pipeline/results.h"
#include "queue/local_queue.h"
#include "state/run_state.h"
#include "state/sqlite_run_state.h"
#include "store/file_store.h"
#include "support/poll.h"
#include "support/temp_dir.h"

namespace sentiflow::local {
namespace {

using std::chrono::milliseconds;
using testing_support::poll_until;
using testing_support::TempDir;

class Daemon {
 public:
  // `before_start` sees the state before the daemon does (to leave unfinished runs in it).
  Daemon(const TempDir& dir, std::string_view catch_up,
         const std::function<void(const PipelineConfig&)>& before_start = nullptr) {
    std::ofstream(dir.path() / "items.jsonl") << [] {
      std::string items;
      for (int i = 0; i < 20; ++i)
        items += fmt::format(R"({{"id":"k{}","text":"good day {}"}})"
                             "\n",
                             i, i);
      return items;
    }();
    std::ofstream(dir.path() / "p.yaml") << fmt::format(R"(name: daemon
schedule: rate(1 hour)
catch_up: {}
state_dir: state
source: {{table: local://items, key: id, text: text, seed: items.jsonl}}
queue: {{url: local://q, visibility_timeout: 60s}}
consumer: {{batch_size: 5, concurrency: {{min: 1, max: 2}}}}
sink: {{store: out/}}
)",
                                                        catch_up);
    config_ = load_pipeline_or_throw(dir.path() / "p.yaml");
    if (before_start) before_start(config_);
    set_clock("2026-11-26T05:30:00Z");
    RunnerOptions options;
    options.mode = RunnerOptions::Mode::daemon;
    options.clock = [this] { return Millis{milliseconds(now_ms_.load())}; };
    runner_ = std::make_unique<LocalRunner>(config_, options);
    thread_ = std::thread([this] { status_ = runner_->run(); });
  }
  ~Daemon() { stop(); }

  int stop() {
    if (thread_.joinable()) {
      runner_->request_stop();
      thread_.join();
    }
    return status_;
  }
  void set_clock(std::string_view utc) {
    now_ms_ = std::chrono::duration_cast<milliseconds>(parse_utc(utc).time_since_epoch()).count();
  }
  const PipelineConfig& config() const { return config_; }

 private:
  PipelineConfig config_;
  std::atomic<int64_t> now_ms_{0};
  std::unique_ptr<LocalRunner> runner_;
  std::thread thread_;
  int status_ = -1;
};

bool finished(RunState& state, const std::string& id) {
  const auto run = state.run(id);
  return run && run->phase == RunPhase::finished;
}

TEST(LocalRunnerDaemon, FiresOnTheInjectedClockAndSkipsATickWhileARunIsUnfinished) {
  TempDir dir("daemon");
  Daemon daemon(dir, "latest");
  SqliteRunState state(assembly::run_state_dir(daemon.config()));
  // First start counts as downtime: with catch_up latest the 05:00 tick runs at once.
  ASSERT_TRUE(poll_until([&] { return finished(state, "2026-11-26T05:00:00Z"); }));
  EXPECT_EQ(state.run("2026-11-26T05:00:00Z")->counts.processed, 20);
  EXPECT_EQ(state.run("2026-11-26T05:00:00Z")->kind, RunKind::scheduled);

  // A message no consumer can handle stays in flight for the visibility timeout (60 s), so the
  // next run cannot finish while the test runs.
  LocalQueue queue(LocalQueueOptions{.file = LocalQueue::file_in(daemon.config().state_dir), .name = "q"});
  queue.send_one("poison");
  daemon.set_clock("2026-11-26T06:00:02Z");
  ASSERT_TRUE(poll_until([&] {
    const auto run = state.run("2026-11-26T06:00:00Z");
    return run && run->counts.processed == 20 && run->phase == RunPhase::draining;
  }));
  EXPECT_EQ(state.skipped_ticks(), 0);

  daemon.set_clock("2026-11-26T07:00:01Z");
  ASSERT_TRUE(poll_until([&] { return state.skipped_ticks() == 1; }));
  EXPECT_EQ(format_utc(*state.last_tick()), "2026-11-26T07:00:00Z");
  EXPECT_FALSE(state.run("2026-11-26T07:00:00Z"));
  EXPECT_EQ(daemon.stop(), 0);

  // Every item of both runs is stored once.
  FileStore store(daemon.config().sink.store.directory, false);
  pipeline::ResultsReader reader(store, "");
  EXPECT_EQ(reader.summary(std::nullopt).records, 40);
}

TEST(LocalRunnerDaemon, CatchUpNoneSkipsTheMissedTickAndFiresTheNextOne) {
  TempDir dir("daemon-none");
  Daemon daemon(dir, "none");
  SqliteRunState state(assembly::run_state_dir(daemon.config()));
  ASSERT_TRUE(poll_until([&] { return state.last_tick().has_value(); }));
  EXPECT_EQ(format_utc(*state.last_tick()), "2026-11-26T05:00:00Z");
  EXPECT_FALSE(state.run("2026-11-26T05:00:00Z"));
  daemon.set_clock("2026-11-26T06:00:10Z");  // ten seconds late is a wake-up, not downtime
  ASSERT_TRUE(poll_until([&] { return finished(state, "2026-11-26T06:00:00Z"); }));
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_EQ(state.recent_runs(10).size(), 1u);
}

TEST(LocalRunnerDaemon, FinishesEveryUnfinishedRunBeforeANewTick) {
  TempDir dir("daemon-resume");
  // Two runs stopped before they were produced (a signal, a crash), the older one first.
  Daemon daemon(dir, "latest", [](const PipelineConfig& c) {
    SqliteRunState state(assembly::run_state_dir(c));
    state.start_run("older", RunKind::manual, Millis{milliseconds(1000)});
    state.start_run("newer", RunKind::manual, Millis{milliseconds(2000)});
  });
  SqliteRunState state(assembly::run_state_dir(daemon.config()));
  ASSERT_TRUE(poll_until([&] { return finished(state, "older") && finished(state, "newer"); }))
      << "older: " << to_json(*state.run("older")).dump() << " newer: " << to_json(*state.run("newer")).dump();
  EXPECT_EQ(state.run("older")->counts.processed, 20);
  EXPECT_EQ(state.run("newer")->counts.processed, 20);
  // The 05:00 tick came while they were unfinished: skipped, not lost in a queue of ticks.
  EXPECT_EQ(state.skipped_ticks(), 1);
  EXPECT_EQ(daemon.stop(), 0);
}

}  // namespace
}  // namespace sentiflow::local

namespace sentiflow::local {
namespace {

// Issue 14, fault 7: messages that pass the queue's retention before any consumer takes them
// (here there is none) are counted by the queue, and the run that lost them exits 1; before,
// they vanished without a count and the run finished with exit status 0.
TEST(LocalRunnerOnce, MessagesThatExpireUnprocessedAreCountedAndFailTheExitStatus) {
  TempDir dir("expired");
  std::ofstream(dir.path() / "items.jsonl") << R"({"id":"a","text":"good"})"
                                            << "\n"
                                            << R"({"id":"b","text":"bad"})"
                                            << "\n"
                                            << R"({"id":"c","text":"fine"})"
                                            << "\n";
  std::ofstream(dir.path() / "p.yaml") << "name: expiry\nstate_dir: state\n"
                                          "source: {table: local://items, key: id, text: text, seed: items.jsonl}\n"
                                          "sink: {store: out/}\n";
  PipelineConfig config = load_pipeline_or_throw(dir.path() / "p.yaml");
  // Below the file's minimum of 60 s, which only the loader checks: the test need not wait.
  config.queue.retention = milliseconds(200);
  config.consumer.min_concurrency = 0;
  config.consumer.max_concurrency = 0;
  LocalRunner runner(config, RunnerOptions{});
  EXPECT_EQ(runner.run(), 1);
  EXPECT_EQ(assembly::open_queue(config)->expired_total(), 3);
  SqliteRunState state(assembly::run_state_dir(config));
  const auto runs = state.recent_runs(1);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].phase, RunPhase::finished);
  EXPECT_EQ(runs[0].counts.processed, 0);
}

}  // namespace
}  // namespace sentiflow::local
