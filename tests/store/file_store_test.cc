// FileStore: the conformance suite, then what only a directory store promises (links,
// temporary files, metadata in extended attributes, files put there by hand).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "store/file_store.h"
#include "store_conformance.h"
#include "support/temp_dir.h"

namespace sentiflow::testing {
namespace {

namespace fs = std::filesystem;

// Each test's own directory, labelled by component.
class TempDir : public testing_support::TempDir {
 public:
  TempDir() : testing_support::TempDir("store") {}
};

class FileStoreFactory {
 public:
  static StoreCapabilities capabilities() { return {.keys_are_paths = true}; }
  std::unique_ptr<ObjectStore> open() { return std::make_unique<FileStore>(dir_.path() / "store"); }

 private:
  TempDir dir_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(File, StoreConformance, ::testing::Types<FileStoreFactory>);

namespace {

class FileStoreTest : public ::testing::Test {
 protected:
  fs::path root() const { return dir_.path() / "root"; }
  TempDir dir_;
  FileStore store_{dir_.path() / "root"};
};

void expect_refused(const std::function<void()>& call, ErrorCode code, std::string_view fragment) {
  try {
    call();
    ADD_FAILURE() << "accepted; expected '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST_F(FileStoreTest, ObjectsAreFilesUnderTheRoot) {
  store_.put("run=1/a.jsonl", "{}\n");
  std::ifstream in(root() / "run=1" / "a.jsonl");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{}\n");
}

TEST_F(FileStoreTest, SymbolicLinksOnThePathAreRefused) {
  const fs::path outside = dir_.path() / "outside";
  fs::create_directories(outside);
  std::ofstream(outside / "secret") << "secret";
  fs::create_directory_symlink(outside, root() / "link");
  expect_refused([&] { store_.get("link/secret"); }, ErrorCode::invalid_input, "symbolic link 'link'");
  expect_refused([&] { store_.head("link/secret"); }, ErrorCode::invalid_input, "symbolic link");
  expect_refused([&] { store_.put("link/new", "x"); }, ErrorCode::invalid_input, "symbolic link");
  expect_refused([&] { store_.remove("link/secret"); }, ErrorCode::invalid_input, "symbolic link");
  EXPECT_FALSE(fs::exists(outside / "new"));
  EXPECT_TRUE(fs::exists(outside / "secret"));

  fs::create_directories(root() / "a");
  fs::create_directory_symlink(outside, root() / "a" / "deeper");
  expect_refused([&] { store_.get("a/deeper/secret"); }, ErrorCode::invalid_input, "symbolic link 'deeper'");

  fs::create_symlink(outside / "secret", root() / "file-link");
  expect_refused([&] { store_.get("file-link"); }, ErrorCode::invalid_input, "symbolic link");
  expect_refused([&] { store_.put("file-link", "overwrite?"); }, ErrorCode::invalid_input, "symbolic link");
  std::ifstream in(outside / "secret");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "secret") << "a put wrote through a link";

  const auto listed = store_.list({"", 1000, ""});
  for (const auto& o : listed.objects) EXPECT_NE(o.key.find("secret"), 0u) << o.key;
  EXPECT_TRUE(listed.objects.empty()) << "links are not objects and are not followed";
}

TEST_F(FileStoreTest, SegmentRulesOfADirectory) {
  expect_refused([&] { store_.put(std::string(256, 's'), "x"); }, ErrorCode::invalid_input, "at most 255");
  expect_refused([&] { store_.put("a/.sentiflow-tmp-1", "x"); }, ErrorCode::invalid_input, "reserved");
  EXPECT_NO_THROW(store_.put(std::string(255, 's'), "x"));
  EXPECT_NO_THROW(store_.put(".hidden/.file", "dot files are fine"));
  EXPECT_EQ(store_.get(".hidden/.file")->data, "dot files are fine");
}

TEST_F(FileStoreTest, PutsLeaveNoTemporaryFilesAndListingSkipsStrayOnes) {
  for (int i = 0; i < 10; ++i) store_.put("t/object", std::to_string(i));
  for (const auto& entry : fs::recursive_directory_iterator(root()))
    EXPECT_EQ(entry.path().filename().string().find(".sentiflow-tmp-"), std::string::npos) << entry.path();
  std::ofstream(root() / "t" / ".sentiflow-tmp-999-0-deadbeef") << "a crash left this";
  const auto page = store_.list({"t/", 100, ""});
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key, "t/object");
}

TEST_F(FileStoreTest, MetadataLivesInExtendedAttributes) {
  store_.put("meta.csv", "a,b\n", "text/csv; charset=utf-8");
  char value[256];
  const ssize_t n = ::getxattr((root() / "meta.csv").c_str(), "user.sentiflow.content_type", value, sizeof value);
  ASSERT_GT(n, 0) << "this file system has no user extended attributes";
  EXPECT_EQ(std::string(value, static_cast<size_t>(n)), "text/csv; charset=utf-8");
  EXPECT_EQ(store_.head("meta.csv")->content_type, "text/csv; charset=utf-8");
}

TEST_F(FileStoreTest, FilesPutThereByHandGetAComputedEtagAndAGuessedType) {
  fs::create_directories(root() / "by-hand");
  std::ofstream(root() / "by-hand" / "data.jsonl") << "hello";
  const auto head = store_.head("by-hand/data.jsonl");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->etag, "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(head->content_type, "application/x-ndjson");
  EXPECT_EQ(head->size, 5u);
}

TEST_F(FileStoreTest, AnObjectChangedByHandGetsItsEtagComputedAgain) {
  store_.put("changed", "hello");
  std::ofstream(root() / "changed", std::ios::app) << " world";
  EXPECT_EQ(store_.head("changed")->etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");  // MD5 of "hello world"
}

TEST_F(FileStoreTest, RemoveTakesEmptyFoldersAlong) {
  store_.put("deep/er/est/object", "x");
  store_.put("deep/sibling", "y");
  store_.remove("deep/er/est/object");
  EXPECT_FALSE(fs::exists(root() / "deep" / "er"));
  EXPECT_TRUE(fs::exists(root() / "deep" / "sibling"));
  store_.remove("deep/sibling");
  EXPECT_FALSE(fs::exists(root() / "deep"));
  EXPECT_TRUE(fs::exists(root())) << "the root stays";
}

TEST_F(FileStoreTest, RefusesABadContentType) {
  expect_refused([&] { store_.put("x", "y", "text/plain\nInjected: header"); }, ErrorCode::invalid_input,
                 "content type");
}

TEST_F(FileStoreTest, TheRootMustBeADirectory) {
  std::ofstream(dir_.path() / "a-file") << "x";
  EXPECT_THROW(FileStore(dir_.path() / "a-file"), Error);
  EXPECT_NO_THROW(FileStore(dir_.path() / "new" / "nested" / "root"));
  EXPECT_TRUE(fs::is_directory(dir_.path() / "new" / "nested" / "root"));
}

TEST_F(FileStoreTest, OpeningWithoutCreateNeedsTheDirectory) {
  try {
    FileStore missing(dir_.path() / "typo", false);
    ADD_FAILURE() << "opened a store that is not there";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("no store at"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_.path() / "typo"));
  store_.put("x", "y");
  EXPECT_EQ(FileStore(root(), false).get("x")->data, "y");
}

TEST_F(FileStoreTest, KeysInMessagesShowBadBytesEscaped) {
  const auto message = [&](const std::string& key) {
    try {
      store_.put(key, "x");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(message("caf\xC3\xA9/\xFF\xFE"
                    "end")
                .find("'caf\xC3\xA9/\\xFF\\xFEend' is not valid UTF-8"),
            std::string::npos)
      << message(
             "caf\xC3\xA9/\xFF\xFE"
             "end");
  EXPECT_NE(message("a\x01"
                    "b\\c")
                .find("'a\\x01b\\c' contains a backslash"),
            std::string::npos)
      << message(
             "a\x01"
             "b\\c");
  EXPECT_NE(message("\xE2\x82/x").find("'\\xE2\\x82/x'"), std::string::npos)
      << "a cut sequence: " << message("\xE2\x82/x");
}

TEST_F(FileStoreTest, AnotherObjectOnTheSameRootSeesTheObjects) {
  store_.put("shared", "x");
  FileStore other(root());
  EXPECT_EQ(other.get("shared")->data, "x");
}

}  // namespace
}  // namespace sentiflow::testing
