// Run state: what the runners remember between processes, restarts and invocations — runs,
// producer checkpoints and leases, the scheduler's last tick, per-run metric timelines
// (DESIGN.md, "Runs"). One interface, RunState; SqliteRunState keeps it in
// `<state_dir>/state.sqlite` (local), DynamoDbRunState (runtime/dynamodb_run_state.h) in a
// DynamoDB table (Lambda, which has no durable disk). open_run_state picks one.
//
// SchedulerLock: one scheduler per state directory, an exclusive flock(2) on
// `<state_dir>/scheduler.lock` held for the life of the object; the kernel releases it when the
// process dies, even by SIGKILL. Local only.
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

#include "config/pipeline_config.h"
#include "core/time.h"
#include "pipeline/producer.h"

namespace sentiflow::pipeline {
struct RunTally;
}

namespace sentiflow::runtime {

enum class RunKind { scheduled, manual, backfill };
enum class RunPhase { producing, draining, finished };

std::string_view to_string(RunKind kind);
std::string_view to_string(RunPhase phase);
// The kind and phase that to_string names `text`; nullopt for any other text.
std::optional<RunKind> parse_run_kind(std::string_view text);
std::optional<RunPhase> parse_run_phase(std::string_view text);

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

// The counts of one batch as a delta for RunState::add_counts, the same in both runners: a
// consumer's tally of one run (processed, failed, dead letters, labels), or a producer's page
// (scanned, sent, producer errors); the other side's counts stay 0.
RunCounts counts_of(const pipeline::RunTally& tally);
RunCounts counts_of(const pipeline::ProduceReport& page);

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

// Where the producer is in one scan segment: what the producer reports after each page and
// resumes from, kept as it is.
using Checkpoint = pipeline::ScanCheckpoint;

// Throws Error(invalid_input) unless `id` can name a run: 1 to 128 of A-Z a-z 0-9 - _ . :
// (a run id names a folder of the sink, run=<id>/, and an item of the state: tick times, manual
// ids and names a user gives a backfill fit; '/', spaces and the like do not).
void check_run_id(const std::string& id);
// True when `id` is a tick's run id: a whole-second UTC time as DESIGN.md writes it
// (YYYY-MM-DDTHH:MM:SSZ).
bool is_tick_id(const std::string& id);

// One second of a run's timeline: a JSON object of metric values (observe/metrics.h snapshot
// subset), kept for `sentiflow report`.
struct TimelinePoint {
  Seconds at{};
  std::string json;
};

// Whether start_run restarts a finished run (a backfill re-run) or returns it unchanged (a
// duplicate EventBridge tick must never re-run a finished run).
enum class IfFinished { restart, keep };

// RunState: the interface of the run state store. Two implementations run one conformance
// suite (tests/runtime/run_state_conformance.h): SqliteRunState (below, local) and
// DynamoDbRunState (runtime/dynamodb_run_state.h, Lambda). Implementations are safe to share
// between threads and between processes; every write is atomic on its own (no call leaves
// half a change behind). Failures throw Error (core/error.h): not_found for a run that does
// not exist where a method says so, conflict for a refused owner-checked write, transient or
// throttled when the store is busy, invalid_input/internal as the implementation says.
class RunState {
 public:
  virtual ~RunState() = default;

  // Starts run `id`: creates it (phase producing, attempt 1, no lease) when new; returns it
  // unchanged when it exists unfinished (a resume; `kind` and `now` are ignored); when it
  // exists finished: with IfFinished::keep returns it unchanged; with IfFinished::restart
  // starts it again (attempt + 1, kind = `kind`, phase producing, started_at = now,
  // produced_at and finished_at cleared, counts zeroed, checkpoints, timeline and lease
  // cleared: a backfill re-run). Atomic: two callers racing to create `id` get the same run
  // (one creates it, the other resumes it). An empty id: invalid_input.
  virtual RunRecord start_run(const std::string& id, RunKind kind, Millis now,
                              IfFinished if_finished = IfFinished::restart) = 0;

  virtual std::optional<RunRecord> run(const std::string& id) = 0;
  // The newest run (by started_at; on a tie the greatest id) whose phase is not finished.
  virtual std::optional<RunRecord> newest_unfinished() = 0;
  // The `limit` most recent runs (by started_at, then id), newest first.
  virtual std::vector<RunRecord> recent_runs(size_t limit) = 0;

  // Adds `delta` to the run's counts, atomically: concurrent adds from any number of threads
  // and processes are never lost. A run that does not exist: not_found.
  virtual void add_counts(const std::string& id, const RunCounts& delta) = 0;
  // Producer done: phase draining, produced_at = now. A finished run is left as it is (never
  // moved back). A run that does not exist: not_found (also for every write below).
  virtual void mark_produced(const std::string& id, Millis now) = 0;
  // Phase finished, finished_at = now; a run already finished keeps its first finished_at, so
  // several processes may each see the run drained and mark it. The run's checkpoints are
  // removed (a finished run is never produced from them again; a restart starts from the
  // table's start): on DynamoDB this keeps the per-tick Scan at one item per finished run.
  // DynamoDB removes them after the finish, best effort (a failure is logged, not thrown).
  virtual void mark_finished(const std::string& id, Millis now) = 0;

