// S3Store: an ObjectStore (store/object_store.h) in an S3 bucket, under an optional key prefix;
// `s3://bucket/prefix/` as the sink's store. Works with AWS, LocalStack and moto alike.
//
// Requests go through an aws::AwsClient for S3 (signing, retries, error mapping: aws/client.h).
// Addressing is virtual-hosted (BUCKET.s3.REGION.amazonaws.com/KEY) on AWS's own endpoints and
// path-style (ENDPOINT/BUCKET/KEY) on any other, LocalStack's and moto's (use_virtual_hosted).
//
// put() sends Content-MD5, so S3 refuses a body damaged on the way; an object of more than
// `multipart_threshold` bytes goes up as a multipart upload of `part_size` parts (each with its
// Content-MD5), which is aborted when any step fails, so no invisible parts are left to pay for.
// S3's ETag is not always the MD5 of the content: a multipart object's is "<md5 of md5s>-N", and
// an object encrypted with SSE-KMS (a bucket's default encryption may be that) or SSE-C has an
// opaque one. So every put() stores the content's MD5 as the metadata x-amz-meta-sentiflow-md5,
// and get()/head() report it; list() cannot read metadata and reports S3's own ETag, which for
// such objects is opaque (compare contents by head(), not by a listing). A single-part put()
// checks that the ETag is the MD5 sent, except where S3 says the object is encrypted with KMS
// or a customer key: there Content-MD5 alone guards the body (S3 refuses one whose MD5
// differs).
//
// Keys follow check_object_key(); the prefix counts towards S3's 1024 bytes, so limits()
// gives 1024 - prefix size. list() asks for url-encoded keys (encoding-type=url), so any key
// S3 holds, control characters included, comes back intact. Its continuation token wraps
// S3's NextContinuationToken; a token without that wrapping is invalid_input.
//
// get() reads whole objects in memory, up to the HTTP client's response limit (64 MiB).
// A missing bucket is an Error(not_found) from every call, never "no such object", and its
// message names the bucket, the region and the endpoint.
// Safe to share between threads (AwsClient is).
#pragma once

#include <cstddef>
#include <string>

#include "aws/client.h"
#include "store/object_store.h"

namespace sentiflow {

struct S3StoreOptions {
  std::string bucket{};  // S3's bucket name rules: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit
  // Every key is stored as prefix + key. "" or a key-like text ending with '/' ("runs/").
  std::string prefix{};
  // Create the bucket in the client's region if it does not exist (for tests and local runs;
  // a deployment's bucket is made by its stack).
  bool create_bucket = false;
  size_t multipart_threshold = 16u << 20;  // put() of more bytes than this is a multipart upload
  size_t part_size = 8u << 20;             // at least 5 MiB (S3's minimum for all parts but the last)
};

class S3Store final : public ObjectStore {
 public:
  // A store on `client` (made for aws::kS3). Throws Error(invalid_input) for a bad bucket name,
  // prefix or part size (< 5 MiB, or a threshold below it), and the client's Error when
  // create_bucket is set and creating the bucket fails (an existing bucket of ours is fine).
  S3Store(aws::AwsClient client, S3StoreOptions options);
  ~S3Store() override;
  S3Store(const S3Store&) = delete;
  S3Store& operator=(const S3Store&) = delete;

  // Whether the bucket is there for these credentials (HeadBucket; IAM: s3:ListBucket).
  // Returns on success; throws Error(not_found) naming the bucket, the region and the endpoint
  // when S3 says it does not exist, the client's Error otherwise (AccessDenied: invalid_input).
  // For a sink to call before it takes work it could not store.
  void check_bucket() const;

  const std::string& bucket() const { return options_.bucket; }

  StoreLimits limits() const override;
  ObjectInfo put(std::string_view key, std::string_view data, std::string_view content_type = "") override;
  std::optional<StoredObject> get(std::string_view key) override;
  std::optional<ObjectInfo> head(std::string_view key) override;
  ListPage list(const ListRequest& request) override;
  void remove(std::string_view key) override;

 private:
  std::string object_path(std::string_view key) const;  // checks the key
  // `path` is object_path(key), checked by put().
  ObjectInfo put_multipart(std::string_view key, const std::string& path, std::string_view data,
                           const std::string& content_type, const std::string& md5);
  void create_bucket();
  // Sends a request whose path starts with "/BUCKET", virtual-hosted when virtual_hosted_.
  aws::AwsResponse call(aws::AwsRequest request) const;

  aws::AwsClient client_;
  S3StoreOptions options_;
  bool virtual_hosted_ = false;
};

// Whether requests for `bucket` at `endpoint` go virtual-hosted (https://BUCKET.s3.REGION.
// amazonaws.com/KEY, what AWS recommends and new regions require) rather than path-style
// (ENDPOINT/BUCKET/KEY, what LocalStack, moto and other custom endpoints expect): yes for AWS's
// own S3 endpoints and a bucket name without dots (a dotted name would not match AWS's TLS
// certificate), else no.
bool use_virtual_hosted(std::string_view endpoint, std::string_view bucket);

// The base64 of the raw MD5 digest of `data`: the Content-MD5 header's value.
std::string content_md5(std::string_view data);

// Parses an HTTP date ("Tue, 15 Nov 1994 08:12:31 GMT", RFC 9110's IMF-fixdate), as in
// Last-Modified. Throws Error(internal) for anything else: it comes from the server.
Millis parse_http_date(std::string_view text);

}  // namespace sentiflow
