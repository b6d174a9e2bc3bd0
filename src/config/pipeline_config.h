// PipelineConfig: the validated, typed form of a pipeline file (DESIGN.md, "The pipeline file").
//
// Produced only by load_pipeline() (config/loader.h), so every value here has passed its
// type and range checks, relative paths are absolute and computed defaults are filled in.
// A plain value: copy it freely and share it read-only between threads.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "config/values.h"
#include "schedule/schedule.h"

namespace sentiflow {

// Where the items come from: `local://NAME` (SQLite under state_dir) or `dynamodb://NAME`.
struct TableLocation {
  enum class Backend { local, dynamodb };
  Backend backend = Backend::local;
  std::string name;
  std::string uri;  // canonical text, e.g. "local://companies"
};

// The queue: `local://NAME`, `sqs://NAME` or `sqs://https://sqs.<region>.amazonaws.com/<acct>/NAME`.
struct QueueLocation {
  enum class Backend { local, sqs };
  Backend backend = Backend::local;
  std::string name;       // the queue's name (last path segment of a URL)
  std::string queue_url;  // sqs only: the full queue URL when one was given, else empty
  std::string uri;
};

// The object store: a directory (`file://` or a path) or `s3://BUCKET/PREFIX/`.
struct StoreLocation {
  enum class Backend { file, s3 };
  Backend backend = Backend::file;
  std::filesystem::path directory;  // file: absolute, lexically normal
  std::string bucket;               // s3
  std::string prefix;               // s3: empty or ending in '/'
  std::string uri;                  // canonical: "file:///abs/dir/" or "s3://bucket/prefix/"
};

enum class CatchUp { latest, none };
enum class Durability { normal, full };
enum class SentimentEngine { vader, comprehend, fasttext };
enum class SinkFormat { jsonl, csv };
enum class Compression { none, gzip };

// One member per top-level key of the pipeline file (docs/PIPELINE.md, "Reference"), and
// `file`: more than a dozen because the file has that many.
struct PipelineConfig {
  std::filesystem::path file;  // absolute path of the pipeline file
  std::string name;
  std::optional<Schedule> schedule;  // none: manual runs only
  CatchUp catch_up = CatchUp::latest;
  std::filesystem::path state_dir;

  struct Source {
    TableLocation table;
    std::string key;
    std::optional<std::string> text;  // required unless consumer.enrich is set
    std::optional<std::filesystem::path> seed;
    int segments = 1;
    int page_size = 1000;
    bool incremental = false;  // send only items whose text (or enrich inputs) changed
  } source;

  struct Queue {
    QueueLocation url;
    Duration visibility_timeout{};
    int max_receive_count = 5;
    std::string dead_letter;
    uint64_t message_size_limit = 0;
    Duration retention{};
    Durability durability = Durability::normal;
  } queue;

  struct Enrich {
    std::string url;   // template; {attr} is replaced by the URL-encoded attribute
    std::string text;  // JSON pointer into the response
    Duration timeout{};
    int retries = 3;
    int concurrency = 8;
    double rate_limit = 50;
    std::string user_agent;
    int cache_entries = 10000;
    Duration cache_ttl{};
  };

  struct Consumer {
    int batch_size = 10;
    Duration batch_window{};
    int min_concurrency = 1;
    int max_concurrency = 1;
    std::optional<Enrich> enrich;
  } consumer;

  struct Sentiment {
    SentimentEngine engine = SentimentEngine::vader;
    std::string language = "en";
    double mixed_threshold = 0.2;
    int concurrency = 4;
    std::string model = "builtin";              // fasttext: "builtin" or an absolute path
    std::map<std::string, std::string> labels;  // fasttext: label -> POSITIVE | NEGATIVE | NEUTRAL | MIXED
    double neutral_threshold = 0.6;             // fasttext: NEUTRAL under this, for models without it
  } sentiment;

  struct Sink {
    StoreLocation store;
    SinkFormat format = SinkFormat::jsonl;
    Compression compression = Compression::none;
  } sink;

  // Unset values fall back to the standard AWS settings (environment, profile files).
  struct Aws {
    std::optional<std::string> region;
    std::optional<std::string> profile;
    std::optional<Url> endpoint_url;
  } aws;

  struct Lambda {
    std::chrono::seconds timeout{};
    // Whether the pipeline file itself wrote lambda.timeout (the loader fills in the consumer's
    // default otherwise): the producer takes the timeout only as the user's word.
    bool timeout_set = false;
    int memory_mb = 512;
  } lambda;

  struct Observe {
    std::optional<ListenAddress> listen;
  } observe;

  // The AWS prices `sentiflow cost` and the run summaries use (pipeline/cost.h, docs/COST.md):
  // us-east-1 list prices unless the pipeline file's `cost` section sets others. Dollars.
  struct Prices {
    double comprehend_unit = 0.0001;             // a unit of 100 characters, the month's first 10 M
    double comprehend_unit_over_10m = 0.00005;   // units 10 M - 50 M of the month
    double comprehend_unit_over_50m = 0.000025;  // units past 50 M
    double sqs_per_million = 0.40;               // standard queue requests (64 KiB chunks)
    double lambda_per_million = 0.20;            // invocations
    double lambda_gb_second = 0.0000166667;      // x86_64 duration
    double s3_put_per_thousand = 0.005;          // S3 Standard PUT requests
    double dynamodb_read_per_million = 0.125;    // on-demand read request units
    double dynamodb_write_per_million = 0.625;   // on-demand write request units
    double scheduler_per_million = 1.00;         // EventBridge Scheduler invocations
  } cost;
};

}  // namespace sentiflow
