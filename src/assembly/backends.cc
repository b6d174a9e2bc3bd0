#include "assembly/backends.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "aws/client.h"
#include "aws/credentials.h"
#include "aws/endpoints.h"
#include "core/error.h"
#include "observe/log.h"
#include "queue/local_queue.h"
#include "queue/sqs_queue.h"
#include "sentiment/comprehend.h"
#include "sentiment/fasttext.h"
#include "sentiment/vader.h"
#include "store/file_store.h"
#include "state/dynamodb_run_state.h"
#include "state/sqlite_run_state.h"
#include "store/s3_store.h"
#include "table/dynamodb_table.h"
#include "table/import.h"
#include "table/local_table.h"

namespace sentiflow::assembly {
namespace {

std::unique_ptr<Queue> open_pipeline_local_queue(const PipelineConfig& c, const std::string& name,
                                                 bool with_dead_letter, QueueAccess access) {
  LocalQueueSpec o;
  o.state_dir = c.state_dir;
  if (access == QueueAccess::inspect) {
    const auto names = local_queue_names(c.state_dir);
    if (std::find(names.begin(), names.end(), name) == names.end()) return nullptr;
  }
  o.name = name;
  o.visibility_timeout = c.queue.visibility_timeout;
  if (access == QueueAccess::work) o.retention = c.queue.retention;
  o.message_size_limit = c.queue.message_size_limit;
  if (with_dead_letter) o.dead_letter_queue = c.queue.dead_letter;
  o.max_receive_count = c.queue.max_receive_count;
  o.durability = c.queue.durability;
  return open_local_queue(o);
}

// The pipeline file's `aws:` section; unset values fall back to the standard AWS settings.
aws::AwsSettings aws_settings(const PipelineConfig::Aws& aws) {
  aws::AwsSettings s;
  s.region = aws.region;
  s.profile = aws.profile;
  if (aws.endpoint_url) s.endpoint_url = aws.endpoint_url->text;
  return s;
}

aws::AwsClient client_of(const PipelineConfig::Aws& aws, const aws::ServiceInfo& service) {
  const aws::AwsSettings settings = aws_settings(aws);
  return aws::AwsClient::from_settings(service, settings, aws::default_chain(settings));
}

}  // namespace

aws::AwsClient make_aws_client(const PipelineConfig& config, const aws::ServiceInfo& service) {
  return client_of(config.aws, service);
}

std::vector<std::string> local_queue_names(const std::filesystem::path& state_dir) {
  return LocalQueue::list(LocalQueue::file_in(state_dir));
}

std::unique_ptr<Queue> open_local_queue(const LocalQueueSpec& spec) {
  LocalQueueOptions o;
  o.file = LocalQueue::file_in(spec.state_dir);
  o.name = spec.name;
  o.visibility_timeout = spec.visibility_timeout;
  o.retention = spec.retention;
  o.message_size_limit = spec.message_size_limit;
  o.dead_letter_queue = spec.dead_letter_queue;
  o.max_receive_count = spec.max_receive_count;
  o.durability =
      spec.durability == Durability::full ? LocalQueueOptions::Durability::full : LocalQueueOptions::Durability::normal;
  return std::make_unique<LocalQueue>(std::move(o));
}

std::filesystem::path local_table_file(const std::filesystem::path& state_dir, const std::string& name) {
  return LocalTable::file_in(state_dir, name);
}

std::unique_ptr<Table> open_local_table(const std::filesystem::path& state_dir, const std::string& name,
                                        const std::optional<KeySchema>& key) {
  return std::make_unique<LocalTable>(LocalTableOptions{LocalTable::file_in(state_dir, name), name, key});
}

ImportReport import_seed(const PipelineConfig& config, Table& table, bool only_if_empty) {
  if (!config.source.seed) throw invalid_input("the pipeline has no source.seed");
  const auto& path = *config.source.seed;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw invalid_input(fmt::format("source.seed: cannot read {}", path.string()));
  const ImportFormat format = path.extension() == ".csv" ? ImportFormat::csv : ImportFormat::json_lines;
  return import_items(table, config.source.table.uri, in, format, only_if_empty);
}

std::unique_ptr<Table> open_seed_copy(const PipelineConfig& config, const std::filesystem::path& file) {
  auto table = std::make_unique<LocalTable>(
      LocalTableOptions{.file = file, .name = config.source.table.name, .key_schema = KeySchema{config.source.key}});
  import_seed(config, *table, /*only_if_empty=*/false);
  return table;
}

std::unique_ptr<ObjectStore> open_store_directory(const std::filesystem::path& directory, bool create) {
  return std::make_unique<FileStore>(directory, create);
}

std::filesystem::path run_state_dir(const PipelineConfig& config) {
  return config.state_dir / "pipelines" / config.name;
}

std::filesystem::path shared_run_state_file(const PipelineConfig& config) {
  return SqliteRunState::file_in(config.state_dir);
}

std::unique_ptr<RunState> open_existing_run_state(const PipelineConfig& config) {
  const auto own = run_state_dir(config);
  if (std::filesystem::exists(SqliteRunState::file_in(own))) return std::make_unique<SqliteRunState>(own);
  if (std::filesystem::exists(shared_run_state_file(config))) return std::make_unique<SqliteRunState>(config.state_dir);
  return nullptr;
}

std::unique_ptr<Table> open_table(const PipelineConfig& config, bool create) {
  const TableLocation& t = config.source.table;
  if (t.backend == TableLocation::Backend::dynamodb) {
    // The table's own key schema (DescribeTable): source.key may name another string attribute.
    DynamoDbTableOptions options;
    options.name = t.name;
    try {
      return std::make_unique<DynamoDbTable>(
          std::make_shared<const aws::AwsClient>(make_aws_client(config, aws::kDynamoDb)), options);
    } catch (const Error& e) {
      // The pipeline file names a table that is not there: the user's to fix (exit status 2),
      // as for a local table; the message says which table, in which region, at which endpoint.
      if (e.code() != ErrorCode::not_found) throw;
      throw invalid_input(
          fmt::format("source table {}: {}; create it first (aws dynamodb create-table) or fix "
                      "source.table and the aws settings",
                      t.uri, e.what()));
    }
  }
  const auto file = LocalTable::file_in(config.state_dir, t.name);
  if (!create && !std::filesystem::exists(file))
    throw invalid_input(fmt::format("table {} does not exist ({})", t.uri, file.string()));
  return std::make_unique<LocalTable>(LocalTableOptions{file, t.name, KeySchema{config.source.key}});
}

// An SQS queue by name or URL. `work` creates it (and its dead-letter queue, named in its
// RedrivePolicy: dead-lettering is SQS's own) with the pipeline file's attributes; `inspect`
// gives nullptr for a queue that does not exist.
std::unique_ptr<Queue> open_sqs_queue(const PipelineConfig& c, const std::string& queue, bool with_dead_letter,
                                      QueueAccess access) {
  SqsQueueOptions options;
  options.queue = queue;
  if (access == QueueAccess::work) {
    SqsQueueAttributes a;
    a.visibility_timeout = c.queue.visibility_timeout;
    a.retention = c.queue.retention;
    a.message_size_limit = c.queue.message_size_limit;
    if (with_dead_letter) a.dead_letter_queue = c.queue.dead_letter;
    a.max_receive_count = c.queue.max_receive_count;
    options.create = a;
  }
  try {
    return std::make_unique<SqsQueue>(std::make_shared<const aws::AwsClient>(make_aws_client(c, aws::kSqs)), options);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::not_found) throw;
    if (access == QueueAccess::inspect) return nullptr;
    // Only a queue given by URL can be missing here (one given by name is created): the
    // pipeline file names a queue that is not there, the user's to fix (exit status 2).
    throw invalid_input(
        fmt::format("{}; fix queue.url in the pipeline file, or name the queue (sqs://NAME) to have "
                    "it created",
                    e.what()));
  }
}

