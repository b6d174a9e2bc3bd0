// Every file in tests/config/broken/ must be refused with exactly the errors its
// "# expect: KEY LINE TEXT" header lines list (KEY "-" for errors of the whole document).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/loader.h"

namespace sentiflow {
namespace {

struct Expected {
  std::string key;
  int line = 0;
  std::string text;
};

std::vector<Expected> read_expectations(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<Expected> out;
  std::string line;
  while (std::getline(in, line) && line.rfind("# expect: ", 0) == 0) {
    std::istringstream fields(line.substr(10));
    Expected e;
    fields >> e.key >> e.line;
    std::getline(fields >> std::ws, e.text);
    if (e.key == "-") e.key.clear();
    out.push_back(e);
  }
  return out;
}

std::vector<std::filesystem::path> broken_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(SENTIFLOW_SOURCE_DIR "/tests/config/broken"))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

class BrokenFile : public testing::TestWithParam<std::filesystem::path> {};

TEST_P(BrokenFile, IsRefusedWithTheKeyAndLineOfEachError) {
  const auto expected = read_expectations(GetParam());
  ASSERT_FALSE(expected.empty()) << GetParam() << " has no '# expect:' header";
  const LoadResult result = load_pipeline(GetParam());
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.config.has_value());
  std::string all;
  for (const auto& e : result.errors) all += e.to_string() + "\n";
  EXPECT_EQ(result.errors.size(), expected.size()) << all;
  for (const auto& want : expected) {
    const bool found = std::any_of(result.errors.begin(), result.errors.end(), [&](const ConfigIssue& got) {
      return got.key == want.key && got.line == want.line && got.message.find(want.text) != std::string::npos &&
             got.column > 0 && got.file == GetParam().string();
    });
    EXPECT_TRUE(found) << "expected " << want.key << " at line " << want.line << ": " << want.text << "\ngot:\n" << all;
  }
}

INSTANTIATE_TEST_SUITE_P(Config, BrokenFile, testing::ValuesIn(broken_files()),
                         [](const testing::TestParamInfo<std::filesystem::path>& param_info) {
                           return param_info.param.stem().string();
                         });

TEST(BrokenFiles, ThereIsASetOfThem) { EXPECT_GE(broken_files().size(), 15u); }

}  // namespace
}  // namespace sentiflow
