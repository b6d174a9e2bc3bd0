// TempFile: an empty file of a unique name (mkstemp) next to another path, removed when the
// TempFile is destroyed — scratch space on the same file system as the result it helps make
// (the zip's stripped binary, fastText's training input). Not thread-safe; owns the file.
#pragma once

#include <filesystem>
#include <string_view>

namespace sentiflow {

class TempFile {
 public:
  // Creates ".NAME.TAG.XXXXXX" (or ".NAME.XXXXXX" without a tag) in near's folder, NAME being
  // near's file name. Throws Error(invalid_input) when the folder cannot be written to.
  explicit TempFile(const std::filesystem::path& near, std::string_view tag = {});
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sentiflow
