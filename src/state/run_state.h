// Run state: what the runners remember between processes, restarts and invocations — runs,
// producer checkpoints and leases, the scheduler's last tick, per-run metric timelines
// (DESIGN.md, "Runs"). Five small interfaces, one per kind of user: RunLog (the runs and their
// counts: every runner, status, report, eval), ProducerLease (a run's producer lease and scan
// checkpoints: the producers), TickLog (the scheduler's ticks: the local scheduler and the
// Lambda producer), RunTimeline (per-second points: the local runner and `report`) and
// FingerprintLog (what each key's stored result was made from: incremental scans). RunState
// is all five; SqliteRunState (state/sqlite_run_state.h, local) and DynamoDbRunState
// (state/dynamodb_run_state.h, Lambda, which has no durable disk) implement it, and one
// conformance suite (tests/state/run_state_conformance.h) runs on both. assembly/ opens the
// pipeline's (assembly::open_run_state).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"
#include "table/table.h"

namespace sentiflow {

enum class RunKind { scheduled, manual, backfill };
enum class RunPhase { producing, draining, finished };

std::string_view to_string(RunKind kind);
std::string_view to_string(RunPhase phase);
// The kind and phase that to_string names `text`; nullopt for any other text.
std::optional<RunKind> parse_run_kind(std::string_view text);
std::optional<RunPhase> parse_run_phase(std::string_view text);

// A run's work in the units AWS bills by, counted as it happens, whichever runner does it
// (pipeline/cost.h prices it; docs/COST.md says how each is counted). Close, not exact, as the
// counts below.
struct BilledWork {
  int64_t comprehend_units = 0;  // Σ over the texts analysed: 100 characters a unit, 3 at least
  int64_t scan_read_units = 0;   // DynamoDB read units of the scan's pages (strongly consistent)
  int64_t pages = 0;             // scan pages
  int64_t sqs_requests = 0;      // the sends, receives and deletes, in requests as SQS bills them
  int64_t batches = 0;           // consumer batches: Lambda invocations
  int64_t batch_ms = 0;          // the batches' time, summed
  int64_t objects = 0;           // sink objects written: S3 PUTs
  // Not billed: the Comprehend units of the texts an incremental scan did not send, for what
  // it saved (pipeline/cost.h, saved_by_incremental).
  int64_t unchanged_comprehend_units = 0;
  int64_t producer_ms = 0;  // the producer's pages' time, summed over its segments

  BilledWork& operator+=(const BilledWork& other);
  bool operator==(const BilledWork&) const = default;

  // Every field by name (the run state's column and attribute names, the JSON's members).
  static constexpr std::array<std::pair<const char*, int64_t BilledWork::*>, 9> kFields{{
      {"comprehend_units", &BilledWork::comprehend_units},
      {"scan_read_units", &BilledWork::scan_read_units},
      {"pages", &BilledWork::pages},
      {"sqs_requests", &BilledWork::sqs_requests},
      {"batches", &BilledWork::batches},
      {"batch_ms", &BilledWork::batch_ms},
      {"objects", &BilledWork::objects},
      {"unchanged_comprehend_units", &BilledWork::unchanged_comprehend_units},
      {"producer_ms", &BilledWork::producer_ms},
  }};
};

// {"comprehend_units": .., ...}: every field of kFields.
nlohmann::json to_json(const BilledWork& work);

// Counts of one run, added to by every process that works on it. Close, not exact: a batch that
// is processed again after a crash counts again, and one whose process dies between its
// acknowledgement and its count is not counted (`sentiflow results` is exact).
struct RunCounts {
  int64_t scanned = 0;                    // items read from the table
  int64_t sent = 0;                       // messages sent
  int64_t producer_errors = 0;            // items that became error records
  int64_t processed = 0;                  // records stored by consumers
  int64_t failed = 0;                     // messages that failed in a consumer (error records)
  int64_t dead_letters = 0;               // messages of this run moved to the dead-letter queue
  int64_t unchanged = 0;                  // items an incremental scan did not send: unchanged
  std::map<std::string, int64_t> labels;  // "POSITIVE" -> records stored
  BilledWork work;                        // what AWS would bill for the run's work

