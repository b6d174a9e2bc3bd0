#include "store/s3_store.h"

#include <array>
#include <charconv>

#include "aws/errors.h"
#include "aws/xml.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/strings.h"
#include "core/utf8.h"
#include "net/url.h"
#include "observe/log.h"

namespace sentiflow {
namespace {

constexpr size_t kMinPartSize = 5u << 20;  // S3's minimum for every part but the last
constexpr size_t kMaxParts = 10'000;       // S3's limit
constexpr std::string_view kTokenPrefix = "s3v2:";
constexpr std::string_view kMd5Meta = "x-amz-meta-sentiflow-md5";

[[noreturn]] void bad_answer(const std::string& what) {
  throw Error(ErrorCode::internal, "S3 sent an answer sentiflow cannot read: " + what);
}

std::string required_value(std::string_view body, std::string_view tag) {
  auto value = aws::xml_value(body, tag);
  if (!value) bad_answer("no <" + std::string(tag) + ">");
  return std::move(*value);
}

// S3's encoding-type=url: percent-encoding with '+' for a space (botocore's unquote_plus).
std::string url_decode(std::string_view text) {
  try {
    return percent_decode(text, {.plus_as_space = true, .strict = true});
  } catch (const Error& e) {
    bad_answer(e.what());
  }
}

uint64_t parse_size(std::string_view text) {
  text = trim(text);
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) bad_answer("a bad size");
  return value;
}

// S3 quotes ETags ("\"5d41...\""), in headers and in XML.
std::string unquote(std::string_view etag) {
  etag = trim(etag);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

bool is_bucket_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (const char c : name)
    if (!alnum(c) && c != '-' && c != '.') return false;
  return name.find("..") == std::string_view::npos;
}

// Whether S3 says the object is encrypted in a way that makes its ETag no MD5 of the content:
// SSE-KMS (aws:kms, aws:kms:dsse) or SSE-C. SSE-S3 (AES256) keeps the MD5.
bool opaque_etag(const aws::AwsResponse& response) {
  if (response.header("x-amz-server-side-encryption-customer-algorithm")) return true;
  const auto encryption = response.header("x-amz-server-side-encryption");
  return encryption && trim(*encryption).starts_with("aws:kms");
}

// The head of an object from a GetObject/HeadObject response.
ObjectInfo info_from(std::string_view key, const aws::AwsResponse& response, std::optional<uint64_t> size) {
  ObjectInfo info;
  info.key = std::string(key);
  if (size) {
    info.size = *size;
  } else {
    const auto length = response.header("content-length");
    if (!length) bad_answer("a HeadObject answer without Content-Length");
    info.size = parse_size(*length);
  }
  if (const auto md5 = response.header(kMd5Meta)) {
    info.etag = std::string(trim(*md5));
  } else if (const auto etag = response.header("etag")) {
    info.etag = unquote(*etag);
  }
  info.content_type = response.header("content-type").value_or("");
  if (const auto modified = response.header("last-modified")) info.last_modified = parse_http_date(*modified);
  return info;
}

}  // namespace

std::string content_md5(std::string_view data) { return base64_encode(from_hex(md5_hex(data))); }

Millis parse_http_date(std::string_view text) {
  // "Tue, 15 Nov 1994 08:12:31 GMT"
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto fail = [&]() -> Millis {
    throw Error(ErrorCode::internal, "S3 sent a date sentiflow cannot read: '" + std::string(text) + "'");
  };
  const auto parts = split_whitespace(text);
  if (parts.size() != 6 || !parts[0].ends_with(',') || parts[5] != "GMT") return fail();
  const auto number = [&](std::string_view s, int& out) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
  };
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  unsigned month = 0;
  for (unsigned m = 0; m < 12; ++m)
    if (kMonths[m] == parts[2]) month = m + 1;
  const auto clock = parts[4];
  if (!number(parts[1], day) || !number(parts[3], year) || month == 0 || clock.size() != 8 || clock[2] != ':' ||
      clock[5] != ':' || !number(clock.substr(0, 2), hour) || !number(clock.substr(3, 2), minute) ||
      !number(clock.substr(6, 2), second) || hour > 23 || minute > 59 || second > 60 ||
      !is_valid_civil(year, month, static_cast<unsigned>(day)))
    return fail();
  const std::chrono::sys_days date{std::chrono::year{year} / std::chrono::month{month} /
                                   std::chrono::day{static_cast<unsigned>(day)}};
  return Millis{date + std::chrono::hours(hour) + std::chrono::minutes(minute) + std::chrono::seconds(second)};
}

