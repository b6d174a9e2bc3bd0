#include "pipeline/cost.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cmath>

#include "core/error.h"
#include "core/strings.h"
#include "core/utf8.h"
#include "schedule/schedule.h"
#include "sentiment/comprehend.h"

namespace sentiflow::pipeline {
namespace {

constexpr int64_t kComprehendCharactersPerUnit = 100;
constexpr int64_t kComprehendMinimumUnits = 3;
constexpr int64_t kComprehendTier1 = 10'000'000;  // units a month at comprehend_unit
constexpr int64_t kComprehendTier2 = 50'000'000;  // ... and up to here at comprehend_unit_over_10m
constexpr int64_t kDynamoDbReadUnitBytes = 4096;
constexpr int64_t kDynamoDbPageBytes = 1024 * 1024;  // a Scan page stops at 1 MB
constexpr int64_t kSqsChunkBytes = 64 * 1024;
constexpr int64_t kSqsBatchEntries = 10;          // SendMessageBatch, ReceiveMessage, DeleteMessageBatch
constexpr int64_t kSqsRequestBytes = 256 * 1024;  // a SendMessageBatch's payload (the producer's split)
constexpr int kComprehendBatchDocuments = 25;     // BatchDetectSentiment
constexpr double kMegabytesPerGigabyte = 1024;    // Lambda's GB-second is memory in MB / 1024
constexpr int64_t kDaysOfAMonth = 30;
constexpr double kLambdaMaxSeconds = 900;
// A checkpoint under the producer lease is a TransactWriteItems of a ConditionCheck and a Put:
// transactional writes cost two units an item.
constexpr int64_t kCheckpointWriteUnits = 4;  // a producer longer than this continues in a new invocation

// Time assumptions (docs/COST.md, "Assumptions"): round figures of Lambda in us-east-1 with
// lambda.memory 512, to be replaced by a run's measured times.
constexpr double kBatchOverheadSeconds = 0.05;         // the S3 PUT and the invocation's own work
constexpr double kLocalEngineSecondsPerText = 0.0001;  // vader/fasttext at a fraction of a vCPU
constexpr double kComprehendCallSeconds = 0.2;         // one BatchDetectSentiment call
constexpr double kProducerStartSeconds = 0.5;
constexpr double kProducerPageSeconds = 0.03;  // one Scan page
constexpr double kProducerSendSeconds = 0.01;  // one SendMessageBatch

int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

}  // namespace

int64_t comprehend_units_of(int64_t characters) {
  return std::max(kComprehendMinimumUnits, ceil_div(characters, kComprehendCharactersPerUnit));
}

int64_t comprehend_units(std::string_view text) {
  // What ComprehendAnalyzer sends: nothing for an empty text or invalid UTF-8 (refused before
  // the call), else the text cut to the document limit.
  if (text.empty() || find_invalid_utf8(text)) return 0;
  return comprehend_units_of(
      static_cast<int64_t>(count_characters(sentiment::cut_utf8(text, sentiment::kComprehendMaxBytes))));
}

double dynamodb_read_units(int64_t bytes, bool strongly_consistent) {
  const auto units = static_cast<double>(std::max<int64_t>(1, ceil_div(bytes, kDynamoDbReadUnitBytes)));
  return strongly_consistent ? units : units / 2;
}

int64_t sqs_billed_requests(int64_t payload_bytes) {
  return std::max<int64_t>(1, ceil_div(payload_bytes, kSqsChunkBytes));
}

int64_t sqs_batched_requests(std::span<const int64_t> sizes) {
  int64_t requests = 0, in_batch = 0, bytes = 0;
  for (const int64_t size : sizes) {
    if (in_batch == kSqsBatchEntries || (in_batch > 0 && bytes + size > kSqsRequestBytes)) {
      requests += sqs_billed_requests(bytes);
      in_batch = bytes = 0;
    }
    ++in_batch;
    bytes += size;
  }
  return in_batch > 0 ? requests + sqs_billed_requests(bytes) : requests;
}

int64_t sqs_delete_requests(int64_t messages) { return ceil_div(messages, kSqsBatchEntries); }

RunWork& RunWork::operator*=(int64_t runs) {
  items *= runs;
  texts *= runs;
  comprehend_units *= runs;
  table_read_units *= static_cast<double>(runs);
  sqs_requests *= runs;
  lambda_invocations *= runs;
  lambda_gb_seconds *= static_cast<double>(runs);
  s3_puts *= runs;
  state_write_units *= runs;
  state_read_units *= runs;
  scheduler_invocations *= runs;
  return *this;
}

double default_batch_seconds(const PipelineConfig& config, int batch_size) {
  if (config.sentiment.engine == SentimentEngine::comprehend) {
    const int calls = (batch_size + kComprehendBatchDocuments - 1) / kComprehendBatchDocuments;
    const int rounds = (calls + config.sentiment.concurrency - 1) / config.sentiment.concurrency;
    return kBatchOverheadSeconds + rounds * kComprehendCallSeconds;
  }
  return kBatchOverheadSeconds + batch_size * kLocalEngineSecondsPerText;
}

RunWork estimate_run_work(const PipelineConfig& config, int64_t items, const ItemProfile& profile,
                          const TimeAssumptions& times) {
  if (items < 0) throw invalid_input(fmt::format("{} items: the count cannot be negative", items));
  RunWork w;
  w.items = items;
  w.texts = items;
  w.comprehend_units = std::llround(static_cast<double>(items) * profile.comprehend_units);

  // The scan: pages of page_size items, each cut at 1 MB, each rounded up to 4 KB.
  const auto item_bytes = std::max<int64_t>(1, std::llround(profile.item_bytes));
  const int64_t per_page =
      std::max<int64_t>(1, std::min<int64_t>(config.source.page_size, kDynamoDbPageBytes / item_bytes));
  const int64_t full_pages = items / per_page;
  const int64_t last_page = items % per_page;
  w.table_read_units = static_cast<double>(full_pages) * dynamodb_read_units(per_page * item_bytes) +
                       (last_page > 0 ? dynamodb_read_units(last_page * item_bytes) : 0);
  const int64_t pages = std::max<int64_t>(1, full_pages + (last_page > 0 ? 1 : 0));

  // SQS: sends of up to 10 messages and 256 KiB; receives of up to 10 (their payload billed as
  // the sends'); deletes of 10 (no payload to speak of).
  const auto message_bytes = std::max<int64_t>(1, std::llround(profile.message_bytes));
  const int64_t per_send = std::clamp<int64_t>(kSqsRequestBytes / message_bytes, 1, kSqsBatchEntries);
  const int64_t sends = ceil_div(items, per_send);
  const int64_t billed_per_transfer = sqs_billed_requests(per_send * message_bytes);
  const int64_t deletes = ceil_div(items, kSqsBatchEntries);
  w.sqs_requests = 2 * sends * billed_per_transfer + deletes;

  // Lambda: one consumer invocation and one result object per batch.
  const int batch_size = config.consumer.batch_size;
  const int64_t batches = ceil_div(items, batch_size);
  const double batch_seconds =
      times.consumer_batch_seconds >= 0 ? times.consumer_batch_seconds : default_batch_seconds(config, batch_size);
  const double producer_seconds = times.producer_seconds >= 0
                                      ? times.producer_seconds
                                      : kProducerStartSeconds + (static_cast<double>(pages) * kProducerPageSeconds +
                                                                 static_cast<double>(sends) * kProducerSendSeconds) /
                                                                    config.source.segments;
  const double gigabytes = config.lambda.memory_mb / kMegabytesPerGigabyte;
  w.lambda_invocations = batches + 1;
  w.lambda_gb_seconds = (static_cast<double>(batches) * batch_seconds + producer_seconds) * gigabytes;
  w.s3_puts = batches;
  // A checkpoint a page, the counts a batch, start and finish; the fingerprints.
  w.state_write_units = kCheckpointWriteUnits * pages + batches + 2 + (config.source.incremental ? items : 0);
  w.state_read_units = config.source.incremental ? items : 0;
  w.scheduler_invocations = config.schedule ? 1 : 0;
  return w;
}

RunWork work_of(const RunRecord& run, const PipelineConfig& config) {
  const BilledWork& b = run.counts.work;
  RunWork w;
  w.items = run.counts.scanned;
  w.texts = run.counts.processed + run.counts.failed;
  w.comprehend_units = b.comprehend_units;
  w.table_read_units = static_cast<double>(b.scan_read_units);
  w.sqs_requests = b.sqs_requests;
  // The pages' measured time, its segments' threads side by side in one invocation: not the
  // run's start to its end, which for a run resumed a day later would be a day.
  const double producer_seconds = static_cast<double>(b.producer_ms) / 1000 / std::max(1, config.source.segments);
  const auto producer_invocations =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(producer_seconds / kLambdaMaxSeconds)));
  w.lambda_invocations = b.batches + producer_invocations;
  w.lambda_gb_seconds =
      (static_cast<double>(b.batch_ms) / 1000 + producer_seconds) * (config.lambda.memory_mb / kMegabytesPerGigabyte);
  w.s3_puts = b.objects;
  const bool incremental = config.source.incremental;
  w.state_write_units = kCheckpointWriteUnits * b.pages + b.batches + 2 + (incremental ? run.counts.processed : 0);
  w.state_read_units = incremental ? run.counts.scanned : 0;
  w.scheduler_invocations = run.kind == RunKind::scheduled ? 1 : 0;
  return w;
}

