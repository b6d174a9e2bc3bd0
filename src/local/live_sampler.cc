#include "local/live_sampler.h"

#include "core/error.h"
#include "observe/log.h"
#include "pipeline/cost.h"

namespace sentiflow::local {

LiveSampler::LiveSampler(const PipelineConfig& config, RunLog& runs, RunTimeline& timeline, Queue& queue,
                         Queue& dead_letters, std::function<int()> workers, ObserveServer* server, Metrics& metrics)
    : config_(config),
      runs_(runs),
      timeline_(timeline),
      queue_(queue),
      dead_letters_(dead_letters),
      workers_(std::move(workers)),
      server_(server),
      metrics_(metrics) {}

void LiveSampler::sample(const std::string& run, bool force) {
  const Seconds now = now_seconds();
  if (!force && now <= last_) return;
  last_ = now;
  if (run.empty() && !server_) return;
  nlohmann::json p = point(now, run);
  if (!run.empty()) {
    try {
      timeline_.record_timeline(run, TimelinePoint{now, p.dump()});
    } catch (const Error& e) {
      log::warn("could not record the timeline", {{"error", e.what()}});
    }
  }
  if (server_) server_->add_point(std::move(p));
}

nlohmann::json LiveSampler::status(bool scheduler) const {
  nlohmann::json runs = nlohmann::json::array();
  for (const RunRecord& r : runs_.recent_runs(10)) runs.push_back(pipeline::run_json_with_cost(r, config_));
  return {{"pipeline", config_.name},
          {"scheduler", scheduler},
          {"queue", config_.queue.url.uri},
          {"dead_letter_queue", config_.queue.dead_letter},
          {"dead_letters", dead_letters_.counts().total()},
          {"workers",
           {{"now", workers_()}, {"min", config_.consumer.min_concurrency}, {"max", config_.consumer.max_concurrency}}},
          {"runs", std::move(runs)}};
}

nlohmann::json LiveSampler::point(Seconds at, const std::string& run) const {
  const auto counts = queue_.counts();
  const auto e2e = metrics_.histogram_snapshot("sentiflow_end_to_end_seconds").value_or(Histogram::Snapshot{});
  // Lookups that create nothing: a consumer-only process has no producer families to show.
  const auto counter = [&](std::string_view name, const Labels& labels = {}) { return metrics_.value(name, labels); };
  nlohmann::json labels = nlohmann::json::object();
  for (std::string_view label : {"POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"})
    labels[std::string(label)] = counter("sentiflow_records_processed_total", {{"label", std::string(label)}});
  const int64_t dead = dead_letters_.counts().total();
  const auto depth = [&](const char* which, int64_t n) {
    metrics_
        .gauge("sentiflow_queue_messages", "Messages in the queue now, by state (visible, in_flight, delayed).",
               {{"state", which}})
        .set(static_cast<double>(n));
  };
  depth("visible", counts.visible);
  depth("in_flight", counts.in_flight);
  depth("delayed", counts.delayed);
  metrics_.gauge("sentiflow_dead_letter_messages", "Messages in the dead-letter queue now.")
      .set(static_cast<double>(dead));
  nlohmann::json p = {{"t", format_utc(at)},
                      {"run", run},
                      {"scanned", counter("sentiflow_items_scanned_total")},
                      {"sent", counter("sentiflow_messages_sent_total")},
                      {"received", counter("sentiflow_messages_received_total")},
                      {"deleted", counter("sentiflow_messages_deleted_total")},
                      {"processed", metrics_.family_total("sentiflow_records_processed_total")},
                      {"failed", metrics_.family_total("sentiflow_records_failed_total")},
                      {"labels", std::move(labels)},
                      {"visible", counts.visible},
                      {"in_flight", counts.in_flight},
                      {"delayed", counts.delayed},
                      {"dead_letters", dead},
                      {"workers", workers_()},
                      {"p50", e2e.quantile(0.5)},
                      {"p90", e2e.quantile(0.9)},
                      {"p99", e2e.quantile(0.99)}};
  // The counters above are this process's since it started (they span a daemon's runs and miss
  // other processes' work); the run's own counts, from the state every process adds to:
  if (!run.empty())
    if (const auto r = runs_.run(run))
      p["run_counts"] = {{"scanned", r->counts.scanned},
                         {"sent", r->counts.sent},
                         {"processed", r->counts.processed},
                         {"failed", r->counts.failed},
                         {"dead_letters", r->counts.dead_letters}};
  return p;
}

}  // namespace sentiflow::local
