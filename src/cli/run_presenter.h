// RunPresenter: how `sentiflow run` shows its runs to a person — a progress line redrawn on
// stderr (a terminal) or a progress log line every few seconds, and each finished run's
// summary on stdout (docs/RUNNING.md). The local runner calls it as its RunObserver, from its
// one thread.
#pragma once

#include <chrono>
#include <iosfwd>

#include "config/pipeline_config.h"
#include "local/run_observer.h"

namespace sentiflow::cli {

class RunPresenter final : public local::RunObserver {
 public:
  // `progress_bar`: redraw one line on stderr; else a "progress" log line every
  // `log_interval`. Summaries go to `summary`, which must outlive the presenter, with the run's
  // cost on AWS at `config`'s settings and prices (pipeline/cost.h).
  RunPresenter(bool progress_bar, std::chrono::milliseconds log_interval, std::ostream& summary, PipelineConfig config);

  std::chrono::milliseconds progress_interval() const override;
  void progress(const local::RunProgress& progress) override;
  void finished(const RunRecord& run, const Histogram::Snapshot& latency, int64_t expired) override;
  void end() override;

 private:
  const bool progress_bar_;
  const std::chrono::milliseconds log_interval_;
  std::ostream& summary_;
  const PipelineConfig config_;
};

}  // namespace sentiflow::cli
