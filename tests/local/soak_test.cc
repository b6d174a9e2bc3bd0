// The soak (issue 14): the daemon on a simulated clock for many ticks, in two processes that are
// killed (SIGKILL) and started again at random, with the dead-letter queue redriven now and then
// (max_receive_count 1: a message held by a killed process is a dead letter at its next receive).
// At the end every run is finished, every key of every run is stored (results: once per (run,
// key)), and the surviving daemon's memory and open files, and the SQLite WALs, stayed bounded.
//
// Both processes are forks of this one, each a LocalRunner in daemon mode whose clock is a shared
// page that this process advances (a simulated minute every SOAK_STEP_MS, 40 ms): the one that
// holds the scheduler lock schedules and produces, the other consumes, and after a kill the
// other takes over. The forks happen while this process runs no thread of its own, so that each
// child starts from a consistent copy.
//
// SENTIFLOW_SOAK_TICKS sets the simulated minutes (the schedule is rate(1 minute)): 400 in
// `make test` (about 40 s), more with `make soak` (docs/GUARANTEES.md reports a long one).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "assembly/backends.h"
#include "config/loader.h"
#include "local/local_runner.h"
#include "observe/log.h"
#include "pipeline/results.h"
#include "state/sqlite_run_state.h"
#include "store/file_store.h"
#include "support/poll.h"
#include "support/temp_dir.h"

namespace sentiflow::local {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

constexpr int kItems = 400;  // a run spans several ticks, so that kills land in its middle

int soak_ticks() {
  const char* value = std::getenv("SENTIFLOW_SOAK_TICKS");
  return value ? std::max(10, std::atoi(value)) : 400;
}

// A page shared with the children: the simulated time in ms.
class SharedClock {
 public:
  SharedClock() {
    void* page =
        ::mmap(nullptr, sizeof(std::atomic<int64_t>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) throw std::runtime_error("mmap failed");
    now_ = new (page) std::atomic<int64_t>(parse_utc("2026-11-26T00:00:30Z").time_since_epoch().count());
  }
  ~SharedClock() { ::munmap(now_, sizeof(std::atomic<int64_t>)); }
  Millis now() const { return Millis(milliseconds(now_->load())); }
  void advance(milliseconds d) { *now_ += d.count(); }

 private:
  std::atomic<int64_t>* now_;
};

// A daemon in a child process; SIGKILLed by kill(), stopped gracefully (SIGTERM) by stop().
class DaemonProcess {
 public:
  DaemonProcess(const PipelineConfig& config, const SharedClock& clock) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ > 0) return;
    // The child: a daemon until SIGTERM; never returns into the test.
    static LocalRunner* runner = nullptr;
    log::configure(log::Format::text, log::Level::error);
    RunnerOptions options;
    options.mode = RunnerOptions::Mode::daemon;
    options.clock = [&clock] { return clock.now(); };
    int status = 3;
    try {
      LocalRunner daemon(config, options);
      runner = &daemon;
      ::signal(SIGTERM, [](int) { runner->request_stop(); });
      status = daemon.run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "soak daemon %d: %s\n", ::getpid(), e.what());
    }
    ::_exit(status == 3 ? 3 : 0);  // a dead letter (status 1) is the soak's to judge, by the results
  }
  ~DaemonProcess() { kill(); }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // SIGTERM, then the exit status (0: stopped cleanly).
  int stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_t pid() const { return pid_; }

  // Resident memory in KiB and open file descriptors, from /proc.
  long rss_kib() const {
    std::ifstream status(fmt::format("/proc/{}/status", pid_));
    std::string line;
    while (std::getline(status, line))
      if (line.starts_with("VmRSS:")) return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
  }
  long open_files() const {
    long n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(fmt::format("/proc/{}/fd", pid_), ec); !ec && it != fs::directory_iterator();
         it.increment(ec))
      ++n;
    return n;
  }

 private:
  pid_t pid_ = -1;
};

