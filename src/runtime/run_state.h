// RunState: what the local runner remembers between processes and restarts — runs, producer
// checkpoints, the scheduler's last tick, per-run metric timelines — in
// `<state_dir>/state.sqlite` (DESIGN.md, "Runs").
//
// Several processes share one state directory (the scheduler and consumer-only processes):
// the file is opened in WAL mode with a busy timeout, and each call is one short transaction,
// durable against a crash of the process. Safe to share between threads (calls are
// serialised on one connection). Failures throw Error: invalid_input for a file that is not a
// sentiflow state file (or one of a newer schema), transient when it stays locked, internal
// for anything else.
//
// SchedulerLock: one scheduler per state directory, an exclusive flock(2) on
// `<state_dir>/scheduler.lock` held for the life of the object; the kernel releases it when the
// process dies, even by SIGKILL.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"

namespace sentiflow::runtime {

enum class RunKind { scheduled, manual, backfill };
enum class RunPhase { producing, draining, finished };

std::string_view to_string(RunKind kind);
std::string_view to_string(RunPhase phase);

// Counts of one run, added to by every process that works on it. At least once: a batch that
// is processed again after a crash counts again (`sentiflow results` is exact).
struct RunCounts {
  int64_t scanned = 0;          // items read from the table
  int64_t sent = 0;             // messages sent
  int64_t producer_errors = 0;  // items that became error records
  int64_t processed = 0;        // records stored by consumers
  int64_t failed = 0;           // messages that failed in a consumer (error records)
  int64_t dead_letters = 0;     // messages of this run moved to the dead-letter queue
  std::map<std::string, int64_t> labels;  // "POSITIVE" -> records stored

  RunCounts& operator+=(const RunCounts& other);
};

struct RunRecord {
  std::string id;
  RunKind kind = RunKind::manual;
  RunPhase phase = RunPhase::producing;
  int attempt = 1;               // 2 and up after a re-run of a finished run
  Millis started_at{};           // of this attempt
  std::optional<Millis> produced_at{};  // when the producer finished
  std::optional<Millis> finished_at{};
  RunCounts counts;
};

// The run as `sentiflow status --json`, the dashboard and reports show it: id, kind, state,
// attempt, started_at, produced_at, finished_at (UTC text or null), the counts, labels, and
// seconds (finished_at - started_at, or null).
nlohmann::json to_json(const RunRecord& run);

// Where the producer is in one scan segment.
struct Checkpoint {
  int segment = 0;
  int total_segments = 1;
  std::string token;  // the table's token to continue from; "" = from the start
  bool done = false;  // the segment has been read to its end
  int64_t scanned = 0;
  int64_t sent = 0;
};

// One second of a run's timeline: a JSON object of metric values (observe/metrics.h snapshot
// subset), kept for `sentiflow report`.
struct TimelinePoint {
  Seconds at{};
  std::string json;
};

class RunState {
 public:
  // Opens (creating it and the directory when missing) `<state_dir>/state.sqlite`. A call that
  // finds the file locked by another process waits up to 10 s before it fails (transient).
  explicit RunState(const std::filesystem::path& state_dir);
  ~RunState();
  RunState(const RunState&) = delete;
  RunState& operator=(const RunState&) = delete;

  static std::filesystem::path file_in(const std::filesystem::path& state_dir);

  // Starts run `id`: creates it (phase producing, attempt 1) when new; returns it unchanged
  // when it exists unfinished (a resume; `kind` and `now` are ignored); when it exists finished,
  // starts it again (attempt + 1, kind = `kind`, phase producing, started_at = now, produced_at
  // and finished_at cleared, counts zeroed, checkpoints and timeline cleared: a backfill re-run).
  // One transaction. An empty id: invalid_input.
  RunRecord start_run(const std::string& id, RunKind kind, Millis now);

  std::optional<RunRecord> run(const std::string& id);
  // The newest run (by started_at; on a tie the greatest id) whose phase is not finished.
  std::optional<RunRecord> newest_unfinished();
  // The `limit` most recent runs, newest first.
  std::vector<RunRecord> recent_runs(size_t limit);

  // Adds `delta` to the run's counts (one transaction). A run that does not exist: not_found.
  void add_counts(const std::string& id, const RunCounts& delta);
  // Producer done: phase draining, produced_at = now. A finished run is left as it is (never
  // moved back). A run that does not exist: not_found (also for every write below).
  void mark_produced(const std::string& id, Millis now);
  // Phase finished, finished_at = now; a run already finished keeps its first finished_at, so
  // several processes may each see the run drained and mark it.
  void mark_finished(const std::string& id, Millis now);

  // The run's checkpoints, one per segment that has one, by segment; none for an unknown run.
  std::vector<Checkpoint> checkpoints(const std::string& id);
  // Inserts or replaces the checkpoint of (run, checkpoint.segment).
  void save_checkpoint(const std::string& id, const Checkpoint& checkpoint);

  // The scheduler's last fired (or skipped) tick, if any, and the number of ticks skipped
  // because a run was unfinished.
  std::optional<Seconds> last_tick();
  void set_last_tick(Seconds tick);
  int64_t skipped_ticks();
  void add_skipped_tick();

  // Appends (or replaces) the run's point at `point.at`; the run's timeline, oldest first
  // (empty for an unknown run). `point.json` is stored as given.
  void record_timeline(const std::string& id, const TimelinePoint& point);
  std::vector<TimelinePoint> timeline(const std::string& id);

 private:
  struct State;
  std::mutex mutex_;
  std::unique_ptr<State> state_;
};

class SchedulerLock {
 public:
  // The lock, or nullptr when another holder has it: another process, or another
  // SchedulerLock of this process (flock locks belong to an open file description, and each
  // try opens its own). Creates the state directory when missing. Throws Error(invalid_input)
  // when the directory or the lock file cannot be created or opened (as for an unopenable
  // SQLite file: the user fixes the path), Error(internal) when flock fails otherwise.
  // The destructor unlocks before closing, so a child forked meanwhile does not keep the lock.
  static std::unique_ptr<SchedulerLock> try_acquire(const std::filesystem::path& state_dir);
  ~SchedulerLock();
  SchedulerLock(const SchedulerLock&) = delete;
  SchedulerLock& operator=(const SchedulerLock&) = delete;

 private:
  explicit SchedulerLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace sentiflow::runtime
