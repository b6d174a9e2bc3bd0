// The AWS SAM template of a pipeline: every AWS resource the pipeline needs on Lambda, rendered
// from its pipeline file (`sentiflow template`, deploy/template.yaml).
//
// One pipeline file describes both the local run and the deployment, so the template is derived
// from it and never written by hand: the queue's visibility timeout, the dead-letter redrive,
// the consumer's batching and concurrency, the functions' timeout and memory all come from the
// file, and each function's IAM role grants exactly the calls that its code makes (nothing
// more), on the pipeline's own resources only.
//
// Rendering is a pure function of the config and the process environment (for the ${VAR}
// references of the file, see render_sam_template); it is thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "config/pipeline_config.h"

namespace sentiflow::deploy {

struct SamTemplateOptions {
  // The functions' CodeUri: the zip of `sentiflow package`, relative to the template's folder
  // (where `sam deploy` looks for it) or an s3:// URI.
  std::string code_uri = "sentiflow.zip";
  // CloudWatch Logs retention of both functions' log groups; one of the values AWS accepts
  // (1, 3, 5, 7, 14, 30, 60, 90, ... 3653).
  int log_retention_days = 30;
};

struct SamTemplate {
  std::string yaml;                   // the template, ending in a newline
  std::vector<std::string> warnings;  // deployable, but probably not what the user meant
};

// The consumer function's timeout: lambda.timeout (whose default is queue.visibility_timeout / 6,
// config/loader.cc), at most 900s. The 6x rule is AWS's for SQS-triggered functions only.
std::chrono::seconds lambda_function_timeout(const PipelineConfig& config);

// The producer function's timeout: lambda.timeout when the pipeline file sets it (the user's
// word, for both functions), else 900s, Lambda's most. The producer is not triggered by the
// queue, so the visibility rule does not bind it, and a short timeout only costs
// continuations: it hands a run over to a new invocation before its deadline however long that
// is (docs/LAMBDA.md, "Handlers"). Whether the file sets it is config.lambda.timeout_set, which
// the loader fills in (it fills in the consumer's default otherwise); a config without a file
// counts a non-zero lambda.timeout as set. Never throws.
std::chrono::seconds producer_function_timeout(const PipelineConfig& config);

// The environment variables the functions get so that the packaged pipeline file resolves on
// Lambda as it did here: each ${NAME} / ${NAME:-default} the file's values reference, with the
// value it has now (the environment's, else the default), except names Lambda reserves or sets
// itself (AWS_*, LAMBDA_*, _*), which Lambda provides on its own.
// Throws Error(invalid_input) when the file cannot be read or parsed.
std::map<std::string, std::string> referenced_environment(const std::filesystem::path& pipeline_file);

// Renders the template. Throws Error(invalid_input), with a message saying what to change, when
// the pipeline cannot be deployed as it stands: a local:// table or queue, or a sink that is not
// s3://; a visibility timeout under 6x the function timeout (AWS's rule for SQS triggers); a
// batch of more than 10 messages without a batching window of at least 1s; a log retention AWS
// does not accept.
SamTemplate render_sam_template(const PipelineConfig& config, const SamTemplateOptions& options = {});

}  // namespace sentiflow::deploy
