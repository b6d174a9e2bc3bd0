// Which region and which endpoint an AWS call goes to.
//
// Region: the pipeline file's aws.region, else AWS_REGION, else AWS_DEFAULT_REGION, else the
// profile's `region` in the config file, else an error: sentiflow never guesses a region.
// Endpoint of a service: the pipeline file's aws.endpoint_url, else AWS_ENDPOINT_URL_<SERVICE>
// (the service id upper-cased, spaces as '_': AWS_ENDPOINT_URL_DYNAMODB), else AWS_ENDPOINT_URL,
// else the regional default https://<prefix>.<region>.amazonaws.com (amazonaws.com.cn in China).
// That is how the same pipeline runs against AWS, LocalStack or moto. Pure functions over their
// inputs (and the shared config file); thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "aws/settings.h"

namespace sentiflow::aws {

// How one service is named where: its SDK service id (for AWS_ENDPOINT_URL_<SERVICE> and
// messages), its endpoint prefix (the host name) and its SigV4 signing name.
struct ServiceInfo {
  std::string_view id;
  std::string_view endpoint_prefix;
  std::string_view signing_name;
};

inline constexpr ServiceInfo kS3{"S3", "s3", "s3"};
inline constexpr ServiceInfo kDynamoDb{"DynamoDB", "dynamodb", "dynamodb"};
inline constexpr ServiceInfo kSqs{"SQS", "sqs", "sqs"};
inline constexpr ServiceInfo kComprehend{"Comprehend", "comprehend", "comprehend"};
inline constexpr ServiceInfo kEventBridge{"EventBridge", "events", "events"};
inline constexpr ServiceInfo kScheduler{"Scheduler", "scheduler", "scheduler"};
inline constexpr ServiceInfo kLambda{"Lambda", "lambda", "lambda"};
inline constexpr ServiceInfo kSts{"STS", "sts", "sts"};

// The region as described above. Throws Error(invalid_input) saying where a region may be set
// when there is none, or when the one found is not a region name (letters, digits, '-').
std::string resolve_region(const AwsSettings& settings, const Environment& env);

// "AWS_ENDPOINT_URL_" + the service id upper-cased with spaces as '_'.
std::string endpoint_variable(const ServiceInfo& service);

// The endpoint as described above: scheme, host, optional port and optional base path, without
// a trailing '/'. Throws Error(invalid_input) naming the setting when a configured endpoint is
// not an http(s) URL, or when `region` is not a region name.
std::string resolve_endpoint(const ServiceInfo& service, std::string_view region, const AwsSettings& settings,
                             const Environment& env);

// Whether `endpoint` (a URL, or a bare host[:port]) is one of AWS's own: its host ends with
// .amazonaws.com or .amazonaws.com.cn, any case. Emulators (moto, LocalStack) are not.
bool is_aws_endpoint(std::string_view endpoint);

}  // namespace sentiflow::aws
