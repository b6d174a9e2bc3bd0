// The backend factory: turns the URIs of a pipeline file into objects (DESIGN.md, "Where it
// runs"). The only place that names concrete backends; pipeline/ sees interfaces only.
//
// The AWS backends (dynamodb://, sqs://, s3://, engine: comprehend) take their credentials,
// region and endpoint from the pipeline file's `aws:` section, else the standard AWS settings
// (docs/AWS.md).
#pragma once

#include <memory>
#include <string>

#include "aws/client.h"
#include "aws/endpoints.h"
#include "config/pipeline_config.h"
#include "queue/queue.h"
#include "sentiment/analyzer.h"
#include "store/object_store.h"
#include "table/table.h"

namespace sentiflow::runtime {

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

std::unique_ptr<sentiment::Analyzer> make_analyzer(const PipelineConfig& config);

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

}  // namespace sentiflow::runtime
