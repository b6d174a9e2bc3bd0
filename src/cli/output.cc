#include "cli/output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "core/error.h"

namespace sentiflow::cli {

namespace fs = std::filesystem;

Output::Output(const std::string& path) : path_(path) {
  if (path_.empty()) return;
  // The pid keeps two processes writing the same path from sharing a temporary file.
  temp_ = path_.parent_path() / fmt::format(".{}.sentiflow-tmp-{}", path_.filename().string(), ::getpid());
  file_.open(temp_, std::ios::binary | std::ios::trunc);
  if (!file_) throw invalid_input(fmt::format("cannot write {}", path_.string()));
}

Output::~Output() {
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
  file_.close();
  if (!file_) throw invalid_input(fmt::format("cannot write {}", path_.string()));
  std::error_code ec;
  fs::rename(temp_, path_, ec);
  if (ec) throw invalid_input(fmt::format("cannot write {}: {}", path_.string(), ec.message()));
  committed_ = true;
}

void Output::flush() {
  std::ostream& stream = temp_.empty() ? std::cout : static_cast<std::ostream&>(file_);
  stream.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
  if (!stream) throw invalid_input(fmt::format("cannot write {}", temp_.empty() ? "stdout" : path_.string()));
  buffer_.clear();
}

}  // namespace sentiflow::cli