RunWork saved_by_incremental(const RunRecord& run, const PipelineConfig& config) {
  RunWork w;
  const int64_t n = run.counts.unchanged;
  if (n <= 0) return w;
  const int64_t batches = ceil_div(n, config.consumer.batch_size);
  w.texts = n;
  w.comprehend_units = run.counts.work.unchanged_comprehend_units;
  w.sqs_requests = 3 * ceil_div(n, kSqsBatchEntries);
  w.lambda_invocations = batches;
  w.lambda_gb_seconds = static_cast<double>(batches) * default_batch_seconds(config, config.consumer.batch_size) *
                        (config.lambda.memory_mb / kMegabytesPerGigabyte);
  w.s3_puts = batches;
  w.state_write_units = batches;
  return w;
}

double comprehend_dollars(int64_t units, int64_t units_before, const PipelineConfig::Prices& prices) {
  const auto in_tier = [&](int64_t low, int64_t high) {
    const int64_t from = std::max(units_before, low);
    const int64_t to = std::min(units_before + units, high);
    return static_cast<double>(std::max<int64_t>(0, to - from));
  };
  constexpr int64_t kNoEnd = INT64_MAX;
  return in_tier(0, kComprehendTier1) * prices.comprehend_unit +
         in_tier(kComprehendTier1, kComprehendTier2) * prices.comprehend_unit_over_10m +
         in_tier(kComprehendTier2, kNoEnd) * prices.comprehend_unit_over_50m;
}

