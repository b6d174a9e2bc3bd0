#include "core/temp_file.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"

namespace sentiflow {

TempFile::TempFile(const std::filesystem::path& near, std::string_view tag) {
  const std::string name = near.filename().string();
  std::string pattern =
      (near.parent_path() / (tag.empty() ? fmt::format(".{}.XXXXXX", name) : fmt::format(".{}.{}.XXXXXX", name, tag)))
          .string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0)
    throw invalid_input(fmt::format("cannot create a file next to {}: {}", near.string(), std::strerror(errno)));
  ::close(fd);
  path_ = pattern;
}

TempFile::~TempFile() {
  std::error_code ec;  // best effort: a destructor does not throw
  std::filesystem::remove(path_, ec);
}

}  // namespace sentiflow
