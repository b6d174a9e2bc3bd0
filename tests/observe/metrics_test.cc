#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "core/error.h"
#include "observe/metrics.h"

namespace sentiflow {
namespace {

TEST(Metrics, CountersAndGaugesAddUpAcrossThreads) {
  Metrics m;
  Counter& c = m.counter("sentiflow_test_total", "test");
  Gauge& g = m.gauge("sentiflow_test_workers", "test");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.add();
        g.add(1);
        g.add(-1);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000);
  EXPECT_EQ(g.value(), 0);
  EXPECT_EQ(&m.counter("sentiflow_test_total", "test"), &c) << "the same series is returned again";
}

TEST(Metrics, IgnoresValuesThatWouldCorruptTheSeries) {
  Metrics m;
  Counter& c = m.counter("sentiflow_c_total", "c");
  c.add(2);
  c.add(-5);
  c.add(std::nan(""));
  EXPECT_EQ(c.value(), 2);
  Histogram h({1});
  h.observe(std::nan(""));
  h.observe(0.5);
  EXPECT_EQ(h.snapshot().count, 1u);
  EXPECT_EQ(h.snapshot().sum, 0.5);
}

TEST(Metrics, AFamilyHasOneKind) {
  Metrics m;
  m.counter("sentiflow_x_total", "x");
  EXPECT_THROW(m.gauge("sentiflow_x_total", "x"), Error);
  m.histogram("sentiflow_h_seconds", "h", {}, {1, 2});
  EXPECT_THROW(m.histogram("sentiflow_h_seconds", "h", {{"a", "b"}}, {1, 3}), Error);
}

TEST(Histogram, CountsIntoBucketsAndEstimatesQuantiles) {
  Histogram h({0.1, 0.2, 0.5});
  for (int i = 0; i < 50; ++i) h.observe(0.05);  // bucket <= 0.1
  for (int i = 0; i < 40; ++i) h.observe(0.15);  // bucket <= 0.2
  for (int i = 0; i < 10; ++i) h.observe(3.0);   // +Inf
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{50, 90, 90, 100}));
  EXPECT_EQ(s.count, 100u);
  EXPECT_NEAR(s.sum, 50 * 0.05 + 40 * 0.15 + 30, 1e-9);
  EXPECT_NEAR(s.quantile(0.5), 0.1, 1e-9);   // the 50th observation ends the first bucket
  EXPECT_NEAR(s.quantile(0.7), 0.15, 1e-9);  // halfway through the second
  EXPECT_EQ(s.quantile(0.99), 0.5);          // in +Inf: the highest finite bound
  EXPECT_EQ(Histogram({1}).snapshot().quantile(0.5), 0);
}

TEST(Metrics, RendersThePrometheusTextFormat) {
  Metrics m;
  m.counter("sentiflow_records_total", "Records processed.", {{"label", "POSITIVE"}}).add(3);
  m.counter("sentiflow_records_total", "Records processed.", {{"label", "NEGATIVE"}}).add(1);
  m.gauge("sentiflow_workers", "Consumer workers.\nNow.").set(2);
  m.histogram("sentiflow_batch_seconds", "Batch time.", {{"q", "a\"b"}}, {0.5, 1}).observe(0.7);
  EXPECT_EQ(m.prometheus_text(),
            "# HELP sentiflow_batch_seconds Batch time.\n"
            "# TYPE sentiflow_batch_seconds histogram\n"
            "sentiflow_batch_seconds_bucket{q=\"a\\\"b\",le=\"0.5\"} 0\n"
            "sentiflow_batch_seconds_bucket{q=\"a\\\"b\",le=\"1\"} 1\n"
            "sentiflow_batch_seconds_bucket{q=\"a\\\"b\",le=\"+Inf\"} 1\n"
            "sentiflow_batch_seconds_sum{q=\"a\\\"b\"} 0.7\n"
            "sentiflow_batch_seconds_count{q=\"a\\\"b\"} 1\n"
            "# HELP sentiflow_records_total Records processed.\n"
            "# TYPE sentiflow_records_total counter\n"
            "sentiflow_records_total{label=\"NEGATIVE\"} 1\n"
            "sentiflow_records_total{label=\"POSITIVE\"} 3\n"
            "# HELP sentiflow_workers Consumer workers.\\nNow.\n"
            "# TYPE sentiflow_workers gauge\n"
            "sentiflow_workers 2\n");
}

TEST(Metrics, SnapshotsAsJson) {
  Metrics m;
  m.counter("sentiflow_sent_total", "s").add(5);
  m.histogram("sentiflow_latency_seconds", "l").observe(0.002);
  const auto j = m.snapshot();
  EXPECT_EQ(j["sentiflow_sent_total"], 5);
  EXPECT_EQ(j["sentiflow_latency_seconds"]["count"], 1);
  EXPECT_GT(j["sentiflow_latency_seconds"]["p50"].get<double>(), 0.001);
}

}  // namespace
}  // namespace sentiflow

namespace sentiflow {
namespace {

TEST(MetricsLookup, ReadersCreateNothing) {
  Metrics m;
  EXPECT_EQ(m.value("sentiflow_missing_total"), 0);
  EXPECT_EQ(m.family_total("sentiflow_missing_total"), 0);
  EXPECT_FALSE(m.histogram_snapshot("sentiflow_missing_seconds"));
  EXPECT_EQ(m.prometheus_text(), "") << "a lookup registered a family";

  m.counter("sentiflow_things_total", "Things.", {{"kind", "a"}}).add(2);
  m.counter("sentiflow_things_total", "Things.", {{"kind", "b"}}).add(3);
  m.gauge("sentiflow_level", "Level.").set(7);
  m.histogram("sentiflow_wait_seconds", "Waits.").observe(0.2);
  EXPECT_EQ(m.value("sentiflow_things_total", {{"kind", "b"}}), 3);
  EXPECT_EQ(m.value("sentiflow_things_total", {{"kind", "c"}}), 0);
  EXPECT_EQ(m.family_total("sentiflow_things_total"), 5);
  EXPECT_EQ(m.value("sentiflow_level"), 7);
  ASSERT_TRUE(m.histogram_snapshot("sentiflow_wait_seconds"));
  EXPECT_EQ(m.histogram_snapshot("sentiflow_wait_seconds")->count, 1u);
}

}  // namespace
}  // namespace sentiflow