Cost price(const RunWork& w, const PipelineConfig& config, int64_t units_before) {
  const auto& p = config.cost;
  Cost cost;
  const bool comprehend = config.sentiment.engine == SentimentEngine::comprehend;
  cost.lines.push_back({"Comprehend",
                        fmt::format("{} units of {} texts{}", thousands(w.comprehend_units), thousands(w.texts),
                                    comprehend ? "" : " (with engine comprehend; not counted)"),
                        comprehend_dollars(w.comprehend_units, units_before, p), comprehend});
  cost.lines.push_back({"SQS", fmt::format("{} requests", thousands(w.sqs_requests)),
                        static_cast<double>(w.sqs_requests) * p.sqs_per_million / 1e6, true});
  cost.lines.push_back(
      {"Lambda", fmt::format("{} invocations, {:.1f} GB-s", thousands(w.lambda_invocations), w.lambda_gb_seconds),
       static_cast<double>(w.lambda_invocations) * p.lambda_per_million / 1e6 +
           w.lambda_gb_seconds * p.lambda_gb_second,
       true});
  cost.lines.push_back({"S3", fmt::format("{} PUTs", thousands(w.s3_puts)),
                        static_cast<double>(w.s3_puts) * p.s3_put_per_thousand / 1e3, true});
  cost.lines.push_back(
      {"DynamoDB",
       fmt::format("{} read units (scan{}), {} write units (run state)",
                   thousands(std::llround(std::ceil(w.table_read_units)) + w.state_read_units),
                   w.state_read_units > 0 ? ", fingerprints" : "", thousands(w.state_write_units)),
       (w.table_read_units + static_cast<double>(w.state_read_units)) * p.dynamodb_read_per_million / 1e6 +
           static_cast<double>(w.state_write_units) * p.dynamodb_write_per_million / 1e6,
       true});
  if (w.scheduler_invocations > 0)
    cost.lines.push_back(
        {"EventBridge Scheduler",
         fmt::format("{} invocation{}", thousands(w.scheduler_invocations), w.scheduler_invocations == 1 ? "" : "s"),
         static_cast<double>(w.scheduler_invocations) * p.scheduler_per_million / 1e6, true});
  for (const auto& line : cost.lines)
    if (line.counted) cost.total += line.dollars;
  return cost;
}