std::unique_ptr<Queue> open_queue(const PipelineConfig& config, QueueAccess access) {
  const QueueLocation& q = config.queue.url;
  if (q.backend == QueueLocation::Backend::sqs)
    return open_sqs_queue(config, q.queue_url.empty() ? q.name : q.queue_url, true, access);
  return open_pipeline_local_queue(config, q.name, true, access);
}

std::unique_ptr<Queue> open_dead_letter_queue(const PipelineConfig& config, QueueAccess access) {
  if (config.queue.url.backend == QueueLocation::Backend::sqs)
    return open_sqs_queue(config, config.queue.dead_letter, false, access);
  return open_pipeline_local_queue(config, config.queue.dead_letter, false, access);
}

SinkStore open_sink_store(const PipelineConfig& config, bool create) {
  const StoreLocation& s = config.sink.store;
  if (s.backend == StoreLocation::Backend::s3) {
    // The sink's keys live under the prefix; the store itself is the bucket.
    S3StoreOptions options;
    options.bucket = s.bucket;
    auto store = std::make_unique<S3Store>(make_aws_client(config, aws::kS3), options);
    // Before work is taken: without its bucket, every result would fail to store and its
    // message run out of receives into the dead-letter queue. The bucket is the user's (a
    // stack's), never created here.
    if (create) {
      try {
        store->check_bucket();
      } catch (const Error& e) {
        if (e.code() != ErrorCode::not_found) throw;
        throw invalid_input(
            fmt::format("sink store {}: {}; create it first (aws s3api create-bucket --bucket {}) or "
                        "fix sink.store and the aws settings",
                        s.uri, e.what(), s.bucket));
      }
    }
    return SinkStore{std::move(store), s.prefix};
  }
  // The results are as durable as the queue they come from: fsynced with `durability: full`;
  // with `normal` (a commit survives the process, not the machine) an fsync per object would
  // cost more than the queue's own commits and promise more than the pipeline keeps.
  const bool sync = config.queue.durability == Durability::full;
  return SinkStore{std::make_unique<FileStore>(s.directory, create, sync), ""};
}