S3Store::S3Store(aws::AwsClient client, S3StoreOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  virtual_hosted_ = use_virtual_hosted(client_.endpoint(), options_.bucket);
  if (!is_bucket_name(options_.bucket))
    throw Error(ErrorCode::invalid_input, "'" + options_.bucket +
                                              "' is not an S3 bucket name (3-63 characters of a-z 0-9 . -, starting "
                                              "and ending with a letter or digit)");
  if (!options_.prefix.empty()) {
    if (!options_.prefix.ends_with('/'))
      throw Error(ErrorCode::invalid_input, "an S3 store's prefix must end with '/': '" + options_.prefix + "'");
    try {
      check_object_key(std::string_view(options_.prefix).substr(0, options_.prefix.size() - 1));
    } catch (const Error& e) {
      throw Error(ErrorCode::invalid_input, "bad S3 store prefix '" + options_.prefix + "': " + e.what());
    }
    if (options_.prefix.size() >= 1024) throw Error(ErrorCode::invalid_input, "the S3 store's prefix is too long");
  }
  if (options_.part_size < kMinPartSize || options_.multipart_threshold < kMinPartSize)
    throw Error(ErrorCode::invalid_input, "an S3 multipart part and threshold must be at least 5 MiB");
  if (options_.create_bucket) create_bucket();
}

S3Store::~S3Store() = default;

void S3Store::create_bucket() {
  aws::AwsRequest request{.operation = "CreateBucket", .method = "PUT", .path = "/" + options_.bucket};
  if (client_.region() != "us-east-1") {  // us-east-1 refuses a location constraint naming itself
    request.headers = {{"Content-Type", "application/xml"}};
    request.body = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>" +
                   client_.region() + "</LocationConstraint></CreateBucketConfiguration>";
  }
  try {
    call(request);
  } catch (const Error& e) {
    // Outside us-east-1, S3 answers BucketAlreadyOwnedByYou (409) for a bucket we have.
    if (e.code() != ErrorCode::conflict ||
        std::string_view(e.what()).find("BucketAlreadyOwnedByYou") == std::string_view::npos)
      throw;
  }
}

void S3Store::check_bucket() const {
  try {
    call({.operation = "HeadBucket", .method = "HEAD", .path = "/" + options_.bucket});
  } catch (const Error& e) {
    // A HEAD answer has no body: S3 says only 404, and the client's message only "Http404".
    if (e.code() != ErrorCode::not_found) throw;
    throw Error(ErrorCode::not_found, "S3 bucket '" + options_.bucket + "' does not exist (region " + client_.region() +
                                          ", endpoint " + client_.endpoint() + ")");
  }
}

StoreLimits S3Store::limits() const {
  return {.max_key_bytes = 1024 - options_.prefix.size(), .max_keys_per_page = 1000};
}

bool use_virtual_hosted(std::string_view endpoint, std::string_view bucket) {
  const auto scheme_end = endpoint.find("://");
  if (scheme_end == std::string_view::npos || bucket.find('.') != std::string_view::npos) return false;
  std::string_view host = endpoint.substr(scheme_end + 3);
  host = host.substr(0, host.find_first_of(":/"));
  return aws::is_aws_endpoint(endpoint) && (host.starts_with("s3.") || host.starts_with("s3-"));
}

