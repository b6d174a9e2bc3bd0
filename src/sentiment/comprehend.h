// ComprehendAnalyzer: sentiment by Amazon Comprehend (DetectSentiment, BatchDetectSentiment),
// in the same shape as the built-in engine (analyzer.h), with no VADER numbers.
//
// Contract:
// - Documents go 25 to a BatchDetectSentiment call (Comprehend's limit), in the language of
//   Options::language; a batch with one document to send uses DetectSentiment instead.
// - Each document is cut to its first 4,999 bytes on a UTF-8 character boundary (Comprehend's
//   size limit; it only reads the start of a text anyway). A code point is never split.
// - Per-document errors, never a call: text that is not UTF-8 (invalid_input, as VADER), empty
//   text (invalid_input: Comprehend refuses it). An ErrorList entry becomes its document's
//   error, with the code map_error gives Comprehend's ErrorCode.
// - At most Options::concurrency calls are in flight at once for one analyzer, across all the
//   threads that share it; one analyze() runs its calls concurrently up to that limit.
// - A call that fails after the client's retries gives its Error to each of its documents; the
//   other calls' documents keep their results. analyze() throws that Error only when every call
//   it made failed (nothing came back from Comprehend: a bad region, credentials, an outage),
//   which is Analyzer's "failure of the whole batch".
// Thread-safe: immutable apart from the in-flight counter, which is synchronised.
#pragma once

#include <cstddef>
#include <memory>
#include <semaphore>
#include <span>
#include <string>
#include <string_view>

#include "aws/client.h"
#include "sentiment/analyzer.h"

namespace sentiflow::sentiment {

// Comprehend's limits for BatchDetectSentiment.
inline constexpr size_t kComprehendBatchSize = 25;
// BatchDetectSentiment's reference asks for "fewer than 5,000 bytes of UTF-8" per document (the
// newer wording, "the maximum size of each document is 5 KB", is vaguer): 4,999 meets both.
inline constexpr size_t kComprehendMaxBytes = 4999;

// The longest prefix of `text` of at most `max_bytes` bytes that ends on a UTF-8 character
// boundary (continuation bytes 10xxxxxx are never the first byte left out). `text` is expected
// to be valid UTF-8.
std::string_view cut_utf8(std::string_view text, size_t max_bytes);

class ComprehendAnalyzer final : public Analyzer {
 public:
  struct Options {
    std::string language = "en";  // Comprehend's LanguageCode; every document is in it
    int concurrency = 4;          // calls in flight at most (>= 1)
  };

  // Calls Comprehend through `client` (made for aws::kComprehend). Throws Error(invalid_input)
  // for a null client, an empty language or a concurrency below 1.
  ComprehendAnalyzer(std::shared_ptr<const aws::AwsClient> client, Options options);
  ~ComprehendAnalyzer() override;

  std::string_view engine() const override { return "comprehend"; }

  // See Analyzer::analyze and the contract above.
  void analyze(std::span<const std::string_view> documents, std::span<Result> results) const override;
  using Analyzer::analyze;

 private:
  struct Call;
  void run_call(Call& call) const;

  std::shared_ptr<const aws::AwsClient> client_;
  Options options_;
  mutable std::counting_semaphore<> in_flight_;
};

}  // namespace sentiflow::sentiment
