// SqliteRunState: RunState in `<state_dir>/state.sqlite` (DESIGN.md, "Runs"), for the local
// runner.
//
// Several processes share one state directory (the scheduler and consumer-only processes):
// the file is opened in WAL mode with a busy timeout, and each call is one short transaction,
// durable against a crash of the process. Safe to share between threads (calls are
// serialised on one connection). Failures throw Error: invalid_input for a file that is not a
// sentiflow state file (or one of a newer schema), transient when it stays locked, internal
// for anything else. A file of schema 1, 2 or 3 is upgraded in place on open.
//
// The exception to "each call durable": record_fingerprints keeps the fingerprints in memory
// and writes them in one transaction once kFingerprintsHeld are waiting or the oldest has
// waited kFingerprintsHeldFor (so that a consumer-only process's reach the scheduler's
// producer by its next run), and at destruction.
// Consumer batches come in no key order, so each batch's upserts would touch most pages of
// the fingerprints' B-tree: a million items written batch by batch rewrote gigabytes of WAL
// (34 s for a run of 30 with VADER). A crash loses the held ones, which only makes the next
// incremental scan send those items again; fingerprints() sees them meanwhile.
//
// Its implementation (some 420 lines) is RunState's 20 operations in SQL, each on statements
// prepared once at open; its State holds those statements, one per query.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "state/run_state.h"

namespace sentiflow {

class SqliteRunState final : public RunState {
 public:
  // Opens (creating it and the directory when missing) `<state_dir>/state.sqlite`. A call that
  // finds the file locked by another process waits up to 10 s before it fails (transient).
  explicit SqliteRunState(const std::filesystem::path& state_dir);
  ~SqliteRunState() override;
  SqliteRunState(const SqliteRunState&) = delete;
  SqliteRunState& operator=(const SqliteRunState&) = delete;

  static std::filesystem::path file_in(const std::filesystem::path& state_dir);

  RunRecord start_run(const std::string& id, RunKind kind, Millis now,
                      IfFinished if_finished = IfFinished::restart) override;
  std::optional<RunRecord> run(const std::string& id) override;
  std::optional<RunRecord> newest_unfinished() override;
  std::vector<RunRecord> recent_runs(size_t limit) override;
  void add_counts(const std::string& id, const RunCounts& delta) override;
  void mark_produced(const std::string& id, Millis now) override;
  void mark_finished(const std::string& id, Millis now) override;
  bool acquire_producer_lease(const std::string& id, const std::string& owner, Millis now, Millis until) override;
  void release_producer_lease(const std::string& id, const std::string& owner) override;
  std::vector<ScanCheckpoint> checkpoints(const std::string& id) override;
  void save_checkpoint(const std::string& id, const ScanCheckpoint& checkpoint,
                       const std::optional<std::string>& lease_owner = std::nullopt) override;
  std::optional<Seconds> last_tick() override;
  void set_last_tick(Seconds tick) override;
  bool claim_tick(Seconds tick) override;
  int64_t skipped_ticks() override;
  void add_skipped_tick() override;
  void record_timeline(const std::string& id, const TimelinePoint& point) override;
  std::vector<TimelinePoint> timeline(const std::string& id) override;
  std::map<std::string, std::string> fingerprints(const std::vector<std::string>& keys) override;
  void record_fingerprints(const std::map<std::string, std::string>& fingerprints) override;

 private:
  struct State;
  static constexpr size_t kFingerprintsHeld = 250'000;
  static constexpr std::chrono::seconds kFingerprintsHeldFor{10};
  void write_fingerprints();  // the held ones, under mutex_

  std::mutex mutex_;
  std::unique_ptr<State> state_;
  std::map<std::string, std::string> held_fingerprints_;  // recorded, not written yet
  std::chrono::steady_clock::time_point held_since_{};    // when the oldest held one came
};

}  // namespace sentiflow
