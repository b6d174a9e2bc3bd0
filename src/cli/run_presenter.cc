#include "cli/run_presenter.h"

#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <string>

#include "core/strings.h"
#include "pipeline/cost.h"
#include "observe/log.h"

namespace sentiflow::cli {

RunPresenter::RunPresenter(bool progress_bar, std::chrono::milliseconds log_interval, std::ostream& summary,
                           PipelineConfig config)
    : progress_bar_(progress_bar), log_interval_(log_interval), summary_(summary), config_(std::move(config)) {}

std::chrono::milliseconds RunPresenter::progress_interval() const {
  return progress_bar_ ? std::chrono::milliseconds(200) : log_interval_;
}

void RunPresenter::progress(const local::RunProgress& p) {
  const double rate = p.elapsed_seconds > 0 ? static_cast<double>(p.processed) / p.elapsed_seconds : 0;
  const int64_t total = p.total >= 0 ? p.total : p.sent;
  std::string eta = "-";
  if (rate > 0 && total > p.processed) {
    const auto s = static_cast<int64_t>(static_cast<double>(total - p.processed) / rate);
    eta = fmt::format("{}:{:02}", s / 60, s % 60);
  }
  if (progress_bar_) {
    std::cerr << fmt::format("\r\033[K{}  produced {}/{}  processed {}  {:.0f}/s  workers {}  ETA {}",
                             p.run.empty() ? "waiting" : p.run, thousands(p.sent), total >= 0 ? thousands(total) : "?",
                             thousands(p.processed), rate, p.workers, eta)
              << std::flush;
  } else if (!p.run.empty()) {
    log::info("progress", {{"run", p.run},
                           {"produced", p.sent},
                           {"processed", p.processed},
                           {"items_per_s", std::round(rate)},
                           {"workers", p.workers},
                           {"eta", eta}});
  }
}

void RunPresenter::finished(const RunRecord& run, const Histogram::Snapshot& latency, int64_t expired) {
  const RunCounts& c = run.counts;
  const double seconds = run.finished_at ? std::chrono::duration<double>(*run.finished_at - run.started_at).count() : 0;
  std::string labels;
  for (const auto& [label, n] : c.labels)
    labels += fmt::format("{}{} {} ({:.1f}%)", labels.empty() ? "" : " · ", label, thousands(n),
                          c.processed > 0 ? 100.0 * static_cast<double>(n) / static_cast<double>(c.processed) : 0);
  summary_ << fmt::format(
      "run {} ({}, attempt {}) finished in {:.1f} s\n"
      "  items         {} scanned · {} sent{} · {} error records\n"
      "  processed     {} stored · {} failed receives\n"
      "  labels        {}\n"
      "  dead letters  {}\n"
      "  throughput    {} items/s\n"
      "  latency       p50 {:.3f} s · p99 {:.3f} s (send → stored)\n",
      run.id, to_string(run.kind), run.attempt, seconds, thousands(c.scanned), thousands(c.sent),
      config_.source.incremental ? fmt::format(" · {} unchanged (not sent)", thousands(c.unchanged)) : "",
      thousands(c.producer_errors), thousands(c.processed), thousands(c.failed), labels.empty() ? "-" : labels,
      thousands(c.dead_letters),
      thousands(seconds > 0 ? static_cast<int64_t>(static_cast<double>(c.processed) / seconds) : 0),
      latency.quantile(0.5), latency.quantile(0.99));
  if (expired > 0)
    summary_ << fmt::format("  expired       {} (past queue.retention before they were processed: no result)\n",
                            thousands(expired));
  summary_ << fmt::format("  cost on AWS   {} (docs/COST.md)\n",
                          pipeline::summary_line(pipeline::price(pipeline::work_of(run, config_), config_)));
  if (config_.source.incremental)
    summary_ << fmt::format(
        "  saved         {} by the incremental scan: {} unchanged items not sent\n",
        pipeline::summary_line(pipeline::price(pipeline::saved_by_incremental(run, config_), config_)),
        thousands(c.unchanged));
  summary_ << std::flush;
}

void RunPresenter::end() {
  if (progress_bar_) std::cerr << "\r\033[K" << std::flush;
}

}  // namespace sentiflow::cli
