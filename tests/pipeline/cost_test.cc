// The cost model's arithmetic (pipeline/cost.h), checked against AWS's own rules and worked
// examples: each test names the page it takes its figures from.
#include "pipeline/cost.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "config/loader.h"
#include "core/time.h"

namespace sentiflow::pipeline {
namespace {

PipelineConfig config_of(const std::string& yaml) {
  const LoadResult r = load_pipeline_text(yaml, "/tmp/cost-test/pipeline.yaml");
  if (!r.config) {
    std::string messages;
    for (const auto& e : r.errors) messages += e.key + ": " + e.message + "\n";
    throw std::runtime_error(messages);
  }
  return *r.config;
}

const char* const kBase = "name: cost\nsource: {table: local://items, key: id, text: text}\n";

// Comprehend pricing (aws.amazon.com/comprehend/pricing, "Natural Language Processing"): requests
// are measured in units of 100 characters, with a 3-unit (300-character) minimum charge per
// request.
TEST(CostModel, ComprehendBillsAHundredCharactersAUnitAndThreeUnitsAtLeast) {
  EXPECT_EQ(comprehend_units(""), 0);                         // never sent: the engine refuses it before the call
  EXPECT_EQ(comprehend_units("bad \xFF"), 0);                 // nor invalid UTF-8
  EXPECT_EQ(comprehend_units(std::string(20'000, 'a')), 50);  // cut to 4,999 bytes, as sent
  EXPECT_EQ(comprehend_units("great"), 3);
  EXPECT_EQ(comprehend_units(std::string(300, 'a')), 3);
  EXPECT_EQ(comprehend_units(std::string(301, 'a')), 4);
  EXPECT_EQ(comprehend_units(std::string(550, 'a')), 6);
  // Characters, not bytes: 350 two-byte characters (700 bytes) are 4 units, not 7.
  std::string accents;
  for (int i = 0; i < 350; ++i) accents += "\xC3\xA9";  // é
  EXPECT_EQ(comprehend_units(accents), 4);
  EXPECT_EQ(comprehend_units_of(1000), 10);
}

// The same page's tiers: $0.0001 a unit up to 10 M units a month, $0.00005 from 10 M to 50 M,
// $0.000025 over 50 M.
TEST(CostModel, ComprehendsMonthlyTiersApplyToTheMonthsUnitsSoFar) {
  const PipelineConfig::Prices prices;
  // The issue's example: 10,000 short texts (3 units each) a run cost $3.
  EXPECT_DOUBLE_EQ(comprehend_dollars(30'000, 0, prices), 3.0);
  // Hourly for 30 days: 21.6 M units = 10 M at the first price + 11.6 M at the second.
  EXPECT_NEAR(comprehend_dollars(21'600'000, 0, prices), 1000.0 + 580.0, 1e-6);
  EXPECT_NEAR(comprehend_dollars(60'000'000, 0, prices), 1000.0 + 2000.0 + 250.0, 1e-6);
  // A run that crosses the 10 M line: its first 1 M units at the first price, the rest at the second.
  EXPECT_NEAR(comprehend_dollars(2'000'000, 9'000'000, prices), 100.0 + 50.0, 1e-9);
  EXPECT_NEAR(comprehend_dollars(1'000, 60'000'000, prices), 0.025, 1e-12);
  EXPECT_EQ(comprehend_dollars(0, 0, prices), 0);
}

// DynamoDB developer guide, "Read request unit consumption for Query" (the same rule as Scan):
// "suppose your Query returns 10 items whose combined size is 40.8 KB. Amazon DynamoDB rounds
// the item size for the operation to 44 KB" — 11 units strongly consistent, half eventually;
// "If a query returns 1500 items of 64 bytes each, the cumulative size is 96 KB."
TEST(CostModel, DynamoDbReadsRoundTheOperationsItemsUpToFourKilobytes) {
  const auto bytes_40_8_kb = static_cast<int64_t>(40.8 * 1024);
  EXPECT_DOUBLE_EQ(dynamodb_read_units(bytes_40_8_kb), 11);
  EXPECT_DOUBLE_EQ(dynamodb_read_units(bytes_40_8_kb, /*strongly_consistent=*/false), 5.5);
  EXPECT_DOUBLE_EQ(dynamodb_read_units(1500 * 64), 24);
  EXPECT_DOUBLE_EQ(dynamodb_read_units(1), 1);  // an operation reads at least one unit
  EXPECT_DOUBLE_EQ(dynamodb_read_units(4096), 1);
  EXPECT_DOUBLE_EQ(dynamodb_read_units(4097), 2);
}

// SQS pricing (aws.amazon.com/sqs/pricing): "Each 64 KB chunk of a payload is billed as 1
// request (for example, an API action with a 256 KB payload is billed as 4 requests)."
TEST(CostModel, SqsBillsEachSixtyFourKilobytesOfAPayloadAsARequest) {
  EXPECT_EQ(sqs_billed_requests(256 * 1024), 4);
  EXPECT_EQ(sqs_billed_requests(64 * 1024), 1);
  EXPECT_EQ(sqs_billed_requests(64 * 1024 + 1), 2);
  EXPECT_EQ(sqs_billed_requests(0), 1);  // a request without payload (a delete) is still one
}

// Lambda pricing (aws.amazon.com/lambda/pricing), the example of a function of 512 MB run 3
// million times a month for 1 second each: 1,500,000 GB-s; less the free tier's 400,000 GB-s,
// 1,100,000 GB-s x $0.00001667 = $18.34, and 2 M billable requests x $0.20/M = $0.40: $18.74.
TEST(CostModel, LambdaIsPricedByInvocationsAndGigabyteSecondsAsAwssExample) {
  PipelineConfig c = config_of(std::string(kBase) + "lambda: {memory: 512}\n");
  // The example's work without the free tier: this model subtracts none.
  RunWork w;
  w.lambda_invocations = 3'000'000;
  w.lambda_gb_seconds = 3'000'000 * 1.0 * (512 / 1024.0);
  EXPECT_DOUBLE_EQ(w.lambda_gb_seconds, 1'500'000);
  c.cost.lambda_gb_second = 0.00001667;  // the example's rounded price
  const auto lambda_line = [&](const RunWork& work) {
    for (const auto& line : price(work, c).lines)
      if (line.service == "Lambda") return line.dollars;
    return -1.0;
  };
  EXPECT_NEAR(lambda_line(w), 25.005 + 0.60, 1e-9);
  // With the example's free tier taken off by hand, the example's bill to the cent.
  w.lambda_invocations -= 1'000'000;
  w.lambda_gb_seconds -= 400'000;
  EXPECT_NEAR(lambda_line(w), 18.74, 0.005);
}

TEST(CostModel, ARunOfTenThousandShortTextsIsTheIssuesThreeDollarsOnComprehend) {
  const PipelineConfig c = config_of(std::string(kBase) +
                                     "schedule: rate(1 hour)\nconsumer: {batch_size: 10}\n"
                                     "sentiment: {engine: comprehend}\nlambda: {memory: 1024}\n");
  ItemProfile profile;
  profile.comprehend_units = 3;
  profile.item_bytes = 200;
  profile.message_bytes = 300;
  const RunWork w = estimate_run_work(c, 10'000, profile, {.consumer_batch_seconds = 0.5, .producer_seconds = 10});
  EXPECT_EQ(w.items, 10'000);
  EXPECT_EQ(w.comprehend_units, 30'000);
  // 10 pages of 1,000 items of 200 bytes: 200,000 bytes a page, 49 units each (strongly consistent).
  EXPECT_DOUBLE_EQ(w.table_read_units, 10 * 49);
  // 1,000 sends and 1,000 receives of 10 messages of 300 bytes (one chunk each), 1,000 deletes.
  EXPECT_EQ(w.sqs_requests, 3'000);
  // 1,000 consumer invocations of 0.5 s and one producer of 10 s, at 1 GB.
  EXPECT_EQ(w.lambda_invocations, 1'001);
  EXPECT_DOUBLE_EQ(w.lambda_gb_seconds, 1'000 * 0.5 + 10);
  EXPECT_EQ(w.s3_puts, 1'000);
  EXPECT_EQ(w.state_write_units, 4 * 10 + 1'000 + 2);  // checkpoints are transactions: 4 units a page
  EXPECT_EQ(w.state_read_units, 0);
  EXPECT_EQ(w.scheduler_invocations, 1);

  const Cost cost = price(w, c);
  EXPECT_EQ(cost.lines.front().service, "Comprehend");
  EXPECT_TRUE(cost.lines.front().counted);
  EXPECT_DOUBLE_EQ(cost.lines.front().dollars, 3.0);
  const double expected = 3.0 + 3'000 * 0.40 / 1e6 + (1'001 * 0.20 / 1e6 + 510 * 0.0000166667) + 1'000 * 0.005 / 1e3 +
                          (490 * 0.125 / 1e6 + 1'042 * 0.625 / 1e6) + 1 * 1.0 / 1e6;
  EXPECT_NEAR(cost.total, expected, 1e-12);
}

TEST(CostModel, AnotherEngineShowsComprehendUncountedAndThePipelineFilesPricesWin) {
  const PipelineConfig c = config_of(
      std::string(kBase) + "cost: {comprehend_unit: 0.001, sqs_per_million: 1}\nsentiment: {engine: vader}\n");
  EXPECT_DOUBLE_EQ(c.cost.comprehend_unit, 0.001);
  RunWork w;
  w.texts = 100;
  w.comprehend_units = 300;
  w.sqs_requests = 2'000'000;
  const Cost cost = price(w, c);
  ASSERT_EQ(cost.lines.front().service, "Comprehend");
  EXPECT_FALSE(cost.lines.front().counted);
  EXPECT_DOUBLE_EQ(cost.lines.front().dollars, 0.3);
  EXPECT_NE(cost.lines.front().work.find("not counted"), std::string::npos);
  EXPECT_DOUBLE_EQ(cost.total, 2.0);  // the SQS line alone, at the file's price
}

TEST(CostModel, LargeMessagesTakeMoreChunksAndFewerMessagesARequest) {
  const PipelineConfig c = config_of(kBase);
  ItemProfile profile;
  profile.message_bytes = 100 * 1024;  // two fit a 256 KiB send, each request of 200 KiB: 4 chunks
  profile.item_bytes = 100 * 1024;
  const RunWork w = estimate_run_work(c, 10, profile, {.consumer_batch_seconds = 0, .producer_seconds = 0});
  EXPECT_EQ(w.sqs_requests, 2 * 5 * 4 + 1);  // 5 sends and 5 receives of 4 chunks, 1 delete of 10
  // Pages stop at 1 MB: 10 items of 100 KiB per page, so one page of 1,000 KiB: 250 units.
  EXPECT_DOUBLE_EQ(w.table_read_units, 250);
}

TEST(CostModel, WhatAnIncrementalScanSavedIsTheWorkOfItsUnchangedItems) {
  const PipelineConfig c = config_of(std::string(kBase) +
                                     "consumer: {batch_size: 100}\nsentiment: {engine: comprehend}\n"
                                     "lambda: {memory: 1024}\n");
  RunRecord run;
  EXPECT_EQ(price(saved_by_incremental(run, c), c).total, 0);  // nothing unchanged, nothing saved
  run.counts.unchanged = 1'000;
  run.counts.work.unchanged_comprehend_units = 3'500;
  const RunWork w = saved_by_incremental(run, c);
  EXPECT_EQ(w.comprehend_units, 3'500);
  EXPECT_EQ(w.sqs_requests, 3 * 100);  // a send, a receive and a delete of 10 at a time
  EXPECT_EQ(w.lambda_invocations, 10);
  EXPECT_DOUBLE_EQ(w.lambda_gb_seconds, 10 * default_batch_seconds(c, 100) * 1.0);
  EXPECT_EQ(w.s3_puts, 10);
  const Cost saved = price(w, c);
  EXPECT_TRUE(saved.lines.front().counted);
  EXPECT_DOUBLE_EQ(saved.lines.front().dollars, 0.35);
}

TEST(CostModel, RunsInThirtyDaysFollowTheSchedule) {
  const Seconds from = parse_utc("2026-12-01T00:00:00Z");
  EXPECT_EQ(runs_in_30_days(config_of(std::string(kBase) + "schedule: rate(1 hour)\n"), from), 720);
  EXPECT_EQ(runs_in_30_days(config_of(std::string(kBase) + "schedule: cron(0 6 * * ? *)\n"), from), 30);
  EXPECT_EQ(runs_in_30_days(config_of(kBase), from), 0);
}

TEST(CostModel, APriceThatIsNotANumberOrNegativeIsRefused) {
  for (const char* bad : {"cost: {sqs_per_million: -1}\n", "cost: {comprehend_unit: cheap}\n"}) {
    const LoadResult r = load_pipeline_text(std::string(kBase) + bad, "/tmp/cost-test/pipeline.yaml");
    EXPECT_FALSE(r.config) << bad;
  }
}

}  // namespace
}  // namespace sentiflow::pipeline
