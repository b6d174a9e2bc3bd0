// Files the commands write (--out): whole or not at all, through a temporary file nobody can
// guess and that is never opened through a symbolic link (issue 14, fault 10).
#include "cli/output.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace sentiflow::cli {
namespace {

namespace fs = std::filesystem;
using testing_support::read_whole_file;
using testing_support::run_sentiflow;
using testing_support::TempDir;

void write(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Before, the temporary file was `.<name>.sentiflow-tmp-<pid>`: anyone sharing the folder could
// plant a link there and have the command overwrite what it points at.
TEST(Output, NeverWritesThroughALinkPlantedAtAPredictableTemporaryName) {
  TempDir dir("output");
  const fs::path victim = dir.path() / "victim.txt";
  write(victim, "precious");
  const fs::path out = dir.path() / "report.html";
  fs::create_symlink(victim, dir.path() / (".report.html.sentiflow-tmp-" + std::to_string(::getpid())));
  {
    Output output(out.string());
    output.buffer() = "the page";
    output.commit();
  }
  EXPECT_EQ(read_whole_file(victim), "precious");
  EXPECT_EQ(read_whole_file(out), "the page");
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    const std::string name = entry.path().filename().string();
    if (name.find("sentiflow-tmp") == std::string::npos || fs::is_symlink(entry.symlink_status())) continue;
    ADD_FAILURE() << "a temporary file was left behind: " << name;
  }
}

TEST(Output, ALinkAtThePathIsReplacedNotFollowed) {
  TempDir dir("output-link");
  const fs::path victim = dir.path() / "victim.txt";
  write(victim, "precious");
  const fs::path out = dir.path() / "out.txt";
  fs::create_symlink(victim, out);
  Output output(out.string());
  output.buffer() = "new";
  output.commit();
  EXPECT_EQ(read_whole_file(victim), "precious");
  EXPECT_FALSE(fs::is_symlink(fs::symlink_status(out)));
  EXPECT_EQ(read_whole_file(out), "new");
}

// `store get --out` writes through Output: before, it opened the path itself, following a link.
TEST(StoreGetOut, ReplacesALinkAtThePathInsteadOfWritingThroughIt) {
  TempDir dir("store-get-out");
  write(dir.path() / "content.txt", "stored");
  const auto put = run_sentiflow("store put --store '" + (dir.path() / "store").string() + "' a/b.txt '" +
                                 (dir.path() / "content.txt").string() + "'");
  ASSERT_EQ(put.status, 0) << put.err;
  const fs::path victim = dir.path() / "victim.txt";
  write(victim, "precious");
  const fs::path out = dir.path() / "got.txt";
  fs::create_symlink(victim, out);
  const auto got =
      run_sentiflow("store get --store '" + (dir.path() / "store").string() + "' a/b.txt --out '" + out.string() + "'");
  ASSERT_EQ(got.status, 0) << got.err;
  EXPECT_EQ(read_whole_file(victim), "precious");
  EXPECT_EQ(read_whole_file(out), "stored");
}

}  // namespace
}  // namespace sentiflow::cli
