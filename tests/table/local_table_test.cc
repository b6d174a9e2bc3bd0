// LocalTable: the conformance suite, then what only the SQLite table promises (its file, its
// schema record, imports, the segment hash).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <streambuf>

#include "table/local_table.h"
#include "table_conformance.h"
#include "support/temp_dir.h"

namespace sentiflow::testing {
namespace {

namespace fs = std::filesystem;

// Each test's own directory, labelled by component.
class TempDir : public testing_support::TempDir {
 public:
  TempDir() : testing_support::TempDir("table") {}
};

class LocalTableFactory {
 public:
  static TableCapabilities capabilities() {
    return {.exact_count = true, .no_empty_last_page = true, .verbatim_text = true};
  }
  std::unique_ptr<Table> open(const KeySchema& schema) {
    return std::make_unique<LocalTable>(
        LocalTableOptions{LocalTable::file_in(dir_.path(), "conformance"), "conformance", schema});
  }

 private:
  TempDir dir_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Local, TableConformance, ::testing::Types<LocalTableFactory>);

namespace {

class LocalTableTest : public ::testing::Test {
 protected:
  LocalTable open(std::optional<KeySchema> schema = KeySchema{"name"}, const std::string& name = "companies") {
    return LocalTable(LocalTableOptions{LocalTable::file_in(dir_.path(), name), name, std::move(schema)});
  }
  TempDir dir_;
};

TEST_F(LocalTableTest, RecordsItsKeySchema) {
  { open(KeySchema{"name", "year"}); }
  EXPECT_EQ(open(std::nullopt).key_schema(), (KeySchema{"name", "year"}));
  try {
    open(KeySchema{"id"});
    ADD_FAILURE() << "opened with another key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("has the key 'name' and sort key 'year', not 'id'"), std::string::npos)
        << e.what();
  }
}

TEST_F(LocalTableTest, AMissingTableIsInvalidInputWithoutASchema) {
  try {
    open(std::nullopt, "nothing-here");
    ADD_FAILURE() << "opened a table that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
  }
  EXPECT_FALSE(fs::exists(LocalTable::file_in(dir_.path(), "nothing-here")));
}

TEST_F(LocalTableTest, RefusesBadNamesAndForeignFiles) {
  EXPECT_THROW(LocalTable::file_in(dir_.path(), "../escape"), Error);
  EXPECT_THROW(LocalTable::file_in(dir_.path(), ""), Error);
  EXPECT_THROW(open(KeySchema{""}), Error);
  EXPECT_THROW(open(KeySchema{"a", "a"}), Error);
  const fs::path foreign = LocalTable::file_in(dir_.path(), "foreign");
  fs::create_directories(foreign.parent_path());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(foreign.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE x(y)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  try {
    open(KeySchema{"name"}, "foreign");
    ADD_FAILURE() << "opened a foreign file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("is not a sentiflow table file"), std::string::npos) << e.what();
  }
}

TEST_F(LocalTableTest, ListsTheTablesOfAStateDirectory) {
  EXPECT_TRUE(LocalTable::list(dir_.path()).empty());
  open(KeySchema{"name"}, "b-table");
  open(KeySchema{"name"}, "a-table");
  EXPECT_EQ(LocalTable::list(dir_.path()), (std::vector<std::string>{"a-table", "b-table"}));
}

TEST_F(LocalTableTest, ImportsJsonLinesAndReportsBadLinesByNumber) {
  auto table = open();
  std::istringstream in(
      "\xEF\xBB\xBF{\"name\": \"Meta\", \"founded\": 2004}\n"
      "\n"
      "{\"name\": \"Amazon\", \"n\": 12345678901234567890123456789012345678}\r\n"
      "not json\n"
      "{\"ticker\": \"AAPL\"}\n"
      "   \n"
      "{\"name\": \"Netflix\"}");
  const ImportReport report = table.import(in, ImportFormat::json_lines);
  EXPECT_EQ(report.imported, 3u);
  EXPECT_EQ(report.skipped, 2u);
  ASSERT_EQ(report.errors.size(), 2u);
  EXPECT_EQ(report.errors[0].line, 4u);
  EXPECT_NE(report.errors[0].message.find("not valid JSON"), std::string::npos) << report.errors[0].message;
  EXPECT_EQ(report.errors[1].line, 5u);
  EXPECT_NE(report.errors[1].message.find("'name' is missing"), std::string::npos) << report.errors[1].message;
  EXPECT_EQ(table.get({"Meta"}), R"({"name":"Meta","founded":2004})");
  EXPECT_EQ(table.get({"Amazon"}), R"({"name":"Amazon","n":12345678901234567890123456789012345678})");
  EXPECT_EQ(table.count(), 3);
}

TEST_F(LocalTableTest, ImportsTheDemoSeed) {
  auto table = open();
  std::ifstream in(std::string(SENTIFLOW_SOURCE_DIR) + "/data/companies.jsonl");
  ASSERT_TRUE(in) << "data/companies.jsonl";
  const ImportReport report = table.import(in, ImportFormat::json_lines);
  EXPECT_EQ(report.skipped, 0u);
  EXPECT_GT(report.imported, 0u);
  EXPECT_EQ(table.count(), static_cast<int64_t>(report.imported));
}

TEST_F(LocalTableTest, ImportsCsvWithQuotesAndLineBreaks) {
  auto table = open();
  std::istringstream in(
      "name,text,founded\r\n"
      "Apple,\"Designs \"\"beautiful\"\" devices, loved\",1976\r\n"
      "\"Multi\nLine\",\"first\nsecond\",2000\n"
      "Short,only two\n"
      "Bad,\"closed\" then text,1\n"
      "Ok,\"\",007\n"
      ",no key,1\n");
  const ImportReport report = table.import(in, ImportFormat::csv);
  EXPECT_EQ(report.imported, 3u);
  EXPECT_EQ(report.skipped, 3u);
  ASSERT_EQ(report.errors.size(), 3u);
  EXPECT_EQ(report.errors[0].line, 6u) << "the quoted line breaks above count as lines";
  EXPECT_NE(report.errors[0].message.find("2 fields; the header has 3"), std::string::npos) << report.errors[0].message;
  EXPECT_EQ(report.errors[1].line, 7u);
  EXPECT_EQ(report.errors[2].line, 9u);
  EXPECT_NE(report.errors[2].message.find("empty"), std::string::npos) << report.errors[2].message;
  EXPECT_EQ(table.get({"Apple"}), R"({"name":"Apple","text":"Designs \"beautiful\" devices, loved","founded":"1976"})");
  EXPECT_EQ(table.get({"Multi\nLine"}), R"({"name":"Multi\nLine","text":"first\nsecond","founded":"2000"})");
  EXPECT_EQ(table.get({"Ok"}), R"({"name":"Ok","text":"","founded":"007"})")
      << "CSV values are strings, kept as written";
}

// A lone CR after a quoted field made the rest of its line a record: "lost" became an item that
// the file never held (found by fuzz/import_fuzz.cc).
TEST_F(LocalTableTest, ALoneCarriageReturnAfterAQuotedFieldFailsItsLineAlone) {
  auto table = open();
  std::istringstream in(
      "name,text\r\n"
      "\"Apple\"\rlost,x\r\n"
      "\"Meta\"\r\n"
      "\"Netflix\",\"fine\"\r\n");
  const ImportReport report = table.import(in, ImportFormat::csv);
  EXPECT_EQ(report.imported, 1u);
  EXPECT_EQ(report.skipped, 2u);
  ASSERT_EQ(report.errors.size(), 2u);
  EXPECT_EQ(report.errors[0].line, 2u);
  EXPECT_NE(report.errors[0].message.find("carriage return"), std::string::npos) << report.errors[0].message;
  EXPECT_EQ(report.errors[1].line, 3u);
  EXPECT_NE(report.errors[1].message.find("1 fields; the header has 2"), std::string::npos) << report.errors[1].message;
  EXPECT_FALSE(table.get({"lost"}).has_value());
  EXPECT_EQ(table.get({"Netflix"}), R"({"name":"Netflix","text":"fine"})");
}

TEST_F(LocalTableTest, AnUnclosedQuoteSkipsEveryLineItTakes) {
  auto table = open();
  std::istringstream in(
      "name,text\n"
      "Apple,\"never closed\n"
      "Meta,valid but inside the quote\n"
      "Netflix,also lost\n");
  const ImportReport report = table.import(in, ImportFormat::csv);
  EXPECT_EQ(report.imported, 0u);
  EXPECT_EQ(report.skipped, 3u) << "lines 2-4 are lost, not one line";
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].line, 2u);
  EXPECT_EQ(report.errors[0].last_line, 4u);
  EXPECT_EQ(report.errors[0].message, "lines 2-4: a quoted field is not closed before the end of the input");