aws::AwsResponse S3Store::call(aws::AwsRequest request) const {
  if (virtual_hosted_) {
    const std::string bucket_path = "/" + options_.bucket;
    if (request.path == bucket_path || request.path.starts_with(bucket_path + "/")) {
      request.path = request.path.size() == bucket_path.size() ? "/" : request.path.substr(bucket_path.size());
      request.host_prefix = options_.bucket + ".";
    }
  }
  try {
    return client_.call(request);
  } catch (const Error& e) {
    // S3's NoSuchBucket message does not say which bucket, nor where it was looked for.
    if (e.code() != ErrorCode::not_found || std::string_view(e.what()).find("NoSuchBucket") == std::string_view::npos)
      throw;
    throw Error(ErrorCode::not_found, std::string(e.what()) + " (bucket '" + options_.bucket + "', region " +
                                          client_.region() + ", endpoint " + client_.endpoint() + ")");
  }
}

std::string S3Store::object_path(std::string_view key) const {
  check_object_key(key);
  if (options_.prefix.size() + key.size() > 1024)
    throw Error(ErrorCode::invalid_input, "the key is longer than " + std::to_string(limits().max_key_bytes) +
                                              " bytes (S3's 1024 less the store's prefix)");
  return "/" + options_.bucket + "/" + options_.prefix + std::string(key);
}

ObjectInfo S3Store::put(std::string_view key, std::string_view data, std::string_view content_type) {
  const auto path = object_path(key);
  const std::string type = content_type.empty() ? guess_content_type(key) : std::string(content_type);
  check_content_type(type);
  const auto md5 = md5_hex(data);
  if (data.size() > options_.multipart_threshold) return put_multipart(key, path, data, type, md5);

  const auto response = call(
      {.operation = "PutObject",
       .method = "PUT",
       .path = path,
       .headers = {{"Content-Type", type}, {"Content-MD5", base64_encode(from_hex(md5))}, {std::string(kMd5Meta), md5}},
       .body = std::string(data)});
  // S3 checked Content-MD5; an ETag that differs means a server we do not understand, unless
  // the object is encrypted with KMS or a customer key: S3 documents those ETags as not an MD5.
  if (const auto etag = response.header("etag"); etag && unquote(*etag) != md5 && !opaque_etag(response))
    throw Error(ErrorCode::internal,
                "S3 PutObject: the ETag " + unquote(*etag) + " is not the MD5 " + md5 + " of what was sent");
  return {
      .key = std::string(key), .size = data.size(), .etag = md5, .content_type = type, .last_modified = now_millis()};
}

ObjectInfo S3Store::put_multipart(std::string_view key, const std::string& path, std::string_view data,
                                  const std::string& content_type, const std::string& md5) {
  const size_t parts = (data.size() + options_.part_size - 1) / options_.part_size;
  if (parts > kMaxParts)
    throw Error(ErrorCode::invalid_input, "an object of " + std::to_string(data.size()) +
                                              " bytes needs more than S3's 10000 parts of " +
                                              std::to_string(options_.part_size) + " bytes");
  const auto created = call({.operation = "CreateMultipartUpload",
                             .method = "POST",
                             .path = path,
                             .query = {{"uploads", std::nullopt}},
                             .headers = {{"Content-Type", content_type}, {std::string(kMd5Meta), md5}}});
  const auto upload_id = required_value(created.body, "UploadId");
  try {
    std::string complete = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    for (size_t i = 0; i < parts; ++i) {
      const auto part = data.substr(i * options_.part_size, options_.part_size);
      const auto number = std::to_string(i + 1);
      const auto uploaded = call({.operation = "UploadPart",
                                  .method = "PUT",
                                  .path = path,
                                  .query = {{"partNumber", number}, {"uploadId", upload_id}},
                                  .headers = {{"Content-MD5", content_md5(part)}},
                                  .body = std::string(part)});
      const auto etag = uploaded.header("etag");
      if (!etag) bad_answer("an UploadPart answer without ETag");
      complete += "<Part><PartNumber>" + number + "</PartNumber><ETag>\"" + unquote(*etag) + "\"</ETag></Part>";
    }
    complete += "</CompleteMultipartUpload>";
    const auto done = call({.operation = "CompleteMultipartUpload",
                            .method = "POST",
                            .path = path,
                            .query = {{"uploadId", upload_id}},
                            .headers = {{"Content-Type", "application/xml"}},
                            .body = complete});
    // CompleteMultipartUpload can fail after its 200 status: the body is then an <Error>.
    if (trim(done.body).find("<Error>") != std::string_view::npos) {
      const auto error = aws::parse_error(done);
      throw Error(aws::map_error(500, error.code), "S3 CompleteMultipartUpload: " + error.code + ": " + error.message);
    }
  } catch (...) {
    try {
      call({.operation = "AbortMultipartUpload", .method = "DELETE", .path = path, .query = {{"uploadId", upload_id}}});
    } catch (const Error& e) {
      log::warn("could not abort a failed S3 multipart upload; its parts stay until a lifecycle rule removes them",
                {{"bucket", options_.bucket}, {"upload_id", upload_id}, {"error", e.what()}});
    }
    throw;
  }
  return {.key = std::string(key),
          .size = data.size(),
          .etag = md5,
          .content_type = content_type,
          .last_modified = now_millis()};
}

