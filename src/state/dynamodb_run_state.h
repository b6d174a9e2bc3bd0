// DynamoDbRunState: RunState (runtime/run_state.h) in one DynamoDB table, for Lambda, which has
// no durable disk. Over the JSON 1.0 protocol through aws::AwsClient (signing, retries, error
// mapping), as table/dynamodb_table.h.
//
// The table (docs/RUNNING.md, "Run state on DynamoDB"): key `pk` (S, HASH) + `sk` (S, RANGE),
// PAY_PER_REQUEST. Items:
//   pk "run#<id>"  sk "run"                  the RunRecord: id, kind, phase (S), attempt (N),
//                                            started_at, produced_at, finished_at (N, ms; the
//                                            last two absent until set), the six counts (N),
//                                            labels (M of N)
//   pk "run#<id>"  sk "lease"                the producer lease: owner (S), until (N, ms)
//   pk "run#<id>"  sk "checkpoint#<segment>" one ScanCheckpoint (segment zero-padded to 6 digits)
//   pk "run#<id>"  sk "timeline#<seconds>"   one TimelinePoint (seconds zero-padded to 12)
//   pk "scheduler" sk "scheduler"            last_tick (N, s), skipped_ticks (N)
// The lease has an item of its own, apart from the run, because owner-checked checkpoints are
// transactions (TransactWriteItems: a ConditionCheck of the lease, the Put of the checkpoint),
// and a transaction makes concurrent writes to the items it touches fail: on the run item it
// would collide with every consumer's add_counts.
//
// Every write is one request carrying its condition, never a read-modify-write: creating a
// run is a PutItem with attribute_not_exists(pk) (of two racing creators one wins and the
// other reads the winner's run); restarting a finished run deletes its lease, checkpoint and
// timeline items in transactions conditioned on the run still being finished at the attempt
// it saw, then resets the run item under the same condition; add_counts is one UpdateItem
// (ADD for the counts, SET labels.#l = if_not_exists(labels.#l, 0) + n for the labels); the
// lease is an UpdateItem/DeleteItem conditioned on its owner and expiry; writes to a run's
// items require the run item (attribute_exists, or a check of the run: runs are never deleted,
// so a run seen once exists for good). DynamoDB reports a failed condition and a collision
// with a concurrent transaction alike (both map to ErrorCode::conflict), so after a conflict
// the item is read again (strongly consistent) and the state decides: the condition really
// failed (lease false, Error(conflict), not_found, or nothing to do) or the write is tried
// again, up to 8 times with a short jittered backoff (then Error(transient)). A conflict is
// never retried blindly.
//
// newest_unfinished and recent_runs Scan the table for the run items (sk = "run"): the table
// holds a handful of runs a day (one per schedule tick) plus their checkpoints and timelines,
// and a Scan spares a global secondary index that every stack would create and pay for. The
// Scan reads every item, not only the run items. The producer handler Scans once per claimed
// tick (newest_unfinished); there each finished run is one item (its lease is released and
// mark_finished deletes its checkpoints; the Lambda handlers record no timeline), an
// unfinished one 1 + a lease + one checkpoint per segment. Run items are never deleted, so the
// Scan grows by one item (~300 bytes) per tick: a year of hourly ticks is ~2.6 MB, ~650 read
// units per Scan (docs/LAMBDA.md, "Run state on Lambda").
//
// claim_tick is one UpdateItem on the scheduler item conditioned on
// attribute_not_exists(last_tick) OR last_tick < :tick; ConditionalCheckFailedException is
// false, never tried again.
//
// Safe to share between threads: its only mutable state is the set of run ids seen to exist
// (guarded); the AwsClient is thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.h"
#include "state/run_state.h"

namespace sentiflow {

struct DynamoDbRunStateOptions {
  std::string table;  // the DynamoDB table: 3-255 of A-Z a-z 0-9 _ - .
  // Create the table when it does not exist (CreateTable, PAY_PER_REQUEST), then wait until it
  // is ACTIVE. For tests and local use; on AWS the SAM template creates it.
  bool create_if_missing = false;
  std::chrono::seconds create_timeout{300};
  // How to wait for table creation; empty: std::this_thread::sleep_for.
  std::function<void(std::chrono::milliseconds)> sleep{};
};

class DynamoDbRunState final : public RunState {
 public:
  // Opens table `options.table` through `client` (a DynamoDB client, aws::kDynamoDb), checking
  // it with DescribeTable (and creating it with create_if_missing). Throws
  // Error(invalid_input) for a bad name or a table whose key schema is not pk/sk (S);
  // Error(not_found) when it does not exist and may not be created; the client's Errors.
  DynamoDbRunState(std::shared_ptr<const aws::AwsClient> client, DynamoDbRunStateOptions options);
  ~DynamoDbRunState() override;
  DynamoDbRunState(const DynamoDbRunState&) = delete;
  DynamoDbRunState& operator=(const DynamoDbRunState&) = delete;

  // The table's name for a pipeline named `pipeline_name`: SENTIFLOW_STATE_TABLE when set and
  // not empty, else "<pipeline_name>-state".
  static std::string table_name_for(const std::string& pipeline_name);

  RunRecord start_run(const std::string& id, RunKind kind, Millis now,
                      IfFinished if_finished = IfFinished::restart) override;
  std::optional<RunRecord> run(const std::string& id) override;
  std::optional<RunRecord> newest_unfinished() override;      // Scan
  std::vector<RunRecord> recent_runs(size_t limit) override;  // Scan
  void add_counts(const std::string& id, const RunCounts& delta) override;
  void mark_produced(const std::string& id, Millis now) override;
  void mark_finished(const std::string& id, Millis now) override;
  bool acquire_producer_lease(const std::string& id, const std::string& owner, Millis now, Millis until) override;
  void release_producer_lease(const std::string& id, const std::string& owner) override;
  std::vector<ScanCheckpoint> checkpoints(const std::string& id) override;
  void save_checkpoint(const std::string& id, const ScanCheckpoint& checkpoint,
                       const std::optional<std::string>& lease_owner = std::nullopt) override;
  std::optional<Seconds> last_tick() override;
  void set_last_tick(Seconds tick) override;
  bool claim_tick(Seconds tick) override;  // one conditional UpdateItem
  int64_t skipped_ticks() override;
  void add_skipped_tick() override;
  void record_timeline(const std::string& id, const TimelinePoint& point) override;
  std::vector<TimelinePoint> timeline(const std::string& id) override;

  // Deletes the DynamoDB table (DeleteTable); for tests. The object is unusable afterwards.
  void drop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sentiflow
