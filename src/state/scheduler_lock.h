// SchedulerLock: one scheduler per state directory (DESIGN.md, "Runs"), an exclusive flock(2)
// on `<state_dir>/scheduler.lock` held for the life of the object; the kernel releases it when
// the process dies, even by SIGKILL. Local only. Not copyable; one owner.
#pragma once

#include <filesystem>
#include <memory>

namespace sentiflow {

class SchedulerLock {
 public:
  // The lock, or nullptr when another holder has it: another process, or another
  // SchedulerLock of this process (flock locks belong to an open file description, and each
  // try opens its own). Creates the state directory when missing. Throws Error(invalid_input)
  // when the directory or the lock file cannot be created or opened (as for an unopenable
  // SQLite file: the user fixes the path), Error(internal) when flock fails otherwise.
  // The destructor unlocks before closing, so a child forked meanwhile does not keep the lock.
  static std::unique_ptr<SchedulerLock> try_acquire(const std::filesystem::path& state_dir);
  ~SchedulerLock();
  SchedulerLock(const SchedulerLock&) = delete;
  SchedulerLock& operator=(const SchedulerLock&) = delete;

 private:
  explicit SchedulerLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace sentiflow
