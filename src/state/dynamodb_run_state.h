// DynamoDbRunState: RunState (state/run_state.h) in one DynamoDB table, for Lambda, which has
// no durable disk. Over the JSON 1.0 protocol through aws::AwsClient (signing, retries, error
// mapping), as table/dynamodb_table.h.
//
// The table's layout (key `pk`/`sk`, PAY_PER_REQUEST; an item for each run, its lease, each of
// its checkpoints and timeline points, and one for the scheduler), the conditional write
// behind each method, and what the Scans of newest_unfinished and recent_runs read:
// docs/RUNNING.md, "Run state on DynamoDB". How large that Scan grows on Lambda:
// docs/LAMBDA.md, "Run state on Lambda".
//
// Every write is one request carrying its condition, never a read-modify-write. DynamoDB
// reports a failed condition and a collision with a transaction alike (ErrorCode::conflict),
// so after a conflict the item is read again and the state decides: the condition really
// failed (false, Error(conflict) or Error(not_found), as state/run_state.h gives each method)
// or the write is tried again, up to 8 times, then Error(transient). A conflict is never
// retried blindly.
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

// Its implementation is long (some 500 lines of dynamodb_run_state.cc) because each of
// RunState's 20 operations is its own conditional request with its own reading of a refusal;
// the Impl holds only what they share (the client, the options, the runs seen).
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
  // One conditional UpdateItem; false when the condition fails (never tried again).
  bool claim_tick(Seconds tick) override;
  int64_t skipped_ticks() override;
  void add_skipped_tick() override;
  void record_timeline(const std::string& id, const TimelinePoint& point) override;
  std::vector<TimelinePoint> timeline(const std::string& id) override;
  std::map<std::string, std::string> fingerprints(const std::vector<std::string>& keys) override;
  void record_fingerprints(const std::map<std::string, std::string>& fingerprints) override;

  // Deletes the DynamoDB table (DeleteTable); for tests. The object is unusable afterwards.
  void drop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sentiflow
