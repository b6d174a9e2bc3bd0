#include "observe/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sentiflow {

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_.size() + 1)) {
  if (!std::is_sorted(upper_bounds_.begin(), upper_bounds_.end()))
    throw Error(ErrorCode::internal, "histogram bucket bounds must ascend");
}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;
  // Buckets are few (tens): a binary search is as fast as anything cleverer.
  const auto index =
      static_cast<size_t>(std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.upper_bounds = upper_bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // The count is the bucket total, so that a snapshot taken during updates is consistent.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

double Histogram::Snapshot::quantile(double q) const {
  if (count == 0) return 0;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(count);
  for (size_t i = 0; i < cumulative.size(); ++i) {
    if (static_cast<double>(cumulative[i]) < rank) continue;
    if (i == upper_bounds.size()) return upper_bounds.empty() ? 0 : upper_bounds.back();  // in +Inf
    const double lower_bound = i == 0 ? 0 : upper_bounds[i - 1];
    const double below = i == 0 ? 0 : static_cast<double>(cumulative[i - 1]);
    const double in_bucket = static_cast<double>(cumulative[i]) - below;
    return lower_bound + (upper_bounds[i] - lower_bound) * (in_bucket == 0 ? 0 : (rank - below) / in_bucket);
  }
  return upper_bounds.empty() ? 0 : upper_bounds.back();
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

Metrics& Metrics::global() {
  static Metrics registry;
  return registry;
}

Metrics::Family& Metrics::family(std::string_view name, std::string_view help, Kind kind) {
  auto it = families_.find(name);
  if (it == families_.end())
    it = families_.emplace(std::string(name), Family{kind, std::string(help), {}, {}, {}, {}}).first;
  if (it->second.kind != kind)
    throw Error(ErrorCode::internal, fmt::format("metric {} is already registered as another kind", name));
  // A reader (a summary, a timeline) may look a metric up before its owner registers it.
  if (it->second.help.empty()) it->second.help = std::string(help);
  return it->second;
}

Counter& Metrics::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Kind::counter).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Metrics::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Kind::gauge).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Metrics::histogram(std::string_view name, std::string_view help, const Labels& labels,
                              std::vector<double> upper_bounds) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, Kind::histogram);
  if (f.histograms.empty()) f.upper_bounds = upper_bounds;
  if (f.upper_bounds != upper_bounds)
    throw Error(ErrorCode::internal, fmt::format("histogram {} is already registered with other buckets", name));
  auto& slot = f.histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(std::move(upper_bounds));
  return *slot;
}

namespace {

// Label values escape backslash, double quote and newline; HELP text backslash and newline.
std::string escape(std::string_view text, bool quotes) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quotes)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

std::string label_text(const Labels& labels, const std::pair<std::string, std::string>* extra = nullptr) {
  std::string out;
  auto add = [&](const std::string& k, const std::string& v) {
    out += (out.empty() ? "" : ",") + k + "=\"" + escape(v, true) + "\"";
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (extra != nullptr) add(extra->first, extra->second);
  return out.empty() ? "" : "{" + out + "}";
}

// Prometheus floats: integers without a fraction, +Inf/-Inf/NaN spelled its way.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

}  // namespace

std::string Metrics::prometheus_text() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.kind == Kind::counter ? "counter" : f.kind == Kind::gauge ? "gauge" : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape(f.help, false), name, type);
    for (const auto& [labels, c] : f.counters)
      out += fmt::format("{}{} {}\n", name, label_text(labels), number(c->value()));
    for (const auto& [labels, g] : f.gauges)
      out += fmt::format("{}{} {}\n", name, label_text(labels), number(g->value()));
    for (const auto& [labels, h] : f.histograms) {
      const auto s = h->snapshot();
      for (size_t i = 0; i <= s.upper_bounds.size(); ++i) {
        const std::pair<std::string, std::string> le{"le",
                                                     i < s.upper_bounds.size() ? number(s.upper_bounds[i]) : "+Inf"};
        out += fmt::format("{}_bucket{} {}\n", name, label_text(labels, &le), s.cumulative[i]);
      }
      out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, label_text(labels), number(s.sum), name,
                         label_text(labels), s.count);
    }
  }
  return out;
}

nlohmann::json Metrics::snapshot() const {
  std::lock_guard lock(mutex_);
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, f] : families_) {
    for (const auto& [labels, c] : f.counters) out[name + label_text(labels)] = c->value();
    for (const auto& [labels, g] : f.gauges) out[name + label_text(labels)] = g->value();
    for (const auto& [labels, h] : f.histograms) {
      const auto s = h->snapshot();
      out[name + label_text(labels)] = {{"count", s.count},
                                        {"sum", s.sum},
                                        {"p50", s.quantile(0.5)},
                                        {"p90", s.quantile(0.9)},
                                        {"p99", s.quantile(0.99)}};
    }
  }
  return out;
}

double Metrics::value(std::string_view name, const Labels& labels) const {
  std::lock_guard lock(mutex_);
  const auto it = families_.find(name);
  if (it == families_.end()) return 0;
  const Family& f = it->second;
  if (const auto c = f.counters.find(labels); c != f.counters.end()) return c->second->value();
  if (const auto g = f.gauges.find(labels); g != f.gauges.end()) return g->second->value();
  return 0;
}

double Metrics::family_total(std::string_view name) const {
  std::lock_guard lock(mutex_);
  const auto it = families_.find(name);
  if (it == families_.end()) return 0;
  double total = 0;
  for (const auto& [labels, c] : it->second.counters) total += c->value();
  for (const auto& [labels, g] : it->second.gauges) total += g->value();
  return total;
}

std::optional<Histogram::Snapshot> Metrics::histogram_snapshot(std::string_view name, const Labels& labels) const {
  std::lock_guard lock(mutex_);
  const auto it = families_.find(name);
  if (it == families_.end()) return std::nullopt;
  const auto h = it->second.histograms.find(labels);
  if (h == it->second.histograms.end()) return std::nullopt;
  return h->second->snapshot();
}

}  // namespace sentiflow
