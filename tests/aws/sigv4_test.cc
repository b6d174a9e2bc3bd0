// SigV4 against botocore: tests/aws/sigv4_vectors.json holds requests signed by botocore at a
// fixed time (tests/aws/make_sigv4_vectors.py); ours must agree on the canonical request, the
// string to sign, the Authorization header and the headers added, for every one.
#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/strings.h"

namespace sentiflow::aws {
namespace {

nlohmann::json load_vectors() {
  std::ifstream in(std::string(SENTIFLOW_SOURCE_DIR) + "/tests/aws/sigv4_vectors.json");
  return nlohmann::json::parse(in);
}

TEST(SigV4, AgreesWithBotocoreOnEveryVector) {
  const auto document = load_vectors();
  const auto& vectors = document.at("vectors");
  ASSERT_GE(vectors.size(), 25u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.at("id").get<std::string>() + ": " + v.at("what").get<std::string>());
    SigningRequest request{.method = v.at("method"), .url = v.at("url"), .body = v.at("body")};
    for (const auto& header : v.at("headers")) request.headers.emplace_back(header.at(0), header.at(1));
    if (v.contains("payload_hash")) request.payload_hash = v.at("payload_hash").get<std::string>();
    const Credentials credentials{.access_key_id = v.at("credentials").at("access_key_id"),
                                  .secret_access_key = v.at("credentials").at("secret_access_key"),
                                  .session_token = v.at("credentials").at("session_token")};
    const auto& expected = v.at("expected");
    const auto signature = sign_request(request, credentials, v.at("region").get<std::string>(),
                                        v.at("service").get<std::string>(), parse_utc(v.at("time").get<std::string>()));
    EXPECT_EQ(signature.canonical_request, expected.at("canonical_request").get<std::string>());
    EXPECT_EQ(signature.string_to_sign, expected.at("string_to_sign").get<std::string>());
    EXPECT_EQ(signature.authorization, expected.at("authorization").get<std::string>());

    std::map<std::string, std::string> added;
    for (const auto& [name, value] : signature.headers) added[to_lower_ascii(name)] = value;
    EXPECT_EQ(added["authorization"], signature.authorization);
    added.erase("authorization");
    std::map<std::string, std::string> botocore_added;
    for (const auto& header : expected.at("added_headers"))
      botocore_added[to_lower_ascii(header.at(0).get<std::string>())] = header.at(1);
    EXPECT_EQ(added, botocore_added);
  }
}

TEST(SigV4, TheVectorsCoverWhatTheRulesName) {
  // The table is data: make sure it keeps the cases that matter if someone regenerates it.
  const auto document = load_vectors();
  std::map<std::string, int> services;
  bool token = false, valueless = false, unsigned_payload = false, port = false;
  for (const auto& v : document.at("vectors")) {
    ++services[v.at("service").get<std::string>()];
    token = token || !v.at("credentials").at("session_token").get<std::string>().empty();
    valueless = valueless || v.at("url").get<std::string>().ends_with("?uploads") ||
                v.at("url").get<std::string>().ends_with("?acl");
    unsigned_payload = unsigned_payload || v.contains("payload_hash");
    port = port || v.at("url").get<std::string>().starts_with("http://127.0.0.1:");
  }
  EXPECT_GE(services["s3"], 10);
  EXPECT_GE(services["dynamodb"], 3);
  EXPECT_GE(services["sqs"], 3);
  EXPECT_TRUE(token && valueless && unsigned_payload && port);
}

TEST(SigV4, AwsDocumentationExampleHashesItsCanonicalRequestAsDocumented) {
  // "GET Object" of the S3 SigV4 documentation: the hash of its canonical request is printed there.
  SigningRequest request{
      .method = "GET", .url = "https://examplebucket.s3.amazonaws.com/test.txt", .headers = {{"Range", "bytes=0-9"}}};
  const auto signature = sign_request(
      request,
      {.access_key_id = "AKIAIOSFODNN7EXAMPLE", .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
      "us-east-1", "s3", parse_utc("2013-05-24T00:00:00Z"));
  EXPECT_EQ(signature.string_to_sign.substr(signature.string_to_sign.rfind('\n') + 1),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(signature.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, CanonicalQueryEncodesSortsAndKeepsValuelessParameters) {
  EXPECT_EQ(canonical_query(""), "");
  EXPECT_EQ(canonical_query("uploads"), "uploads=");
  EXPECT_EQ(canonical_query("b=2&a=1&a=0&acl"), "a=0&a=1&acl=&b=2");
  EXPECT_EQ(canonical_query("prefix=a/b:c*d+e&x=%7e%2f"), "prefix=a%2Fb%3Ac%2Ad%2Be&x=~%2F");
  EXPECT_EQ(canonical_query("a-b=2&a=1"), "a=1&a-b=2") << "sorted by name first, not by the joined text";
  EXPECT_EQ(canonical_query("&&k=v&"), "k=v");
  EXPECT_EQ(canonical_query("bad=%zz%4"), "bad=%25zz%254") << "a stray '%' is a literal percent sign";
}

TEST(SigV4, SplitUrlGivesTheHostHeaderAndPath) {
  auto parts = split_url("HTTPS://User:pw@Example.COM:443/a%20b?x=1#frag");
  EXPECT_EQ(parts.scheme, "https");
  EXPECT_EQ(parts.host, "example.com");
  EXPECT_EQ(parts.path, "/a%20b");
  EXPECT_EQ(parts.query, "x=1");
  parts = split_url("http://127.0.0.1:5000");
  EXPECT_EQ(parts.host, "127.0.0.1:5000");
  EXPECT_EQ(parts.path, "/");
  EXPECT_EQ(split_url("http://[::1]:8080/p").host, "[::1]:8080");
  EXPECT_EQ(split_url("http://[::1]/p").host, "[::1]");
  EXPECT_EQ(split_url("http://host:80?q").path, "/");
  EXPECT_THROW(split_url("/just/a/path"), Error);
  EXPECT_THROW(split_url("http:///nohost"), Error);
}

TEST(SigV4, PercentDecodeLeavesPlusAndStrayPercentAlone) {
  EXPECT_EQ(percent_decode("a%20b+c%2Bd%"), "a b+c+d%");
  EXPECT_EQ(percent_decode("%E2%9C%93"), "\xE2\x9C\x93");
}

TEST(SigV4, SigningReplacesStaleAuthHeadersAndNamesNoSecret) {
  SigningRequest request{.method = "POST",
                         .url = "https://sqs.us-east-1.amazonaws.com/",
                         .headers = {{"Authorization", "old"}, {"X-Amz-Date", "19990101T000000Z"}},
                         .body = "{}"};
  const Credentials credentials{.access_key_id = "AKID", .secret_access_key = "SECRETSECRET", .session_token = "TOKEN"};
  const auto time = parse_utc("2026-01-02T03:04:05Z");
  const auto signature = sign_request(request, credentials, "us-east-1", "sqs", time);
  EXPECT_EQ(signature.canonical_request.find("old"), std::string::npos);
  EXPECT_EQ(signature.canonical_request.find("19990101"), std::string::npos);
  EXPECT_EQ(signature.authorization.find("SECRETSECRET"), std::string::npos);
  // The same request without the stale headers signs identically.
  request.headers.clear();
  EXPECT_EQ(sign_request(request, credentials, "us-east-1", "sqs", time).authorization, signature.authorization);

  try {
    sign_request(request, {.access_key_id = "", .secret_access_key = "SECRETSECRET"}, "us-east-1", "sqs", time);
    FAIL() << "signed without a key id";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_EQ(std::string(e.what()).find("SECRETSECRET"), std::string::npos);
  }
  EXPECT_THROW(sign_request(request, credentials, "", "sqs", time), Error);
}

TEST(SigV4, AmzDateIsCompactUtc) { EXPECT_EQ(amz_date(parse_utc("2026-01-02T03:04:05Z")), "20260102T030405Z"); }

}  // namespace
}  // namespace sentiflow::aws