  RunCounts& operator+=(const RunCounts& other);
};

struct RunRecord {
  std::string id;
  RunKind kind = RunKind::manual;
  RunPhase phase = RunPhase::producing;
  int attempt = 1;                      // 2 and up after a re-run of a finished run
  Millis started_at{};                  // of this attempt
  std::optional<Millis> produced_at{};  // when the producer finished
  std::optional<Millis> finished_at{};
  RunCounts counts;
};

// The run as `sentiflow status --json`, the dashboard and reports show it: id, kind, state,
// attempt, started_at, produced_at, finished_at (UTC text or null), the counts, labels, work
// (BilledWork), and seconds (finished_at - started_at, or null).
nlohmann::json to_json(const RunRecord& run);

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

// Every interface below: implementations are safe to share between threads and between
// processes; every write is atomic on its own (no call leaves half a change behind). Failures
// throw Error (core/error.h): not_found for a run that does not exist where a method says so,
// conflict for a refused owner-checked write, transient or throttled when the store is busy,
// invalid_input/internal as the implementation says.

// RunLog: the runs, their phases and their counts.
class RunLog {
 public:
  virtual ~RunLog() = default;

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
  // moved back). A run that does not exist: not_found (also for mark_finished).
  virtual void mark_produced(const std::string& id, Millis now) = 0;
  // Phase finished, finished_at = now; a run already finished keeps its first finished_at, so
  // several processes may each see the run drained and mark it. The run's checkpoints are
  // removed (a finished run is never produced from them again; a restart starts from the
  // table's start): on DynamoDB this keeps the per-tick Scan at one item per finished run.
  // DynamoDB removes them after the finish, best effort (a failure is logged, not thrown).
  virtual void mark_finished(const std::string& id, Millis now) = 0;
};

// ProducerLease: who produces a run, and where its scan stands.
class ProducerLease {
 public:
  virtual ~ProducerLease() = default;

  // The producer lease of run `id`: true when `owner` now holds it until `until` — there was
  // no lease, the lease had expired (its until <= now), or `owner` already held it (a
  // renewal, which moves `until`). false when another owner holds an unexpired lease (nothing
  // changes). Atomic (a conditional write): of two owners racing, at most one gets true. A run
  // that does not exist: not_found.
  virtual bool acquire_producer_lease(const std::string& id, const std::string& owner, Millis now, Millis until) = 0;
  // Ends `owner`'s lease of run `id`; a no-op when another owner holds it, when there is none,
  // or when the run does not exist.
  virtual void release_producer_lease(const std::string& id, const std::string& owner) = 0;

  // The run's checkpoints, one per segment that has one, by segment; none for an unknown run.
  virtual std::vector<ScanCheckpoint> checkpoints(const std::string& id) = 0;
  // Inserts or replaces the checkpoint of (run, checkpoint.segment). With `lease_owner`, the
  // write happens only while that owner holds the run's lease (atomically with the check;
  // expiry is not checked here, only who holds it), else Error(conflict): a producer whose
  // lease was taken over must not move the checkpoint back. A run that does not exist:
  // not_found.
  virtual void save_checkpoint(const std::string& id, const ScanCheckpoint& checkpoint,
                               const std::optional<std::string>& lease_owner = std::nullopt) = 0;
};

// TickLog: the schedule's ticks.
class TickLog {
 public:
  virtual ~TickLog() = default;

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
  // be delivered more than once, starts at most one run (docs/LAMBDA.md, "Handlers").
  virtual bool claim_tick(Seconds tick) = 0;
  virtual int64_t skipped_ticks() = 0;
  virtual void add_skipped_tick() = 0;
};

// RunTimeline: a run's per-second metric points.
class RunTimeline {
 public:
  virtual ~RunTimeline() = default;

  // Appends (or replaces) the run's point at `point.at`; a run that does not exist:
  // not_found. `point.json` is stored as given.
  virtual void record_timeline(const std::string& id, const TimelinePoint& point) = 0;
  // The run's timeline, oldest first (empty for an unknown run).
  virtual std::vector<TimelinePoint> timeline(const std::string& id) = 0;
};

// FingerprintLog: for each key of the source table, the fingerprint of the text (or of the
// enrich inputs) whose result was last stored — what an incremental scan compares an item with
// to skip it (docs/RUNNING.md, "Incremental scans"). Kept across runs; a key is never removed.
class FingerprintLog {
 public:
  virtual ~FingerprintLog() = default;

  // The recorded fingerprint of each of `keys` that has one (keys without one are absent).
  virtual std::map<std::string, std::string> fingerprints(const std::vector<std::string>& keys) = 0;
  // Records each key's fingerprint, replacing the one before. Atomic per key, not for all.
  virtual void record_fingerprints(const std::map<std::string, std::string>& fingerprints) = 0;
};

// RunState: the whole run state store, as the runners hold it.
class RunState : public RunLog, public ProducerLease, public TickLog, public RunTimeline, public FingerprintLog {};

}  // namespace sentiflow
