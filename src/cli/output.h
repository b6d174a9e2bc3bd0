// The output of a command that writes a file (results, report, template, store get): stdout,
// or a file written whole or not at all. Internal to src/cli.
#pragma once

#include <filesystem>
#include <string>

namespace sentiflow::cli {

// Where the output goes: stdout (an empty path), or a file at `path` written whole or not at
// all (a temporary file beside it with a random name, created new and never through a symbolic
// link, renamed over the path by commit()), so that a failure half-way never leaves a truncated
// file where a complete one was, and a reader never sees half of it. Text is collected in buffer() and written in large pieces: a listing may
// hold millions of records. Not thread-safe: one command's one thread writes it.
class Output {
 public:
  // Opens the temporary file for a non-empty `path`. Throws Error(invalid_input) when it cannot
  // be created (a missing or read-only folder).
  explicit Output(const std::string& path);
  // Removes the temporary file unless commit() put it in place.
  ~Output();
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  // The text not written yet; callers append to it.
  std::string& buffer() { return buffer_; }

  // Writes the buffer out once it is large (1 MiB). Throws Error(invalid_input) when the
  // write fails.
  void maybe_flush() {
    if (buffer_.size() >= (size_t{1} << 20)) flush();
  }

  // Writes everything and, for a file, renames it into place. Throws Error(invalid_input)
  // when a write or the rename fails; the old file at the path is then left as it was.
  void commit();

 private:
  void flush();

  std::filesystem::path path_;
  std::filesystem::path temp_;
  int fd_ = -1;  // the temporary file, until commit()
  std::string buffer_;
  bool committed_ = false;
};

}  // namespace sentiflow::cli
