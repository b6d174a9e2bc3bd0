// The AWS CLI (`aws`, v1 or v2) as a test's independent client: it makes the resources a
// pipeline runs on and reads back what the pipeline wrote, with botocore's code instead of
// ours, so a passing test means our requests and AWS's own tools agree on the same service.
//
//   const auto cli = testing_support::AwsCli::find();   // nullopt: `aws` is not on PATH
//   if (!cli) GTEST_SKIP() << "the AWS CLI is not installed";
//   cli->json(moto.endpoint(), "sqs create-queue --queue-name q");   // parsed stdout
//
// Credentials and region come from the process environment (the test sets
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION before it calls); every call
// passes --endpoint-url, so the CLI never reaches for AWS, and AWS_PAGER is empty so that v2
// never waits for a pager. The CLI's config files are pointed at nothing (for its process only):
// the machine's own ~/.aws cannot change what a test does.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "support/aws_env.h"
#include "support/moto.h"
#include "support/run_binary.h"

namespace sentiflow::testing_support {

class AwsCli {
 public:
  // The CLI on PATH, or nullopt.
  static std::optional<AwsCli> find() {
    auto program = find_on_path("aws");
    if (!program) return std::nullopt;
    return AwsCli(*program);
  }

  // Runs `aws ARGS --endpoint-url ENDPOINT` (ARGS is shell text, quoted by the caller) and
  // returns its exit status and output.
  Outcome run(const std::string& endpoint, const std::string& args) const {
    return run_shell(std::string("AWS_PAGER= AWS_CONFIG_FILE=") + kNoAwsConfigFile +
                     " AWS_SHARED_CREDENTIALS_FILE=" + kNoAwsCredentialsFile + " '" + program_ + "' " + args +
                     " --endpoint-url '" + endpoint + "' --output json");
  }

  // run(), then stdout parsed as JSON (null for none). Throws std::runtime_error, with the
  // CLI's stderr, when the command fails.
  nlohmann::json json(const std::string& endpoint, const std::string& args) const {
    const auto outcome = run(endpoint, args);
    if (outcome.status != 0)
      throw std::runtime_error("aws " + args + " failed (" + std::to_string(outcome.status) + "): " + outcome.err);
    if (outcome.out.find_first_not_of(" \r\n\t") == std::string::npos) return nullptr;
    return nlohmann::json::parse(outcome.out);
  }

 private:
  explicit AwsCli(std::string program) : program_(std::move(program)) {}

  std::string program_;
};

}  // namespace sentiflow::testing_support