  std::istringstream no_final_line_end("name,text\nOk,1\nBad,\"open\nmore");
  const ImportReport second = table.import(no_final_line_end, ImportFormat::csv);
  EXPECT_EQ(second.imported, 1u);
  EXPECT_EQ(second.skipped, 2u);
  ASSERT_EQ(second.errors.size(), 1u);
  EXPECT_EQ(second.errors[0].message, "lines 3-4: a quoted field is not closed before the end of the input");

  std::istringstream one_line("name,text\nBad,\"open");
  const ImportReport third = table.import(one_line, ImportFormat::csv);
  EXPECT_EQ(third.skipped, 1u);
  ASSERT_EQ(third.errors.size(), 1u);
  EXPECT_EQ(third.errors[0].line, 2u);
  EXPECT_EQ(third.errors[0].last_line, 2u);
  EXPECT_EQ(third.errors[0].message, "a quoted field is not closed before the end of the input");
}

TEST_F(LocalTableTest, CsvHeaderMustNameTheKeyOnce) {
  auto table = open();
  std::istringstream no_key("id,text\n1,a\n");
  EXPECT_THROW(table.import(no_key, ImportFormat::csv), Error);
  std::istringstream twice("name,name\na,b\n");
  EXPECT_THROW(table.import(twice, ImportFormat::csv), Error);
  EXPECT_EQ(table.count(), 0);
}

TEST_F(LocalTableTest, ImportOnlyIntoAnEmptyTableWhenAsked) {
  auto table = open();
  table.put(R"({"name":"existing"})");
  std::istringstream in("{\"name\":\"new\"}\n");
  const auto report = table.import(in, ImportFormat::json_lines, true);
  EXPECT_TRUE(report.table_was_not_empty);
  EXPECT_EQ(report.imported, 0u);
  EXPECT_FALSE(table.get({"new"}).has_value());
}

// A stream of items that, after `fail_after` lines, either fails (badbit) or kills the process.
class GeneratedItems : public std::streambuf {
 public:
  enum class End { fail, kill };
  GeneratedItems(size_t fail_after, End end) : fail_after_(fail_after), end_(end) {}

