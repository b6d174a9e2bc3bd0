#include "state/scheduler_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "core/error.h"

namespace sentiflow {

namespace fs = std::filesystem;

std::unique_ptr<SchedulerLock> SchedulerLock::try_acquire(const fs::path& state_dir) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec)
    throw invalid_input(fmt::format("cannot create the state directory {}: {}", state_dir.string(), ec.message()));
  const fs::path file = state_dir / "scheduler.lock";
  int fd = -1;
  do {
    fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    throw invalid_input(
        fmt::format("cannot open the scheduler lock {}: {}", file.string(), std::generic_category().message(errno)));
  int rc = 0;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  const int error = rc == 0 ? 0 : errno;
  if (rc == 0) {
    try {
      return std::unique_ptr<SchedulerLock>(new SchedulerLock(fd));
    } catch (...) {
      ::close(fd);
      throw;
    }
  }
  ::close(fd);
  if (error == EWOULDBLOCK) return nullptr;
  throw Error(ErrorCode::internal,
              fmt::format("cannot lock {}: {}", file.string(), std::generic_category().message(error)));
}

SchedulerLock::~SchedulerLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace sentiflow
