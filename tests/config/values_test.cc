#include <gtest/gtest.h>

#include "config/locations.h"
#include "config/values.h"
#include "core/error.h"

namespace sentiflow {
namespace {

using std::chrono::milliseconds;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    return e.what();
  }
  return "no error";
}

TEST(Duration, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("250ms"), milliseconds{250});
  EXPECT_EQ(parse_duration("30s"), milliseconds{30'000});
  EXPECT_EQ(parse_duration("5m"), milliseconds{300'000});
  EXPECT_EQ(parse_duration("1h"), milliseconds{3'600'000});
  EXPECT_EQ(parse_duration("4d"), milliseconds{345'600'000});
  EXPECT_EQ(parse_duration(" 0 "), milliseconds{0});
}

TEST(Duration, FormatsWithTheLargestExactUnit) {
  EXPECT_EQ(format_duration(milliseconds{30'000}), "30s");
  EXPECT_EQ(format_duration(milliseconds{90'000}), "90s");
  EXPECT_EQ(format_duration(milliseconds{1'500}), "1500ms");
  EXPECT_EQ(format_duration(milliseconds{345'600'000}), "4d");
  EXPECT_EQ(format_duration(milliseconds{0}), "0s");
}

TEST(Duration, RefusesAmbiguousOrMalformedText) {
  EXPECT_NE(error_of([] { parse_duration("30"); }).find("the unit is missing"), std::string::npos);
  EXPECT_NE(error_of([] { parse_duration("1.5s"); }).find("fractions"), std::string::npos);
  EXPECT_NE(error_of([] { parse_duration("5 minutes"); }).find("unknown unit 'minutes'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_duration("-5s"); }).find("does not start with a number"), std::string::npos);
  EXPECT_NE(error_of([] { parse_duration(""); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([] { parse_duration("99999999999999999d"); }).find("too large"), std::string::npos);
}

TEST(Size, ParsesBinaryUnitsAndBytes) {
  EXPECT_EQ(parse_size("256KiB"), 262'144u);
  EXPECT_EQ(parse_size("1MiB"), 1'048'576u);
  EXPECT_EQ(parse_size("1024"), 1024u);
  EXPECT_EQ(parse_size("100B"), 100u);
  EXPECT_EQ(format_size(262'144), "256KiB");
  EXPECT_EQ(format_size(1'048'576), "1MiB");
  EXPECT_EQ(format_size(1000), "1000B");
  EXPECT_NE(error_of([] { parse_size("256KB"); }).find("use KiB"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size("big"); }).find("not a size"), std::string::npos);
}

TEST(Url, SplitsHttpUrls) {
  const Url url = parse_http_url("http://127.0.0.1:5000/path?q=1");
  EXPECT_EQ(url.scheme, "http");
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 5000);
  EXPECT_EQ(url.path, "/path?q=1");
  EXPECT_EQ(parse_http_url("https://[::1]:8443").host, "::1");
  EXPECT_NE(error_of([] { parse_http_url("ftp://x"); }).find("not http or https"), std::string::npos);
  EXPECT_NE(error_of([] { parse_http_url("https://user:secret@host/"); }).find("credentials"), std::string::npos);
  EXPECT_NE(error_of([] { parse_http_url("http://host:99999/"); }).find("port"), std::string::npos);
}

TEST(ListenAddress, NeedsHostAndPort) {
  EXPECT_EQ(parse_listen_address("127.0.0.1:9464").text(), "127.0.0.1:9464");
  EXPECT_EQ(parse_listen_address("[::1]:9464").text(), "[::1]:9464");
  EXPECT_NE(error_of([] { parse_listen_address("9464"); }).find("port is missing"), std::string::npos);
}

TEST(Locations, TablesAndQueues) {
  EXPECT_EQ(parse_table_location("local://companies").backend, TableLocation::Backend::local);
  EXPECT_EQ(parse_table_location("dynamodb://companies").name, "companies");
  EXPECT_NE(error_of([] { parse_table_location("dynamodb://ab"); }).find("3-255"), std::string::npos);
  const auto by_url = parse_queue_location("sqs://https://sqs.us-east-1.amazonaws.com/123456789012/producer");
  EXPECT_EQ(by_url.backend, QueueLocation::Backend::sqs);
  EXPECT_EQ(by_url.name, "producer");
  EXPECT_EQ(by_url.queue_url, "https://sqs.us-east-1.amazonaws.com/123456789012/producer");
  EXPECT_EQ(by_url.uri, "sqs://https://sqs.us-east-1.amazonaws.com/123456789012/producer");
  EXPECT_EQ(parse_queue_location("sqs://producer").queue_url, "");
  EXPECT_NE(error_of([] { parse_queue_location("sqs://https://sqs.us-east-1.amazonaws.com/"); }).find("ACCOUNT/NAME"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_queue_location("local://has space"); }).find("1-80"), std::string::npos);
}

TEST(Locations, StoresResolvePathsAndNormalisePrefixes) {
  const auto rel = parse_store_location("out", "/srv/pipelines");
  EXPECT_EQ(rel.backend, StoreLocation::Backend::file);
  EXPECT_EQ(rel.directory, "/srv/pipelines/out");
  EXPECT_EQ(rel.uri, "file:///srv/pipelines/out/");
  EXPECT_EQ(parse_store_location("file:///data/out/", "/x").directory, "/data/out/");
  const auto s3 = parse_store_location("s3://my-bucket/results", "/x");
  EXPECT_EQ(s3.bucket, "my-bucket");
  EXPECT_EQ(s3.prefix, "results/");
  EXPECT_EQ(s3.uri, "s3://my-bucket/results/");
  EXPECT_EQ(parse_store_location("s3://my-bucket", "/x").prefix, "");
  EXPECT_NE(error_of([] { parse_store_location("s3://My_Bucket/", "/x"); }).find("bucket"), std::string::npos);
  EXPECT_NE(error_of([] { parse_store_location("file://relative/x", "/x"); }).find("absolute"), std::string::npos);
}

TEST(Locations, UrlTemplatesAndJsonPointers) {
  EXPECT_EQ(check_url_template("https://en.wikipedia.org/api/rest_v1/page/summary/{name}"),
            "https://en.wikipedia.org/api/rest_v1/page/summary/{name}");
  EXPECT_NE(error_of([] { check_url_template("https://x/{name"); }).find("not closed"), std::string::npos);
  EXPECT_NE(error_of([] { check_url_template("https://x/{}"); }).find("must name an attribute"), std::string::npos);
  EXPECT_NE(error_of([] { check_url_template("https://{host}/x"); }).find("host must be fixed"), std::string::npos);
  EXPECT_EQ(check_json_pointer("/extract"), "/extract");
  EXPECT_EQ(check_json_pointer("/a~1b/~0c"), "/a~1b/~0c");
  EXPECT_NE(error_of([] { check_json_pointer("extract"); }).find("start with '/'"), std::string::npos);
  EXPECT_NE(error_of([] { check_json_pointer("/a~2"); }).find("~"), std::string::npos);
}

}  // namespace
}  // namespace sentiflow
