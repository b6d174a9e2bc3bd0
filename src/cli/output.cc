#include "cli/output.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "core/error.h"
#include "core/ids.h"

namespace sentiflow::cli {

namespace fs = std::filesystem;

Output::Output(const std::string& path) : path_(path) {
  if (path_.empty()) return;
  // A name nobody can guess, created anew (O_EXCL) and never through a symbolic link
  // (O_NOFOLLOW): a link planted at a predictable temporary name in a shared folder would have
  // the command write to whatever it points at.
  for (int attempt = 0; attempt < 8 && fd_ < 0; ++attempt) {
    temp_ = path_.parent_path() / fmt::format(".{}.sentiflow-tmp-{}", path_.filename().string(), random_uuid());
    do {
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    const int error = errno;
    temp_.clear();
    throw invalid_input(fmt::format("cannot write {}: {}", path_.string(), std::strerror(error)));
  }
}

Output::~Output() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_.empty() && !committed_) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void Output::commit() {
  flush();
  if (temp_.empty()) {
    std::cout.flush();
    return;
  }
  const int fd = fd_;
  fd_ = -1;
  // On disk before the rename, and the rename on disk after it: after a power cut the path holds
  // the old file or the new one, never an empty or short one (XFS, ext4 without auto_da_alloc).
  const bool synced = ::fsync(fd) == 0;
  const int sync_error = errno;
  if (::close(fd) != 0 || !synced)
    throw invalid_input(fmt::format("cannot write {}: {}", path_.string(), std::strerror(synced ? errno : sync_error)));
  // rename() replaces whatever is at the path, a symbolic link included, and follows none.
  std::error_code ec;
  fs::rename(temp_, path_, ec);
  if (ec) throw invalid_input(fmt::format("cannot write {}: {}", path_.string(), ec.message()));
  committed_ = true;
  const fs::path folder = path_.parent_path().empty() ? fs::path(".") : path_.parent_path();
  if (const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);  // best effort: the file is in place either way
    ::close(dir);
  }
}

void Output::flush() {
  if (temp_.empty()) {
    std::cout.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    if (!std::cout) throw invalid_input("cannot write stdout");
    buffer_.clear();
    return;
  }
  std::string_view rest = buffer_;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw invalid_input(fmt::format("cannot write {}: {}", path_.string(), std::strerror(errno)));
    rest.remove_prefix(static_cast<size_t>(n));
  }
  buffer_.clear();
}

}  // namespace sentiflow::cli
