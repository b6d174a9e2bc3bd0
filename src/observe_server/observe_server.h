// ObserveServer: the HTTP server of `sentiflow run --listen ADDR` (observe.listen), for the
// life of a run or a daemon.
//
//   GET /metrics   the registry in the Prometheus text format 0.0.4
//   GET /healthz   200 "ok" while the process serves at all
//   GET /readyz    200 once set_ready(true), else 503 (e.g. before the backends are open)
//   GET /api/live  {"boot": MS, "seq": N, "points": [...], "status": {...}}: the last 15 min of
//                  the runner's live points (one a second, numbered from 1; N is the newest's
//                  number) and the status provider's answer. `?since=N` returns only the points
//                  after the one numbered N (a dashboard that already holds them), or all when
//                  N is outside the window. `boot` (the server's start, ms since the epoch) tells
//                  a dashboard that a new server numbers its points afresh.
//   GET /          the dashboard: one self-contained page (data/dashboard/dashboard.html,
//                  compiled in) that polls /api/live every second
// HEAD is answered too; any other method gets 405, any other path 404.
//
// Binds only the address it is given: the default config says 127.0.0.1, and reaching it from
// other machines takes an explicit 0.0.0.0 (or a host's address; start() logs a warning for any
// address but a loopback one). Bound to a loopback address, it answers only requests whose Host
// is 127.0.0.1:PORT, localhost:PORT, [::1]:PORT or the bound host's, and 421 to any other: a
// web page whose name was made to resolve to 127.0.0.1 (DNS rebinding) cannot read it. Requests are served on a few
// threads of the server's own, one request per connection (so that stop() never waits for an
// idle client); every public method is thread-safe, and the status provider is called from
// those threads, once per /api/live request, possibly from two at a time.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/values.h"
#include "observe/metrics.h"

namespace sentiflow {

class ObserveServer {
 public:
  // {"pipeline": name, "runs": [recent runs, newest first, as to_json(RunRecord)],
  //  "dead_letters": N, ...}: the dashboard's header, runs table and dead-letter count. A
  // provider that throws gets a 500 for that request only.
  using StatusProvider = std::function<nlohmann::json()>;

  // Points kept for /api/live: 15 minutes at one a second.
  static constexpr size_t max_points = 900;

  // `metrics` must outlive the server. Nothing listens before start().
  ObserveServer(ListenAddress address, Metrics& metrics, StatusProvider status);
  ~ObserveServer();  // stop()
  ObserveServer(const ObserveServer&) = delete;
  ObserveServer& operator=(const ObserveServer&) = delete;

  // Binds the address now and serves from a thread of its own. Port 0 binds any free port
  // (see port()). Throws Error(invalid_input) naming the address when it cannot bind (in use,
  // not an address of this machine, an unknown host), and Error(internal) when called twice.
  void start();

  // Stops serving and joins the server's threads; requests in progress finish first.
  // Idempotent; the destructor calls it.
  void stop();

  // The bound port (the chosen one after port 0); 0 before start().
  uint16_t port() const;

  // "http://HOST:PORT/" with the bound port (IPv6 hosts in brackets); logged by start().
  std::string url() const;

  // Appends one live point (local::LiveSampler's point: t, run, counters, run_counts, queue
  // depths, workers, p50/p90/p99), dropping the oldest beyond max_points. A point with the same
  // "t" as the newest replaces it and keeps its number (a run's final point, in the second of
  // its last regular one): a dashboard that holds point N asks `since=N-1` to see it replaced.
  void add_point(nlohmann::json point);

  // /readyz answers 200 when ready, 503 otherwise. Not ready at first.
  void set_ready(bool ready);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The dashboard page, compiled in from data/dashboard/dashboard.html
// (src/observe_server/embed_file.cmake). It holds `<script id="sentiflow-data" type="application/json">null</script>`:
// served as is, it polls /api/live; with the null replaced by a JSON object, it renders that.
std::string_view dashboard_html();

// The dashboard as a static page (`sentiflow report`): the page with `data` ({"points": [...],
// "status": {...}}, the shape of /api/live) in place of the null, escaped so that no text in
// the data can end the script element. Throws Error(internal) if the marker is missing.
std::string static_dashboard(const nlohmann::json& data);

}  // namespace sentiflow
