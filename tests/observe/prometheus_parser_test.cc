// The strict exposition-format parser of tests/support on good and bad text, and on what our
// registry writes.
#include "support/prometheus_parser.h"

#include <gtest/gtest.h>

#include <cmath>

#include "observe/metrics.h"

namespace sentiflow {
namespace {

namespace prom = testing_support::prometheus;

TEST(PrometheusParser, ReadsFamiliesLabelsEscapesValuesAndTimestamps) {
  const auto families = prom::parse(
      "# A comment, then an empty line.\n"
      "\n"
      "# HELP http_requests_total Requests served;\\n a \\\\ backslash.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{code=\"200\",method=\"get\"} 1027 1395066363000\n"
      "http_requests_total{code=\"400\", method=\"post\",} 3\n"
      "# TYPE temperature gauge\n"
      "# HELP temperature\n"
      "temperature{room=\"a \\\"b\\\" \\\\ c\\nd\"}\t-1.5e3\n"
      "temperature{room=\"nan\"} NaN\n"
      "temperature{room=\"hot\"} +Inf\n"
      "temperature{room=\"cold\"} -Inf -5\n"
      "# HELP ns:ratio A recording-rule style name.\n"
      "# TYPE ns:ratio untyped\n"
      "ns:ratio .5\n");
  ASSERT_EQ(families.size(), 3u);
  const auto& requests = families[0];
  EXPECT_EQ(requests.name, "http_requests_total");
  EXPECT_EQ(requests.type, "counter");
  EXPECT_EQ(requests.help, "Requests served;\n a \\ backslash.");
  ASSERT_EQ(requests.samples.size(), 2u);
  EXPECT_EQ(requests.samples[0].timestamp_ms, 1395066363000);
  EXPECT_EQ(requests.samples[0].line, 5u);
  EXPECT_EQ(requests.value("http_requests_total", {{"code", "400"}, {"method", "post"}}), 3);

  const auto& temperature = families[1];
  EXPECT_EQ(temperature.help, "");
  EXPECT_EQ(temperature.value("temperature", {{"room", "a \"b\" \\ c\nd"}}), -1500);
  EXPECT_TRUE(std::isnan(*temperature.value("temperature", {{"room", "nan"}})));
  EXPECT_EQ(temperature.value("temperature", {{"room", "hot"}}), INFINITY);
  EXPECT_EQ(temperature.samples[3].timestamp_ms, -5);
  EXPECT_EQ(prom::find(families, "ns:ratio")->value("ns:ratio"), 0.5);
  EXPECT_EQ(prom::find(families, "absent"), nullptr);
}

TEST(PrometheusParser, ReadsHistogramsAndSummaries) {
  const auto families = prom::parse(
      "# HELP latency_seconds Latency.\n"
      "# TYPE latency_seconds histogram\n"
      "latency_seconds_bucket{path=\"/\",le=\"0.1\"} 1\n"
      "latency_seconds_bucket{path=\"/\",le=\"1\"} 3\n"
      "latency_seconds_bucket{path=\"/\",le=\"+Inf\"} 4\n"
      "latency_seconds_sum{path=\"/\"} 7.25\n"
      "latency_seconds_count{path=\"/\"} 4\n"
      "latency_seconds_bucket{path=\"/x\",le=\"0.1\"} 0\n"
      "latency_seconds_bucket{path=\"/x\",le=\"1\"} 0\n"
      "latency_seconds_bucket{path=\"/x\",le=\"+Inf\"} 0\n"
      "latency_seconds_sum{path=\"/x\"} 0\n"
      "latency_seconds_count{path=\"/x\"} 0\n"
      "# HELP rpc_seconds RPCs.\n"
      "# TYPE rpc_seconds summary\n"
      "rpc_seconds{quantile=\"0.5\"} 0.2\n"
      "rpc_seconds{quantile=\"0.99\"} 1.5\n"
      "rpc_seconds_sum 12\n"
      "rpc_seconds_count 30\n"
      "# HELP empty_family A family with no series yet.\n"
      "# TYPE empty_family gauge\n");
  ASSERT_EQ(families.size(), 3u);
  EXPECT_EQ(families[0].samples.size(), 10u);
  EXPECT_EQ(families[0].value("latency_seconds_bucket", {{"path", "/"}, {"le", "1"}}), 3);
  EXPECT_EQ(families[1].value("rpc_seconds_count"), 30);
  EXPECT_TRUE(families[2].samples.empty());
  EXPECT_TRUE(prom::parse("").empty());
}

struct BadInput {
  const char* why;
  std::string text;
  size_t line;
  const char* message;  // a part of the error's text
};

constexpr const char* kHead = "# HELP m Help.\n# TYPE m counter\n";
constexpr const char* kHist = "# HELP h Help.\n# TYPE h histogram\n";

std::vector<BadInput> bad_inputs() {
  const std::string head = kHead;
  const std::string hist = kHist;
  return {
      {"no final newline", head + "m 1", 3, "does not end"},
      {"CRLF line ends", "# HELP m Help.\r\n# TYPE m counter\r\n", 2, "unknown metric type"},
      {"no HELP or TYPE", "m 1\n", 1, "before any"},
      {"TYPE without HELP", "# TYPE m counter\nm 1\n", 2, "before both"},
      {"HELP without TYPE", "# HELP m Help.\nm 1\n", 2, "before both"},
      {"family without TYPE", "# HELP m Help.\n# HELP n Help.\n", 2, "has no # TYPE"},
      {"HELP after the samples", head + "m 1\n# HELP m Again.\n", 4, "after its samples"},
      {"second TYPE", head + "# TYPE m counter\n", 3, "second # TYPE"},
      {"second HELP", head + "# HELP m Again.\n", 3, "second # HELP"},
      {"unknown type", "# HELP m Help.\n# TYPE m meter\n", 2, "unknown metric type"},
      {"text after the type", "# HELP m Help.\n# TYPE m counter extra\n", 2, "after the type"},
      {"bad metric name", "# HELP 1m Help.\n", 1, "metric name"},
      {"bad sample name", head + "m-x 1\n", 3, "blank before the value"},
      {"bad label name", head + "m{1x=\"v\"} 1\n", 3, "label name"},
      {"colon in a label name", head + "m{a:b=\"v\"} 1\n", 3, "="},
      {"reserved label name", head + "m{__name__=\"v\"} 1\n", 3, "reserved"},
      {"unquoted label value", head + "m{a=v} 1\n", 3, "quoted"},
      {"unterminated label value", head + "m{a=\"v} 1\n", 3, "unterminated"},
      {"bad escape in a label value", head + "m{a=\"\\t\"} 1\n", 3, "invalid escape"},
      {"bad escape in HELP", "# HELP m tab\\t.\n", 1, "invalid escape"},
      {"label value not UTF-8", head + "m{a=\"\xC3\x28\"} 1\n", 3, "UTF-8"},
      {"duplicate label", head + "m{a=\"1\",a=\"2\"} 1\n", 3, "twice"},
      {"missing }", head + "m{a=\"1\" 1\n", 3, ", or }"},
      {"duplicate series", head + "m{a=\"1\"} 1\nm{a=\"1\"} 2\n", 4, "duplicate series"},
      {"no value", head + "m\n", 3, "blank before the value"},
      {"comma decimal", head + "m 1,5\n", 3, "invalid sample value"},
      {"lower-case inf", head + "m inf\n", 3, "invalid sample value"},
      {"hex value", head + "m 0x10\n", 3, "invalid sample value"},
      {"bare exponent", head + "m 1e\n", 3, "invalid sample value"},
      {"fractional timestamp", head + "m 1 1.5\n", 3, "invalid timestamp"},
      {"text after the timestamp", head + "m 1 1 1\n", 3, "after the timestamp"},
      {"counter sample with another name", head + "m_total 1\n", 3, "not part of counter m"},
      {"negative counter", head + "m -1\n", 3, "negative"},
      {"interleaved families", head + "m 1\n# HELP n Help.\n# TYPE n gauge\nn 1\nm{a=\"2\"} 1\n", 7,
       "not part of gauge n"},
      {"family declared twice", head + "m 1\n# HELP n Help.\n# TYPE n gauge\n# HELP m Again.\n", 6, "declared again"},
      {"bucket without le", hist + "h_bucket 1\n", 3, "no le label"},
      {"sum with le", hist + "h_sum{le=\"1\"} 1\n", 3, "must not have an le"},
      {"foreign sample in a histogram", hist + "h_total 1\n", 3, "not part of histogram"},
      {"no +Inf bucket", hist + "h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", 3, "+Inf"},
      {"buckets not cumulative",
       hist + "h_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n", 4,
       "cumulative"},
      {"le not ascending",
       hist + "h_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", 4,
       "ascending"},
      {"count differs from +Inf", hist + "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", 5, "equal the le"},
      {"histogram without sum", hist + "h_bucket{le=\"+Inf\"} 2\nh_count 2\n", 3, "without h_sum"},
      {"histogram without count", hist + "h_bucket{le=\"+Inf\"} 2\nh_sum 2\n", 3, "without h_count"},
      {"fractional bucket count", hist + "h_bucket{le=\"+Inf\"} 1.5\nh_sum 2\nh_count 1.5\n", 5, "whole number"},
      {"summary without quantile", "# HELP s Help.\n# TYPE s summary\ns 1\n", 3, "no quantile"},
      {"quantile above 1", "# HELP s Help.\n# TYPE s summary\ns{quantile=\"1.5\"} 1\n", 3, "from 0 to 1"},
  };
}

TEST(PrometheusParser, RejectsEachViolationWithItsLine) {
  for (const auto& bad : bad_inputs()) {
    SCOPED_TRACE(bad.why);
    try {
      prom::parse(bad.text);
      ADD_FAILURE() << "accepted: " << bad.text;
    } catch (const prom::ParseError& e) {
      EXPECT_EQ(e.line(), bad.line) << e.what();
      EXPECT_NE(std::string(e.what()).find(bad.message), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("line " + std::to_string(bad.line) + ": ", 0), 0u) << e.what();
    }
  }
}

TEST(PrometheusParser, AcceptsWhatOurRegistryWrites) {
  Metrics metrics;
  metrics.counter("sentiflow_test_events_total", "Events, with a \\ backslash\nand a second line.").add(3);
  metrics.counter("sentiflow_test_labelled_total", "Labelled.", {{"label", "POSITIVE"}}).add(2);
  metrics.counter("sentiflow_test_labelled_total", "Labelled.", {{"label", "odd \"quoted\" \\ new\nline"}}).add(1);
  metrics.gauge("sentiflow_test_workers", "Workers.").set(-2.5);
  metrics.gauge("sentiflow_test_unset", "Not a number.").set(NAN);
  auto& latency = metrics.histogram("sentiflow_test_seconds", "Latency.", {{"step", "a"}});
  for (double v : {0.0005, 0.003, 0.003, 0.2, 7.0, 100.0}) latency.observe(v);
  metrics.histogram("sentiflow_test_seconds", "Latency.", {{"step", "b"}});  // no observations

  const auto families = prom::parse(metrics.prometheus_text());
  ASSERT_EQ(families.size(), 5u);
  const auto* events = prom::find(families, "sentiflow_test_events_total");
  ASSERT_NE(events, nullptr);
  EXPECT_EQ(events->type, "counter");
  EXPECT_EQ(events->help, "Events, with a \\ backslash\nand a second line.");
  EXPECT_EQ(events->value("sentiflow_test_events_total"), 3);
  const auto* labelled = prom::find(families, "sentiflow_test_labelled_total");
  EXPECT_EQ(labelled->value("sentiflow_test_labelled_total", {{"label", "odd \"quoted\" \\ new\nline"}}), 1);
  EXPECT_EQ(prom::find(families, "sentiflow_test_workers")->value("sentiflow_test_workers"), -2.5);
  EXPECT_EQ(prom::find(families, "sentiflow_test_workers")->type, "gauge");
  EXPECT_TRUE(std::isnan(*prom::find(families, "sentiflow_test_unset")->value("sentiflow_test_unset")));

  const auto* seconds = prom::find(families, "sentiflow_test_seconds");
  ASSERT_NE(seconds, nullptr);
  EXPECT_EQ(seconds->type, "histogram");
  EXPECT_EQ(seconds->value("sentiflow_test_seconds_count", {{"step", "a"}}), 6);
  EXPECT_EQ(seconds->value("sentiflow_test_seconds_bucket", {{"step", "a"}, {"le", "0.001"}}), 1);
  EXPECT_EQ(seconds->value("sentiflow_test_seconds_bucket", {{"step", "a"}, {"le", "0.005"}}), 3);
  EXPECT_EQ(seconds->value("sentiflow_test_seconds_bucket", {{"step", "a"}, {"le", "60"}}), 5);
  EXPECT_EQ(seconds->value("sentiflow_test_seconds_bucket", {{"step", "a"}, {"le", "+Inf"}}), 6);
  EXPECT_DOUBLE_EQ(*seconds->value("sentiflow_test_seconds_sum", {{"step", "a"}}), 0.0005 + 0.006 + 0.2 + 7 + 100);
  EXPECT_EQ(seconds->value("sentiflow_test_seconds_count", {{"step", "b"}}), 0);

  EXPECT_TRUE(prom::parse(Metrics().prometheus_text()).empty());
}

}  // namespace
}  // namespace sentiflow