 protected:
  int_type underflow() override {
    if (line_ == fail_after_) {
      if (end_ == End::kill) ::raise(SIGKILL);
      throw std::runtime_error("the disk went away");  // the istream turns this into badbit
    }
    current_ = "{\"name\":\"item-" + std::to_string(line_++) + "\",\"text\":\"some text to make the row longer\"}\n";
    setg(current_.data(), current_.data(), current_.data() + current_.size());
    return traits_type::to_int_type(current_[0]);
  }

 private:
  size_t fail_after_;
  End end_;
  size_t line_ = 0;
  std::string current_;
};

TEST_F(LocalTableTest, ImportIsAllOrNothingWhenTheStreamFails) {
  auto table = open();
  GeneratedItems items(5000, GeneratedItems::End::fail);
  std::istream in(&items);
  EXPECT_THROW(table.import(in, ImportFormat::json_lines), Error);
  EXPECT_EQ(table.count(), 0);
}

TEST_F(LocalTableTest, ImportIsAllOrNothingWhenTheProcessIsKilled) {
  { open(); }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto table = open(std::nullopt);
    GeneratedItems items(200'000, GeneratedItems::End::kill);
    std::istream in(&items);
    table.import(in, ImportFormat::json_lines);
    ::_exit(0);  // not reached: the stream kills us half way
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child was meant to die by SIGKILL";
  auto table = open(std::nullopt);
  EXPECT_EQ(table.count(), 0) << "half an import survived a crash";
  table.put(R"({"name":"after the crash"})");
  EXPECT_EQ(table.count(), 1);
}

TEST_F(LocalTableTest, SegmentsAreBalanced) {
  auto table = open();
  constexpr int kItems = 8000;
  constexpr int kSegments = 8;
  std::vector<std::string> batch;
  for (int i = 0; i < kItems; ++i) {
    batch.push_back("{\"name\":\"company-" + std::to_string(i) + "\"}");
    if (batch.size() == 25) {
      table.put_batch(batch);
      batch.clear();
    }
  }
  for (int segment = 0; segment < kSegments; ++segment) {
    size_t items = 0;
    std::string token;
    do {
      const auto page = table.scan({segment, kSegments, 1000, token});
      items += page.items.size();
      token = page.next_token;
    } while (!token.empty());
    EXPECT_NEAR(static_cast<double>(items), kItems / kSegments, kItems / kSegments * 0.15) << "segment " << segment;
  }
}

TEST_F(LocalTableTest, ReadsAreConsistentAcrossObjects) {
  auto writer = open();
  auto reader = open(std::nullopt);
  writer.put(R"({"name":"shared"})");
  EXPECT_TRUE(reader.get({"shared"}).has_value());
}

}  // namespace
}  // namespace sentiflow::testing
