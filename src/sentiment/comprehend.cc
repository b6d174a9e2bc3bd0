#include "sentiment/comprehend.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "aws/errors.h"
#include "core/error.h"
#include "core/utf8.h"
#include "sentiment/python_text.h"

namespace sentiflow::sentiment {
namespace {

constexpr std::string_view kTargetPrefix = "Comprehend_20171127.";

// Holds one of the analyzer's in-flight slots for the life of a call.
class Slot {
 public:
  explicit Slot(std::counting_semaphore<>& semaphore) : semaphore_(semaphore) { semaphore_.acquire(); }
  ~Slot() { semaphore_.release(); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  std::counting_semaphore<>& semaphore_;
};

Error bad_response(std::string_view operation, std::string_view why) {
  return Error(ErrorCode::internal, fmt::format("Comprehend {}: unexpected response: {}", operation, why));
}

Label parse_label(std::string_view operation, const std::string& text) {
  if (text == "POSITIVE") return Label::positive;
  if (text == "NEGATIVE") return Label::negative;
  if (text == "NEUTRAL") return Label::neutral;
  if (text == "MIXED") return Label::mixed;
  throw bad_response(operation, fmt::format("unknown Sentiment '{}'", text));
}

// {"Sentiment": "...", "SentimentScore": {...}}: the shape of DetectSentiment's answer and of a
// BatchDetectSentiment ResultList entry. Scores are rounded to 4 decimals like VADER's.
Sentiment parse_sentiment(std::string_view operation, const nlohmann::json& j) {
  Sentiment s;
  s.label = parse_label(operation, j.at("Sentiment").get<std::string>());
  const auto& score = j.at("SentimentScore");
  const auto number = [&](const char* name) { return python_text::round(score.at(name).get<double>(), 4); };
  s.scores = {number("Positive"), number("Negative"), number("Neutral"), number("Mixed")};
  return s;  // no VADER numbers: s.vader stays nullopt
}

// An ErrorList entry's code, mapped as a whole-call error with that code would be; Comprehend's
// INTERNAL_SERVER_ERROR is worth trying again, unlike a 4xx.
Error item_error(std::string_view operation, const std::string& code, const std::string& message) {
  const bool internal = code.find("INTERNAL") != std::string::npos;
  const ErrorCode mapped = internal ? ErrorCode::transient : aws::map_error(400, code);
  return Error(mapped, fmt::format("Comprehend {}: {}: {}", operation, code, message));
}

}  // namespace

std::string_view cut_utf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // text[end] is the first byte left out: back up while it continues the character before it.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

// One request: up to 25 documents, and where their results go.
struct ComprehendAnalyzer::Call {
  std::vector<size_t> indexes{};          // into the caller's documents and results
  std::vector<std::string_view> texts{};  // the documents, cut
  std::span<Result> results{};            // the caller's, indexed by `indexes`
  std::optional<Error> failure{};         // the whole call failed
};

ComprehendAnalyzer::ComprehendAnalyzer(std::shared_ptr<const aws::AwsClient> client, Options options)
    : client_(std::move(client)), options_(std::move(options)), in_flight_(std::max(options_.concurrency, 1)) {
  if (!client_) throw invalid_input("ComprehendAnalyzer: no AWS client");
  if (options_.language.empty()) throw invalid_input("sentiment.language: empty; Comprehend needs a language code");
  if (options_.concurrency < 1)
    throw invalid_input(fmt::format("sentiment.concurrency: {} is not at least 1", options_.concurrency));
}

ComprehendAnalyzer::~ComprehendAnalyzer() = default;

void ComprehendAnalyzer::run_call(Call& call) const {
  const bool single = call.texts.size() == 1;
  const std::string_view operation = single ? "DetectSentiment" : "BatchDetectSentiment";
  try {
    nlohmann::json body = {{"LanguageCode", options_.language}};
    if (single) {
      body["Text"] = std::string(call.texts[0]);
    } else {
      auto& list = body["TextList"] = nlohmann::json::array();
      for (const auto text : call.texts) list.push_back(std::string(text));
    }
    const aws::AwsRequest request = aws::json_request(kTargetPrefix, std::string(operation), body.dump(), "1.1");
    std::string answer;
    {
      const Slot slot(in_flight_);
      answer = client_->call(request).body;
    }
    const auto j = nlohmann::json::parse(answer);
    if (single) {
      call.results[call.indexes[0]].sentiment = parse_sentiment(operation, j);
      return;
    }
    std::vector<bool> answered(call.texts.size(), false);
    const auto position = [&](const nlohmann::json& entry) {
      const auto index = entry.at("Index").get<long long>();
      if (index < 0 || static_cast<size_t>(index) >= call.texts.size() || answered[static_cast<size_t>(index)])
        throw bad_response(operation, fmt::format("Index {} is out of range or repeated", index));
      answered[static_cast<size_t>(index)] = true;
      return static_cast<size_t>(index);
    };
    if (const auto it = j.find("ResultList"); it != j.end())
      for (const auto& entry : *it)
        call.results[call.indexes[position(entry)]].sentiment = parse_sentiment(operation, entry);
    if (const auto it = j.find("ErrorList"); it != j.end())
      for (const auto& entry : *it)
        call.results[call.indexes[position(entry)]].error = item_error(
            operation, entry.value("ErrorCode", std::string("Unknown")), entry.value("ErrorMessage", std::string()));
    for (size_t k = 0; k < answered.size(); ++k)
      if (!answered[k])
        call.results[call.indexes[k]].error = bad_response(operation, "no result and no error for this document");
  } catch (const Error& e) {
    call.failure = e;
  } catch (const nlohmann::json::exception& e) {
    call.failure = bad_response(operation, e.what());
  } catch (const std::exception& e) {  // bad_alloc and the like: this call's documents fail, not the others
    call.failure = Error(ErrorCode::internal, fmt::format("Comprehend {}: {}", operation, e.what()));
  }
}

void ComprehendAnalyzer::analyze(std::span<const std::string_view> documents, std::span<Result> results) const {
  if (results.size() != documents.size())
    throw Error(ErrorCode::internal,
                fmt::format("analyze: {} documents but {} results", documents.size(), results.size()));

  // Per-document checks first: nothing Comprehend would refuse is sent.
  std::vector<Call> calls;
  for (size_t i = 0; i < documents.size(); ++i) {
    results[i] = Result{};
    const std::string_view text = documents[i];
    if (const auto bad = find_invalid_utf8(text)) {
      results[i].error = invalid_input(fmt::format("invalid UTF-8 at byte {}", *bad));
      continue;
    }
    if (text.empty()) {
      results[i].error = invalid_input("empty text: Comprehend does not analyse an empty document");
      continue;
    }
    if (calls.empty() || calls.back().texts.size() == kComprehendBatchSize) calls.push_back(Call{.results = results});
    calls.back().indexes.push_back(i);
    calls.back().texts.push_back(cut_utf8(text, kComprehendMaxBytes));
  }
  if (calls.empty()) return;

  // This thread and up to concurrency - 1 helpers take calls in turn; the semaphore bounds the
  // calls in flight across every analyze() sharing this analyzer.
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t c = next++; c < calls.size(); c = next++) run_call(calls[c]);
  };
  const size_t helpers = std::min(calls.size(), static_cast<size_t>(options_.concurrency)) - 1;
  {
    std::vector<std::jthread> threads;
    threads.reserve(helpers);
    for (size_t t = 0; t < helpers; ++t) threads.emplace_back(work);
    work();
  }

  const bool all_failed = std::all_of(calls.begin(), calls.end(), [](const Call& c) { return c.failure.has_value(); });
  if (all_failed) throw *calls.front().failure;
  for (const Call& call : calls)
    if (call.failure)
      for (const size_t i : call.indexes) results[i].error = call.failure;
}

}  // namespace sentiflow::sentiment
