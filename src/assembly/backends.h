// The backend factory: turns the URIs of a pipeline file into objects (DESIGN.md, "Where it
// runs"). The only place that names concrete backends: the runners, the Lambda handlers and
// every command open their parts here, and pipeline/ sees interfaces only.
//
// The AWS backends (dynamodb://, sqs://, s3://, engine: comprehend) take their credentials,
// region and endpoint from the pipeline file's `aws:` section, else the standard AWS settings
// (docs/AWS.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.h"
#include "aws/endpoints.h"
#include "config/pipeline_config.h"
#include "queue/queue.h"
#include "sentiment/analyzer.h"
#include "state/run_state.h"
#include "store/object_store.h"
#include "table/local_table.h"
#include "table/table.h"

namespace sentiflow::assembly {

// The source table. `create`: create a missing local table (with the key schema
// {source.key}); else a missing table is Error(invalid_input). A DynamoDB table is never
// created; a missing one is Error(invalid_input) naming it, the region and the endpoint.
std::unique_ptr<Table> open_table(const PipelineConfig& config, bool create);

// How a queue is opened: `work` creates it when missing and applies the pipeline file's
// settings (retention is a stored attribute of a queue); `inspect` changes nothing and gives
// nullptr for a queue that does not exist (status, results).
enum class QueueAccess { work, inspect };

// The queue with its dead-letter queue and receive limit, as the pipeline file sets them.
std::unique_ptr<Queue> open_queue(const PipelineConfig& config, QueueAccess access = QueueAccess::work);
// The dead-letter queue itself (to count and redrive its messages).
std::unique_ptr<Queue> open_dead_letter_queue(const PipelineConfig& config, QueueAccess access = QueueAccess::work);

// The sink's object store and the prefix of the sink's keys in it ("" for a directory).
struct SinkStore {
  std::unique_ptr<ObjectStore> store;
  std::string prefix;
};
// `create`: create a missing directory; else a missing one is Error(invalid_input). An S3
// bucket is never created; with `create` (a run, about to store) it must exist (HeadBucket),
// else Error(invalid_input) naming the bucket, the region and the endpoint.
SinkStore open_sink_store(const PipelineConfig& config, bool create);
// The sink store for reading what runs stored (results, status, eval): a null store when the
// sink is a directory that does not exist yet (no run has stored anything, which is not an
// error); else open_sink_store(config, /*create=*/false), with its errors.
SinkStore open_existing_sink_store(const PipelineConfig& config);

// Lexicon files that replace VADER's built-in copies (`sentiflow sentiment --lexicon`); empty:
// the built-in ones.
struct LexiconFiles {
  std::string vader;
  std::string emoji;
};

// The analyzer of sentiment.engine with its options: VADER, fastText (its model loaded and its
// labels mapped), or Comprehend reached with the `aws` settings over the standard ones. Throws
// Error(invalid_input) for bad options or AWS settings, what VaderAnalyzer throws for a lexicon
// file and what FastTextAnalyzer throws for a model. Every analyzer of the tool is made
// here: the consumer's, `sentiment`'s and `eval`'s.
std::unique_ptr<sentiment::Analyzer> make_analyzer(const PipelineConfig::Sentiment& sentiment,
                                                   const PipelineConfig::Aws& aws, const LexiconFiles& lexicons = {});
// The pipeline's analyzer: make_analyzer(config.sentiment, config.aws).
std::unique_ptr<sentiment::Analyzer> make_analyzer(const PipelineConfig& config);

// Where open_run_state keeps the state.
enum class RunStateStore { local, dynamodb };

// The folder of the pipeline's own local run state, `<state_dir>/pipelines/<name>/`: its runs,
// checkpoints, ticks, timelines (state.sqlite) and scheduler lock. Per pipeline name, so that
// pipelines sharing a state_dir (and its tables and queues, which go by their own names) never
// adopt, resume or finish each other's runs (DESIGN.md, "Runs").
std::filesystem::path run_state_dir(const PipelineConfig& config);
// `<state_dir>/state.sqlite`: where every pipeline of a state_dir kept its runs before they had
// a folder each. Never written by a runner (it cannot tell whose runs they are); read by
// open_existing_run_state while the pipeline has no state of its own.
std::filesystem::path shared_run_state_file(const PipelineConfig& config);

// The pipeline's run state: `local` is SqliteRunState in run_state_dir(config) (with a warning,
// once per process, when shared_run_state_file(config) exists: how to make those runs the
// pipeline's own); `dynamodb` is
// DynamoDbRunState on the table `<config.name>-state` (env SENTIFLOW_STATE_TABLE overrides
// the name), with the pipeline's AWS settings (as the dynamodb:// backend), which must exist
// (the SAM template creates it): a missing table is Error(invalid_input) naming it, the region
// and the endpoint. Otherwise throws what the constructors throw.
std::unique_ptr<RunState> open_run_state(const PipelineConfig& config, RunStateStore where);
// The pipeline's local run state for reading (status, report, eval): the one in
// run_state_dir(config); while that has none, the shared file of an older sentiflow when there
// is one; null when neither exists (no run recorded yet, which is not an error).
std::unique_ptr<RunState> open_existing_run_state(const PipelineConfig& config);

// The parts of a state directory by name, for the commands that inspect and repair them
// without a pipeline file (`queue|table --state-dir`, `store --store DIR`).

// A queue by name in a state directory, with the settings it is opened with.
struct LocalQueueSpec {
  std::filesystem::path state_dir;
  std::string name;
  std::chrono::milliseconds visibility_timeout{30'000};
  // The queue's stored retention is set to this; nullopt keeps the stored one (to inspect).
  std::optional<std::chrono::milliseconds> retention{};
  uint64_t message_size_limit = 256 * 1024;
  std::string dead_letter_queue{};  // empty: none (never created)
  int max_receive_count = 5;
  Durability durability = Durability::normal;
};
// The names of the queues in `state_dir`'s queue file, sorted; none when it has no such file.
std::vector<std::string> local_queue_names(const std::filesystem::path& state_dir);
// The queue (created, with its dead-letter queue, when missing). Throws what LocalQueue throws.
std::unique_ptr<Queue> open_local_queue(const LocalQueueSpec& spec);
// Imports source.seed (JSON Lines, or CSV by its `.csv` extension) into `table`, as
// import_items does (table/import.h) with `only_if_empty`. Error(invalid_input) when the
// pipeline has no seed or the file cannot be read.
ImportReport import_seed(const PipelineConfig& config, Table& table, bool only_if_empty);
// A local table in `file` (a scratch file, empty or not there) holding source.seed's items:
// a seeded pipeline's items before its first run made its table (`sentiflow cost`).
std::unique_ptr<Table> open_seed_copy(const PipelineConfig& config, const std::filesystem::path& file);

// The file of local table `name` in `state_dir` (it may not exist).
std::filesystem::path local_table_file(const std::filesystem::path& state_dir, const std::string& name);
// Local table `name` of `state_dir`; created with `key` when missing (without a key a missing
// table is the LocalTable's error).
std::unique_ptr<Table> open_local_table(const std::filesystem::path& state_dir, const std::string& name,
                                        const std::optional<KeySchema>& key);
// A directory as an object store; `create`: create it when missing, else a missing one is
// Error(invalid_input).
std::unique_ptr<ObjectStore> open_store_directory(const std::filesystem::path& directory, bool create);

// What Lambda's SQS event calls the queue: its ARN and region ("arn:aws:sqs:local:
// 000000000000:NAME" and "local" for a local queue).
std::string queue_arn(const PipelineConfig& config);
std::string queue_region(const PipelineConfig& config);

// A client of `service` with this pipeline's AWS settings: the pipeline file's `aws:` section
// over the standard settings, and the default credentials chain (docs/AWS.md); what every AWS
// backend, and the run state on DynamoDB, is reached with. Throws Error(invalid_input) as
// AwsClient::from_settings does (no region, a bad endpoint setting).
aws::AwsClient make_aws_client(const PipelineConfig& config, const aws::ServiceInfo& service);

// Where `service` is for this pipeline, "region us-east-1, endpoint https://…", for error
// messages about a missing AWS resource. Throws Error(invalid_input) as AwsClient::from_settings
// does (no region, a bad endpoint setting).
std::string aws_location(const PipelineConfig& config, const aws::ServiceInfo& service);

}  // namespace sentiflow::assembly