SinkStore open_existing_sink_store(const PipelineConfig& config) {
  const StoreLocation& location = config.sink.store;
  std::error_code ec;
  if (location.backend == StoreLocation::Backend::file && !std::filesystem::exists(location.directory, ec)) return {};
  return open_sink_store(config, /*create=*/false);
}

std::unique_ptr<sentiment::Analyzer> make_analyzer(const PipelineConfig::Sentiment& sentiment,
                                                   const PipelineConfig::Aws& aws, const LexiconFiles& lexicons) {
  if (sentiment.engine == SentimentEngine::comprehend) {
    sentiment::ComprehendAnalyzer::Options options;
    options.language = sentiment.language;
    options.concurrency = sentiment.concurrency;
    return std::make_unique<sentiment::ComprehendAnalyzer>(
        std::make_shared<const aws::AwsClient>(client_of(aws, aws::kComprehend)), options);
  }
  if (sentiment.engine == SentimentEngine::fasttext) {
    sentiment::FastTextAnalyzer::Options options;
    options.model = sentiment.model;
    options.neutral_threshold = sentiment.neutral_threshold;
    for (const auto& [label, name] : sentiment.labels) {
      const auto c = sentiment::label_named(name);
      if (!c) throw invalid_input(fmt::format("sentiment.labels: '{}' is no class", name));
      options.labels.emplace(label, *c);
    }
    return std::make_unique<sentiment::FastTextAnalyzer>(options);
  }
  sentiment::VaderAnalyzer::Options options;
  options.mixed_threshold = sentiment.mixed_threshold;
  options.lexicon_file = lexicons.vader;
  options.emoji_lexicon_file = lexicons.emoji;
  return std::make_unique<sentiment::VaderAnalyzer>(options);
}

std::unique_ptr<sentiment::Analyzer> make_analyzer(const PipelineConfig& config) {
  return make_analyzer(config.sentiment, config.aws);
}

std::string queue_arn(const PipelineConfig& config) {
  // The account is in an SQS URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME); a queue
  // named without its URL, or a local one, shows the placeholder account AWS's examples use.
  std::string account = "000000000000";
  const std::string& url = config.queue.url.queue_url;
  if (const auto last = url.rfind('/'); last != std::string::npos && last > 0)
    if (const auto before = url.rfind('/', last - 1); before != std::string::npos)
      account = url.substr(before + 1, last - before - 1);
  return fmt::format("arn:aws:sqs:{}:{}:{}", queue_region(config), account, config.queue.url.name);
}

std::string aws_location(const PipelineConfig& config, const aws::ServiceInfo& service) {
  const aws::AwsSettings settings = aws_settings(config.aws);
  const auto& env = aws::process_environment();
  const std::string region = aws::resolve_region(settings, env);
  return fmt::format("region {}, endpoint {}", region, aws::resolve_endpoint(service, region, settings, env));
}

std::string queue_region(const PipelineConfig& config) {
  if (config.queue.url.backend == QueueLocation::Backend::local) return "local";
  return aws::resolve_region(aws_settings(config.aws), aws::process_environment());
}

std::unique_ptr<RunState> open_run_state(const PipelineConfig& config, RunStateStore where) {
  if (where == RunStateStore::local) {
    const auto shared = shared_run_state_file(config);
    static std::once_flag warned;
    if (std::filesystem::exists(shared))
      std::call_once(warned, [&] {
        log::warn(
            "the state folder holds runs of an older sentiflow, shared by every pipeline of the folder; they are "
            "not resumed or finished. If they are this pipeline's, stop its processes and move the file",
            {{"pipeline", config.name},
             {"file", shared.string()},
             {"move_to", SqliteRunState::file_in(run_state_dir(config)).string()}});
      });
    return std::make_unique<SqliteRunState>(run_state_dir(config));
  }
  DynamoDbRunStateOptions options;
  options.table = DynamoDbRunState::table_name_for(config.name);
  try {
    return std::make_unique<DynamoDbRunState>(
        std::make_shared<const aws::AwsClient>(make_aws_client(config, aws::kDynamoDb)), std::move(options));
  } catch (const Error& e) {
    // The stack's table is not where the settings point (another region or endpoint, another
    // name): the user's to fix (exit status 2), as for a missing source table. The message
    // names the table, the region and the endpoint.
    if (e.code() != ErrorCode::not_found) throw;
    throw invalid_input(
        fmt::format("run state: {}; deploy the stack (its template creates the table), or fix "
                    "SENTIFLOW_STATE_TABLE and the aws settings",
                    e.what()));
  }
}

}  // namespace sentiflow::assembly
