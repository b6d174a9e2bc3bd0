// AWS error responses: reading their code and message, and mapping the code onto ours.
//
// AWS answers errors in one of two shapes: JSON ({"__type": "com.amazonaws.dynamodb...#Code",
// "message": "..."}, DynamoDB, SQS's JSON protocol, Comprehend, EventBridge) or XML
// (<Error><Code>..</Code><Message>..</Message></Error>, S3 and the query protocols; moto answers
// auth failures in XML even on JSON protocols). Retries decide on the mapped ErrorCode, never on
// the text. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "net/http_client.h"

namespace sentiflow::aws {

struct AwsError {
  std::string code;     // "ResourceNotFoundException"; derived from the status when the body has none ("Http404")
  std::string message;  // possibly empty
};

// The code and message of an error response: from the JSON or XML body, else from the
// x-amzn-ErrorType header, else from the status. Never throws.
AwsError parse_error(const HttpResponse& response);

// Our code for an AWS error code, falling back on the HTTP status for codes we do not know:
//   throttled      ThrottlingException, ProvisionedThroughputExceededException, SlowDown,
//                  RequestLimitExceeded, TooManyRequestsException, ... ; HTTP 429
//   transient      InternalError, ServiceUnavailable, RequestTimeout, ExpiredToken (fresh
//                  credentials fix it: see is_expired_credentials) ... ; HTTP 5xx but 501
//   not_found      ResourceNotFoundException, NoSuchBucket, NoSuchKey, QueueDoesNotExist
//                  (AWS.SimpleQueueService.NonExistentQueue) ... ; HTTP 404
//   conflict       ConditionalCheckFailedException, TransactionConflictException, PreconditionFailed,
//                  ResourceInUseException ... ; HTTP 409, 412
//   invalid_input  AccessDenied, UnrecognizedClientException, InvalidSignatureException,
//                  SignatureDoesNotMatch, ValidationException ...: a bad credential or request
//                  is the user's to fix; any other 4xx
//   internal       anything else (a 3xx we did not ask for, a 501)
ErrorCode map_error(long status, std::string_view aws_code);

// True for the codes map_error knows by name (those of its lists above); false for the rest,
// which it maps by the HTTP status. Bounds the AWS codes used as metric labels.
bool is_known_error_code(std::string_view aws_code);

// True for the codes that mean "your session token expired": the caller should fetch fresh
// credentials before it retries.
bool is_expired_credentials(std::string_view aws_code);

// What an invalid_input answer says about the credentials, so that an error can tell the user
// where to look: `bad_key` (an unknown access key id, a secret that does not match it, a
// missing or malformed signature), `denied` (a valid key whose policy lacks the permission),
// `refused` (a bare 403 without a body, as S3 answers a HEAD: either of those), or `none`.
enum class CredentialProblem { none, bad_key, denied, refused };
CredentialProblem credential_problem(std::string_view aws_code);

}  // namespace sentiflow::aws
