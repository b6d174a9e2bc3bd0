// LiveSampler: once a second, what the process is doing now — this process's cumulative
// counters (rates are differences between points), the queue's depths, workers, latency and
// the current run's own counts — as one JSON point (docs/RUNNING.md lists the fields). The
// point goes to the current run's timeline (for `sentiflow report`) and to the --listen
// server's live window; the queue's depths are also set as gauges for /metrics (read here once
// a second, not per scrape). status() is the dashboard's header and runs table.
//
// sample() is called from the runner's thread; status() from the server's threads (the run
// state and the queues are safe to share). Everything passed must outlive the sampler.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

#include "config/pipeline_config.h"
#include "core/time.h"
#include "observe/metrics.h"
#include "observe_server/observe_server.h"
#include "queue/queue.h"
#include "state/run_state.h"

namespace sentiflow::local {

class LiveSampler {
 public:
  // `workers` reads the consumer threads now; `server` may be null (no --listen).
  LiveSampler(const PipelineConfig& config, RunLog& runs, RunTimeline& timeline, Queue& queue, Queue& dead_letters,
              std::function<int()> workers, ObserveServer* server, Metrics& metrics = Metrics::global());

  // Samples once per second of the wall clock (again within the same second with `force`: a
  // run's final point). `run` is the current run, "" for none: then only the server gets the
  // point. A timeline that cannot be written is logged, not thrown.
  void sample(const std::string& run, bool force = false);

  // {"pipeline", "scheduler" (`scheduler`), "queue", "dead_letter_queue", "dead_letters",
  //  "workers": {now, min, max}, "runs": the 10 most recent}.
  nlohmann::json status(bool scheduler) const;

 private:
  nlohmann::json point(Seconds at, const std::string& run) const;

  const PipelineConfig& config_;
  RunLog& runs_;
  RunTimeline& timeline_;
  Queue& queue_;
  Queue& dead_letters_;
  const std::function<int()> workers_;
  ObserveServer* const server_;
  Metrics& metrics_;
  Seconds last_{};
};

}  // namespace sentiflow::local
