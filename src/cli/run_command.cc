// `sentiflow run FILE [--once] [--run ID]`: the pipeline on this machine (docs/RUNNING.md).
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/run_presenter.h"
#include "config/loader.h"
#include "config/values.h"
#include "core/error.h"
#include "observe/log.h"
#include "local/local_runner.h"

namespace sentiflow::cli {
namespace {

// Where `--listen` without an address serves: loopback only, Prometheus's port for exporters
// of this kind (9464), so nothing is exposed beyond this machine unless asked.
constexpr std::string_view kDefaultListen = "127.0.0.1:9464";

// SIGINT and SIGTERM stop the runner gracefully: they are blocked in every thread (the mask
// is inherited by the threads the runner starts) and taken by one thread with sigwait, which
// may do more than a signal handler. A second signal ends the process at once.
class GracefulStop {
 public:
  explicit GracefulStop(local::LocalRunner& runner) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
    waiter_ = std::jthread([this, &runner](std::stop_token stop) {
      int received = 0;
      while (!stop.stop_requested()) {
        timespec timeout{0, 200'000'000};  // sigtimedwait, so that the thread can be stopped
        const int sig = sigtimedwait(&signals_, nullptr, &timeout);
        if (sig < 0) continue;
        if (++received > 1) _exit(128 + sig);
        log::info("stopping on a signal; a second one ends the process at once",
                  {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
        runner.request_stop();
      }
    });
  }
  ~GracefulStop() {
    waiter_.request_stop();
    waiter_.join();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }

 private:
  sigset_t signals_{};
  sigset_t previous_{};
  std::jthread waiter_;
};

}  // namespace

void add_run_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("run",
                                 "Run the pipeline: a daemon on the schedule, or one run with --once / --run ID.\n"
                                 "A second `sentiflow run` on the same state only consumes (it joins the work).");
  struct Options {
    std::string file;
    bool once = false;
    std::string run_id;
    bool no_progress = false;
    std::string listen;
    bool full = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("FILE", o->file, "The pipeline file")->required();
  cmd->add_flag("--once", o->once, "Resume the newest unfinished run or start a manual one, drain it, exit");
  cmd->add_option("--run", o->run_id, "Run (or re-run: backfill) this run id, drain it, exit");
  cmd->add_flag("--full", o->full, "With --run ID and source.incremental: send every item, changed or not");
  cmd->add_flag("--no-progress", o->no_progress, "No progress bar, even on a terminal");
  auto* listen_option =
      cmd->add_option("--listen", o->listen,
                      "Serve /metrics, /healthz, /readyz and the live dashboard at HOST:PORT during the run "
                      "(default of observe.listen; `--listen` alone: " +
                          std::string(kDefaultListen) + ")")
          ->expected(0, 1);
  cmd->callback([o, listen_option, &status] {
    const auto& [file, once, run_id, no_progress, listen, full] = *o;
    if (once && !run_id.empty()) throw invalid_input("give --once or --run ID, not both");
    if (full && run_id.empty()) throw invalid_input("--full goes with --run ID (a run whose every item is sent)");
    const PipelineConfig config = load_pipeline_or_throw(file);
    if (full && !config.source.incremental)
      throw invalid_input(
          fmt::format("--full: {} does not scan incrementally (source.incremental), so every run "
                      "sends every item already",
                      file));
    local::RunnerOptions options;
    options.mode = !run_id.empty() ? local::RunnerOptions::Mode::run
                   : once          ? local::RunnerOptions::Mode::once
                                   : local::RunnerOptions::Mode::daemon;
    options.run_id = run_id;
    options.full = full;
    RunPresenter presenter(!no_progress && isatty(STDERR_FILENO) && log::format() == log::Format::text,
                           std::chrono::seconds(5), std::cout, config);
    options.observer = &presenter;
    options.listen = config.observe.listen;
    if (listen_option->count() > 0) options.listen = parse_listen_address(listen.empty() ? kDefaultListen : listen);
    local::LocalRunner runner(config, options);
    GracefulStop stop(runner);
    status = runner.run();
  });
}

}  // namespace sentiflow::cli