int64_t runs_in_30_days(const PipelineConfig& config, Seconds from) {
  if (!config.schedule) return 0;
  const Seconds end = from + std::chrono::hours(24 * kDaysOfAMonth);
  int64_t runs = 0;
  for (auto t = next_fire_time(*config.schedule, from); t && *t <= end; t = next_fire_time(*config.schedule, *t))
    ++runs;
  return runs;
}

std::string format_dollars(double d) {
  if (d >= 100) return fmt::format("${:.2f}", d);
  return d >= 0.01 || d == 0 ? fmt::format("${:.4f}", d) : fmt::format("${:.7f}", d);
}

std::string summary_line(const Cost& cost) {
  std::string parts;
  std::string comprehend;
  for (const auto& l : cost.lines) {
    if (!l.counted) {
      comprehend = fmt::format(" (with engine comprehend, {} more)", format_dollars(l.dollars));
      continue;
    }
    parts += fmt::format("{}{} {}", parts.empty() ? "" : " · ", l.service, format_dollars(l.dollars));
  }
  return fmt::format("{}: {}{}", format_dollars(cost.total), parts, comprehend);
}

nlohmann::json to_json(const Cost& cost) {
  nlohmann::json lines = nlohmann::json::array();
  for (const auto& l : cost.lines)
    lines.push_back({{"service", l.service}, {"work", l.work}, {"dollars", l.dollars}, {"counted", l.counted}});
  return {{"total", cost.total}, {"lines", std::move(lines)}};
}

nlohmann::json to_json(const RunWork& w) {
  return {{"items", w.items},
          {"texts", w.texts},
          {"comprehend_units", w.comprehend_units},
          {"table_read_units", w.table_read_units},
          {"sqs_requests", w.sqs_requests},
          {"lambda_invocations", w.lambda_invocations},
          {"lambda_gb_seconds", w.lambda_gb_seconds},
          {"s3_puts", w.s3_puts},
          {"state_write_units", w.state_write_units},
          {"state_read_units", w.state_read_units},
          {"scheduler_invocations", w.scheduler_invocations}};
}

nlohmann::json run_json_with_cost(const RunRecord& run, const PipelineConfig& config) {
  nlohmann::json j = to_json(run);
  j["cost"] = to_json(price(work_of(run, config), config));
  if (config.source.incremental) j["saved"] = to_json(price(saved_by_incremental(run, config), config));
  return j;
}

}  // namespace sentiflow::pipeline