std::optional<StoredObject> S3Store::get(std::string_view key) {
  const auto path = object_path(key);
  aws::AwsResponse response;
  try {
    response = call({.operation = "GetObject", .method = "GET", .path = path});
  } catch (const Error& e) {
    if (e.code() == ErrorCode::not_found && std::string_view(e.what()).find("NoSuchBucket") == std::string_view::npos)
      return std::nullopt;
    throw;
  }
  StoredObject object;
  object.info = info_from(key, response, response.body.size());
  object.data = std::move(response.body);
  return object;
}

std::optional<ObjectInfo> S3Store::head(std::string_view key) {
  const auto path = object_path(key);
  try {
    // A HEAD answer has no body: a missing bucket and a missing key are both a bare 404 here.
    return info_from(key, call({.operation = "HeadObject", .method = "HEAD", .path = path}), std::nullopt);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::not_found) return std::nullopt;
    throw;
  }
}

ListPage S3Store::list(const ListRequest& request) {
  if (request.max_keys < 1 || request.max_keys > 1000)
    throw Error(ErrorCode::invalid_input, "max_keys must be 1 to 1000, not " + std::to_string(request.max_keys));
  aws::AwsRequest list_request{.operation = "ListObjectsV2",
                               .method = "GET",
                               .path = "/" + options_.bucket,
                               .query = {{"list-type", "2"},
                                         {"encoding-type", "url"},
                                         {"max-keys", std::to_string(request.max_keys)},
                                         {"prefix", options_.prefix + request.prefix}}};
  if (!request.continuation_token.empty()) {
    const std::string_view token = request.continuation_token;
    if (!token.starts_with(kTokenPrefix) || token.size() == kTokenPrefix.size())
      throw Error(ErrorCode::invalid_input, "not a continuation token of this S3 store");
    std::string inner;
    try {
      inner = base64_decode(token.substr(kTokenPrefix.size()));
    } catch (const Error&) {
      throw Error(ErrorCode::invalid_input, "not a continuation token of this S3 store");
    }
    list_request.query.emplace_back("continuation-token", std::move(inner));
  }
  const auto response = call(list_request);
  const std::string_view body = response.body;
  const bool url_encoded = aws::xml_value(body, "EncodingType").value_or("") == "url";

  ListPage page;
  for (const auto contents : aws::xml_elements(body, "Contents")) {
    std::string key = required_value(contents, "Key");
    if (url_encoded) key = url_decode(key);
    if (!key.starts_with(options_.prefix)) bad_answer("a key outside the prefix asked for");
    ObjectInfo info;
    info.key = key.substr(options_.prefix.size());
    info.size = parse_size(required_value(contents, "Size"));
    info.etag = unquote(required_value(contents, "ETag"));
    info.last_modified = parse_utc_millis(required_value(contents, "LastModified"));
    page.objects.push_back(std::move(info));
  }
  if (aws::xml_value(body, "IsTruncated").value_or("false") == "true") {
    const auto next = aws::xml_value(body, "NextContinuationToken");
    if (!next || next->empty()) bad_answer("a truncated listing without NextContinuationToken");
    page.next_token = std::string(kTokenPrefix) + base64_encode(*next);
  }
  return page;
}

void S3Store::remove(std::string_view key) {
  call({.operation = "DeleteObject", .method = "DELETE", .path = object_path(key)});
}

}  // namespace sentiflow