PipelineConfig soak_pipeline(const fs::path& dir) {
  std::ofstream items(dir / "items.jsonl");
  for (int i = 0; i < kItems; ++i)
    items << fmt::format(R"({{"id":"k{}","text":"a good day number {}"}})", i, i) << '\n';
  items.close();
  std::ofstream(dir / "soak.yaml") << R"(name: soak
schedule: rate(1 minute)
catch_up: latest
state_dir: state
source: {table: local://items, key: id, text: text, seed: items.jsonl}
queue: {url: local://q, visibility_timeout: 2s, max_receive_count: 1}
consumer: {batch_size: 10, concurrency: {min: 1, max: 2}}
sink: {store: out/}
)";
  return load_pipeline_or_throw(dir / "soak.yaml");
}

uint64_t wal_bytes(const fs::path& state_dir) {
  uint64_t largest = 0;
  for (const auto& entry : fs::recursive_directory_iterator(state_dir))
    if (entry.path().string().ends_with("-wal")) largest = std::max<uint64_t>(largest, entry.file_size());
  return largest;
}

TEST(Soak, TheDaemonThroughKillsAndRedrivesOnASimulatedClockStoresEveryKeyOfEveryRun) {
  testing_support::TempDir dir("soak");
  const PipelineConfig config = soak_pipeline(dir.path());
  SharedClock clock;
  const int ticks = soak_ticks();
  std::mt19937 random(20261207);  // fixed: a failure comes back on a rerun

  std::array<std::unique_ptr<DaemonProcess>, 2> daemons;
  for (auto& d : daemons) d = std::make_unique<DaemonProcess>(config, clock);
  auto dead_letters = assembly::open_dead_letter_queue(config);
  auto queue = assembly::open_queue(config);
  int kills = 0, redriven = 0;
  const int calm_from = ticks * 2 / 3;  // the last third runs without kills: the survivor is measured
  long rss_at_calm = 0, files_at_calm = 0;
  for (int tick = 0; tick < ticks; ++tick) {
    std::this_thread::sleep_for(40ms);  // the pace of the simulated clock, not a wait for a condition
    clock.advance(1min);
    if (tick < calm_from && random() % 12 == 0) {  // about two kills a second
      auto& victim = daemons[random() % 2];
      victim->kill();
      ++kills;
      victim = std::make_unique<DaemonProcess>(config, clock);
    }
    if (tick % 50 == 49)
      redriven += static_cast<int>(dead_letters->counts().visible > 0 ? queue->redrive_dead_letters(1000) : 0);
    if (tick == calm_from + 25) {  // the survivors have settled: what they hold now is the baseline
      rss_at_calm = daemons[0]->rss_kib() + daemons[1]->rss_kib();
      files_at_calm = daemons[0]->open_files() + daemons[1]->open_files();
    }
  }

  // The end: the clock stands; every run finishes, dead letters redriven until none is left.
  SqliteRunState state(assembly::run_state_dir(config));
  const bool settled = testing_support::poll_until(
      [&] {
        if (dead_letters->counts().visible > 0) redriven += static_cast<int>(queue->redrive_dead_letters(1000));
        const QueueCounts c = queue->counts();
        const QueueCounts d = dead_letters->counts();
        if (c.visible + c.in_flight + c.delayed + d.visible + d.in_flight > 0) return false;
        for (const auto& run : state.recent_runs(100'000))
          if (run.phase != RunPhase::finished) return false;
        return true;
      },
      120s, 100ms);
  const long rss_at_end = daemons[0]->rss_kib() + daemons[1]->rss_kib();
  const long files_at_end = daemons[0]->open_files() + daemons[1]->open_files();
  for (auto& d : daemons) EXPECT_EQ(d->stop(), 0);
  ASSERT_TRUE(settled) << "not every run finished, or messages are left";

  const auto runs = state.recent_runs(100'000);
  FileStore store(config.sink.store.directory, false);
  pipeline::ResultsReader reader(store, "");
  const pipeline::ResultsSummary summary = reader.summary(std::nullopt);
  std::set<std::string> run_ids;
  for (const auto& run : runs) {
    run_ids.insert(run.id);
    EXPECT_EQ(summary.by_run.count(run.id) ? summary.by_run.at(run.id) : 0, kItems) << "run " << run.id;
  }
  for (const auto& [run, records] : summary.by_run) EXPECT_TRUE(run_ids.contains(run)) << "results of no run: " << run;
  EXPECT_TRUE(reader.damaged().empty());
  EXPECT_EQ(summary.errors, 0) << "no item is bad: a kill makes no error record";
  EXPECT_GE(runs.size(), static_cast<size_t>(ticks / 20)) << "the daemon kept firing runs";

  // Bounded: the survivors' memory and files did not grow with the ticks after the baseline; no
  // WAL file grows past the queue's checkpoint (every 10,000 pages: 40 MiB) by more than a
  // margin: SQLite copies it back into the file and starts it again from its beginning.
  EXPECT_LE(files_at_end, files_at_calm + 8) << "open files at the baseline " << files_at_calm;
  EXPECT_LE(rss_at_end, rss_at_calm + 64 * 1024) << "KiB of memory at the baseline " << rss_at_calm;
  EXPECT_LT(wal_bytes(config.state_dir), 64u << 20);

  std::printf(
      "soak: %d ticks, %zu runs, %d kills, %d dead letters redriven, %lld raw records for %lld keys; "
      "survivors: %ld -> %ld KiB, %ld -> %ld files; largest WAL %llu KiB\n",
      ticks, runs.size(), kills, redriven, static_cast<long long>(summary.records + summary.duplicates),
      static_cast<long long>(summary.records), rss_at_calm, rss_at_end, files_at_calm, files_at_end,
      static_cast<unsigned long long>(wal_bytes(config.state_dir) >> 10));
}

}  // namespace
}  // namespace sentiflow::local