  // The producer lease of run `id`: true when `owner` now holds it until `until` — there was
  // no lease, the lease had expired (its until <= now), or `owner` already held it (a
  // renewal, which moves `until`). false when another owner holds an unexpired lease (nothing
  // changes). Atomic (a conditional write): of two owners racing, at most one gets true. A run
  // that does not exist: not_found.
  virtual bool acquire_producer_lease(const std::string& id, const std::string& owner, Millis now,
                                      Millis until) = 0;
  // Ends `owner`'s lease of run `id`; a no-op when another owner holds it, when there is none,
  // or when the run does not exist.
  virtual void release_producer_lease(const std::string& id, const std::string& owner) = 0;

  // The run's checkpoints, one per segment that has one, by segment; none for an unknown run.
  virtual std::vector<Checkpoint> checkpoints(const std::string& id) = 0;
  // Inserts or replaces the checkpoint of (run, checkpoint.segment). With `lease_owner`, the
  // write happens only while that owner holds the run's lease (atomically with the check;
  // expiry is not checked here, only who holds it), else Error(conflict): a producer whose
  // lease was taken over must not move the checkpoint back.
  virtual void save_checkpoint(const std::string& id, const Checkpoint& checkpoint,
                               const std::optional<std::string>& lease_owner = std::nullopt) = 0;

  // The scheduler's last fired (or skipped) tick, if any, and the number of ticks skipped
  // because a run was unfinished. set_last_tick writes unconditionally (the local scheduler,
  // the only writer under its SchedulerLock); where ticks may race, use claim_tick.
  virtual std::optional<Seconds> last_tick() = 0;
  virtual void set_last_tick(Seconds tick) = 0;
  // Claims `tick` for the caller: atomically (a compare-and-set), when no last tick is
  // recorded or it is older than `tick`, makes `tick` the last tick and returns true; else
  // returns false and changes nothing. So of any number of callers racing to claim one tick
  // exactly one gets true, a tick once claimed is never claimed again, and the last tick never
  // moves backwards (a late, older tick gets false). This is how an EventBridge tick, which may
  // be delivered more than once, starts at most one run (runtime/lambda_handlers.h).
  virtual bool claim_tick(Seconds tick) = 0;
  virtual int64_t skipped_ticks() = 0;
  virtual void add_skipped_tick() = 0;

  // Appends (or replaces) the run's point at `point.at`; the run's timeline, oldest first
  // (empty for an unknown run). `point.json` is stored as given.
  virtual void record_timeline(const std::string& id, const TimelinePoint& point) = 0;
  virtual std::vector<TimelinePoint> timeline(const std::string& id) = 0;
};

// Where open_run_state keeps the state.
enum class RunStateStore { local, dynamodb };

// The pipeline's run state: `local` is SqliteRunState in config.state_dir; `dynamodb` is
// DynamoDbRunState on the table `<config.name>-state` (env SENTIFLOW_STATE_TABLE overrides
// the name), with the pipeline's AWS settings (as the dynamodb:// backend), which must exist
// (the SAM template creates it): a missing table is Error(invalid_input) naming it, the region
// and the endpoint. Otherwise throws what the constructors throw.
std::unique_ptr<RunState> open_run_state(const PipelineConfig& config, RunStateStore where);

// SqliteRunState: RunState in `<state_dir>/state.sqlite` (DESIGN.md, "Runs"), for the local
// runner.
//
// Several processes share one state directory (the scheduler and consumer-only processes):
// the file is opened in WAL mode with a busy timeout, and each call is one short transaction,
// durable against a crash of the process. Safe to share between threads (calls are
// serialised on one connection). Failures throw Error: invalid_input for a file that is not a
// sentiflow state file (or one of a newer schema), transient when it stays locked, internal
// for anything else. A file of schema 1 (before leases) is upgraded in place on open.
class SqliteRunState final : public RunState {
 public:
  // Opens (creating it and the directory when missing) `<state_dir>/state.sqlite`. A call that
  // finds the file locked by another process waits up to 10 s before it fails (transient).
  explicit SqliteRunState(const std::filesystem::path& state_dir);
  ~SqliteRunState() override;
  SqliteRunState(const SqliteRunState&) = delete;
  SqliteRunState& operator=(const SqliteRunState&) = delete;

  static std::filesystem::path file_in(const std::filesystem::path& state_dir);

  RunRecord start_run(const std::string& id, RunKind kind, Millis now,
                      IfFinished if_finished = IfFinished::restart) override;
  std::optional<RunRecord> run(const std::string& id) override;
  std::optional<RunRecord> newest_unfinished() override;
  std::vector<RunRecord> recent_runs(size_t limit) override;
  void add_counts(const std::string& id, const RunCounts& delta) override;
  void mark_produced(const std::string& id, Millis now) override;
  void mark_finished(const std::string& id, Millis now) override;
  bool acquire_producer_lease(const std::string& id, const std::string& owner, Millis now, Millis until) override;
  void release_producer_lease(const std::string& id, const std::string& owner) override;
  std::vector<Checkpoint> checkpoints(const std::string& id) override;
  void save_checkpoint(const std::string& id, const Checkpoint& checkpoint,
                       const std::optional<std::string>& lease_owner = std::nullopt) override;
  std::optional<Seconds> last_tick() override;
  void set_last_tick(Seconds tick) override;
  bool claim_tick(Seconds tick) override;
  int64_t skipped_ticks() override;
  void add_skipped_tick() override;
  void record_timeline(const std::string& id, const TimelinePoint& point) override;
  std::vector<TimelinePoint> timeline(const std::string& id) override;

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
