// RunObserver: what the local runner tells whoever presents its runs to a person — `sentiflow
// run`'s progress line and run summary (cli/run_presenter.h). The runner works the same
// without one.
//
// Called from the runner's thread only, one call at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "observe/metrics.h"
#include "state/run_state.h"

namespace sentiflow::local {

// Where the current run stands: its id ("" while none is current), the items the progress
// goes by (the table's count on a local table, else -1: unknown), what its producer sent and
// its consumers stored (across every process of the state), how long this process has worked
// on it, and this process's consumer threads now.
struct RunProgress {
  std::string run;
  int64_t total = -1;
  int64_t sent = 0;
  int64_t processed = 0;
  double elapsed_seconds = 0;
  int workers = 0;
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;

  // How often the observer wants progress(): the runner calls it at most that often (reading
  // the run's counts costs a query of the run state).
  virtual std::chrono::milliseconds progress_interval() const = 0;
  // Where the current run stands, every progress_interval() while the runner works.
  virtual void progress(const RunProgress& progress) = 0;
  // Once per run this process saw finish: the run as the state has it, and this process's
  // send-to-stored latency (sentiflow_end_to_end_seconds).
  // `expired`: the queue's messages that passed its retention during the run (never processed),
  // -1 where the queue does not tell (SQS).
  virtual void finished(const RunRecord& run, const Histogram::Snapshot& latency, int64_t expired) = 0;
  // The runner stops (or a run ends): whatever the observer draws over stderr is cleared.
  virtual void end() = 0;
};

}  // namespace sentiflow::local
