// Metrics: counters, gauges and latency histograms in one registry.
//
// The registry owns every metric; callers keep the references it returns (they stay valid
// for the registry's life) and update them from any thread without locks: counters and
// gauges are atomics, histograms atomic bucket counts. Creating or looking up a metric
// takes a mutex, so do it once, not per event. `Metrics::global()` is the process registry
// (DESIGN.md allows exactly two globals: the logger and this).
//
// Names follow Prometheus conventions (`sentiflow_` prefix, `_total` for counters,
// `_seconds` for times); the registry renders the text exposition format and a JSON
// snapshot for run summaries and timelines.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sentiflow {

// Label names and values of one series, e.g. {{"label", "POSITIVE"}}. Sorted by name.
using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  // Adds `amount`. Counters only go up: a negative or NaN amount is ignored.
  void add(double amount = 1) {
    if (amount >= 0) value_.fetch_add(amount, std::memory_order_relaxed);
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);

  // Counts `value`; NaN is ignored (it would poison the sum).
  void observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative;  // observations <= each bound, then the +Inf total
    double sum = 0;
    uint64_t count = 0;
    // The q-quantile (0..1) by linear interpolation inside its bucket, as Prometheus's
    // histogram_quantile does; 0 when there are no observations.
    double quantile(double q) const;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Latency buckets in seconds, 1 ms to 60 s.
std::vector<double> latency_buckets();

class Metrics {
 public:
  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  static Metrics& global();

  // Returns the series of `name` with `labels`, creating the family on first use. A name
  // used with another kind, or a histogram with other buckets, throws Error(internal):
  // that is a bug, not a user error.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const Labels& labels = {},
                       std::vector<double> upper_bounds = latency_buckets());

  // The Prometheus text exposition format (version 0.0.4): HELP and TYPE per family,
  // families and series sorted, so that output is stable.
  std::string prometheus_text() const;

  // {"name": value, "name{label=\"v\"}": value, ...}; histograms give count, sum, p50, p90, p99.
  nlohmann::json snapshot() const;

  // The value of a counter or gauge series, or 0 when it does not exist: for readers (run
  // summaries, live points) that must not register families they do not own.
  double value(std::string_view name, const Labels& labels = {}) const;
  // The sum of a counter or gauge family's series (0 when missing).
  double family_total(std::string_view name) const;
  // A histogram series' snapshot, or nullopt when it does not exist.
  std::optional<Histogram::Snapshot> histogram_snapshot(std::string_view name, const Labels& labels = {}) const;

 private:
  enum class Kind { counter, gauge, histogram };
  // One family holds series of its own kind only; the other two maps stay empty.
  struct Family {
    Kind kind;
    std::string help;
    std::vector<double> upper_bounds;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& family(std::string_view name, std::string_view help, Kind kind);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace sentiflow
