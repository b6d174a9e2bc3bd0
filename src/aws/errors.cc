#include "aws/errors.h"

#include <array>
#include <nlohmann/json.hpp>
#include <utility>

#include "aws/xml.h"
#include "core/error.h"
#include "core/strings.h"

namespace sentiflow::aws {
namespace {

// "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException" and
// "ResourceNotFoundException:http://internal.amazon.com/coral/..." both mean
// "ResourceNotFoundException".
std::string bare_code(std::string_view code) {
  if (const auto hash = code.rfind('#'); hash != std::string_view::npos) code = code.substr(hash + 1);
  if (const auto colon = code.find(':'); colon != std::string_view::npos) code = code.substr(0, colon);
  return std::string(trim(code));
}

// The text of the first <tag>...</tag>, trimmed; enough for AWS's flat error documents. An
// error document is read leniently: one that aws::xml_value cannot decode gives its raw text.
std::string xml_element(std::string_view body, std::string_view tag) {
  try {
    const auto value = xml_value(body, tag);
    return value ? std::string(trim(*value)) : "";
  } catch (const Error&) {
    const std::string open = "<" + std::string(tag) + ">";
    const auto start = body.find(open);
    const auto end = start == std::string_view::npos ? start : body.find("</" + std::string(tag) + ">", start);
    if (end == std::string_view::npos) return "";
    return std::string(trim(body.substr(start + open.size(), end - start - open.size())));
  }
}

std::string json_string(const nlohmann::json& document, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const auto found = document.find(name);
    if (found != document.end() && found->is_string()) return found->get<std::string>();
  }
  return "";
}

template <size_t N>
bool among(std::string_view code, const std::array<std::string_view, N>& codes) {
  if (code.empty()) return false;
  for (const auto candidate : codes)
    if (candidate == code) return true;
  return false;
}

// The SDKs' lists (botocore's standard retry mode) plus the services sentiflow uses.
constexpr auto kThrottled = std::to_array<std::string_view>(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
     "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
     "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "EC2ThrottledException",
     "AWS.SimpleQueueService.RequestThrottled", "KMSThrottlingException"});
constexpr auto kExpired = std::to_array<std::string_view>(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"});
constexpr auto kTransient = std::to_array<std::string_view>(
    {"PriorRequestNotComplete", "InternalError", "InternalFailure", "InternalServerError", "InternalServerException",
     "ServiceUnavailable", "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException",
     "IDPCommunicationError", "AWS.SimpleQueueService.ServiceUnavailable"});
constexpr auto kNotFound = std::to_array<std::string_view>(
    {"ResourceNotFoundException", "ResourceNotFound", "NoSuchBucket", "NoSuchKey", "NotFound", "NoSuchUpload",
     "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "NonExistentQueue", "TableNotFoundException",
     "NoSuchEntity", "NotFoundException", "NoSuchVersion"});
constexpr auto kConflict = std::to_array<std::string_view>(
    {"ConditionalCheckFailedException", "TransactionConflictException", "TransactionCanceledException",
     "PreconditionFailed", "ResourceInUseException", "ConflictException", "OperationAborted", "QueueDeletedRecently",
     "AWS.SimpleQueueService.QueueDeletedRecently"});
constexpr auto kInvalidInput = std::to_array<std::string_view>(
    {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
     "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidClientTokenId", "MissingAuthenticationToken",
     "MissingAuthenticationTokenException", "IncompleteSignature", "IncompleteSignatureException", "AuthFailure",
     "RequestTimeTooSkewed", "ValidationException", "ValidationError", "SerializationException"});

}  // namespace

AwsError parse_error(const HttpResponse& response) {
  AwsError error;
  const std::string_view body = trim(response.body);
  if (body.starts_with('{')) {
    const auto document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (document.is_object()) {
      error.code = bare_code(json_string(document, {"__type", "code", "Code"}));
      error.message = json_string(document, {"message", "Message", "errorMessage"});
    }
  } else if (body.starts_with('<')) {
    error.code = bare_code(xml_element(body, "Code"));
    error.message = xml_element(body, "Message");
  }
  if (error.code.empty()) {
    if (const auto header = response.header("x-amzn-ErrorType")) error.code = bare_code(*header);
  }
  if (error.code.empty()) error.code = "Http" + std::to_string(response.status);
  return error;
}

bool is_expired_credentials(std::string_view aws_code) { return among(aws_code, kExpired); }

bool is_known_error_code(std::string_view aws_code) {
  return among(aws_code, kThrottled) || among(aws_code, kExpired) || among(aws_code, kTransient) ||
         among(aws_code, kNotFound) || among(aws_code, kConflict) || among(aws_code, kInvalidInput);
}

CredentialProblem credential_problem(std::string_view aws_code) {
  static constexpr auto kBadKey = std::to_array<std::string_view>(
      {"UnrecognizedClientException", "InvalidSignatureException", "SignatureDoesNotMatch", "InvalidAccessKeyId",
       "InvalidClientTokenId", "MissingAuthenticationToken", "MissingAuthenticationTokenException",
       "IncompleteSignature", "IncompleteSignatureException", "AuthFailure"});
  static constexpr auto kDenied = std::to_array<std::string_view>({"AccessDenied", "AccessDeniedException"});
  if (among(aws_code, kBadKey)) return CredentialProblem::bad_key;
  if (among(aws_code, kDenied)) return CredentialProblem::denied;
  if (aws_code == "Http403") return CredentialProblem::refused;  // parse_error's code for a bare 403
  return CredentialProblem::none;
}

ErrorCode map_error(long status, std::string_view aws_code) {
  if (among(aws_code, kThrottled)) return ErrorCode::throttled;
  if (among(aws_code, kExpired) || among(aws_code, kTransient)) return ErrorCode::transient;
  if (among(aws_code, kNotFound)) return ErrorCode::not_found;
  if (among(aws_code, kConflict)) return ErrorCode::conflict;
  if (among(aws_code, kInvalidInput)) return ErrorCode::invalid_input;
  if (status == 429) return ErrorCode::throttled;
  if (status == 404) return ErrorCode::not_found;
  if (status == 409 || status == 412) return ErrorCode::conflict;
  if (status >= 500 && status != 501) return ErrorCode::transient;
  if (status >= 400 && status < 500) return ErrorCode::invalid_input;
  return ErrorCode::internal;
}

}  // namespace sentiflow::aws
