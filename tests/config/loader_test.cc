#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/keys.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/secrets.h"

namespace sentiflow {
namespace {

namespace fs = std::filesystem;
const fs::path kSource = SENTIFLOW_SOURCE_DIR;

LoadResult load(const std::string& yaml, const fs::path& file = "/srv/pipelines/p.yaml") {
  return load_pipeline_text(yaml, file);
}

std::string errors_of(const LoadResult& r) {
  std::string all;
  for (const auto& e : r.errors) all += e.to_string() + "\n";
  return all;
}

const std::string kMinimal = "name: demo\nsource: {table: local://t, key: id, text: body}\n";

TEST(Loader, EveryExampleValidates) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(kSource / "examples")) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    const LoadResult r = load_pipeline(entry.path());
    EXPECT_TRUE(r.ok()) << entry.path() << "\n" << errors_of(r);
  }
  EXPECT_GE(count, 2);
}

TEST(Loader, AMinimalFileGetsEveryDefault) {
  const LoadResult r = load(kMinimal);
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const PipelineConfig& c = *r.config;
  EXPECT_EQ(c.file, "/srv/pipelines/p.yaml");
  EXPECT_FALSE(c.schedule.has_value());
  EXPECT_EQ(c.catch_up, CatchUp::latest);
  EXPECT_EQ(c.state_dir, "/srv/pipelines/.sentiflow");
  EXPECT_EQ(c.source.segments, 1);
  EXPECT_EQ(c.source.page_size, 1000);
  EXPECT_EQ(c.queue.url.uri, "local://demo");
  EXPECT_EQ(c.queue.visibility_timeout, std::chrono::seconds{30});
  EXPECT_EQ(c.queue.max_receive_count, 5);
  EXPECT_EQ(c.queue.dead_letter, "demo-dlq");
  EXPECT_EQ(c.queue.message_size_limit, 256u * 1024);
  EXPECT_EQ(c.queue.retention, std::chrono::hours{96});
  EXPECT_EQ(c.queue.durability, Durability::normal);
  EXPECT_EQ(c.consumer.batch_size, 10);
  EXPECT_EQ(c.consumer.batch_window, Duration{0});
  EXPECT_EQ(c.consumer.min_concurrency, 1);
  EXPECT_EQ(c.consumer.max_concurrency, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  EXPECT_FALSE(c.consumer.enrich.has_value());
  EXPECT_EQ(c.sentiment.engine, SentimentEngine::vader);
  EXPECT_EQ(c.sentiment.language, "en");
  EXPECT_DOUBLE_EQ(c.sentiment.mixed_threshold, 0.2);
  EXPECT_EQ(c.sink.store.uri, "file:///srv/pipelines/out/");
  EXPECT_EQ(c.sink.format, SinkFormat::jsonl);
  EXPECT_EQ(c.lambda.timeout, std::chrono::seconds{5});  // visibility 30s / 6
  EXPECT_EQ(c.lambda.memory_mb, 512);
  EXPECT_FALSE(c.aws.region.has_value());
  EXPECT_FALSE(c.observe.listen.has_value());
}

TEST(Loader, EnrichSectionTurnsTheStepOnWithItsDefaults) {
  const LoadResult r = load(
      "name: demo\nsource: {table: local://t, key: name}\n"
      "consumer:\n  enrich:\n    url: https://example.org/{name}\n    text: /extract\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const auto& e = *r.config->consumer.enrich;
  EXPECT_EQ(e.url, "https://example.org/{name}");
  EXPECT_EQ(e.timeout, std::chrono::seconds{5});
  EXPECT_EQ(e.retries, 3);
  EXPECT_EQ(e.concurrency, 8);
  EXPECT_DOUBLE_EQ(e.rate_limit, 50);
  EXPECT_EQ(e.user_agent.rfind("sentiflow/", 0), 0u);
  EXPECT_EQ(e.cache_entries, 10000);
  EXPECT_EQ(e.cache_ttl, std::chrono::hours{1});
}

TEST(Loader, SubstitutesEnvironmentVariables) {
  ::setenv("SENTIFLOW_TEST_BUCKET", "my-results", 1);
  ::unsetenv("SENTIFLOW_TEST_UNSET");
  const LoadResult r = load(kMinimal +
                            "sink:\n  store: s3://${SENTIFLOW_TEST_BUCKET}/${SENTIFLOW_TEST_UNSET:-daily}/\n"
                            "consumer:\n  batch_size: ${SENTIFLOW_TEST_UNSET:-25}\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(r.config->sink.store.uri, "s3://my-results/daily/");
  EXPECT_EQ(r.config->consumer.batch_size, 25);
  EXPECT_EQ(substitute_environment("cost: $$5 ${SENTIFLOW_TEST_BUCKET}"), "cost: $5 my-results");
  EXPECT_THROW(substitute_environment("${1BAD}"), Error);
  EXPECT_THROW(substitute_environment("${SENTIFLOW_TEST_UNSET:-${SENTIFLOW_TEST_BUCKET}}"), Error);
  EXPECT_THROW(substitute_environment("${}"), Error);
  EXPECT_EQ(substitute_environment("costs $"), "costs $");
  ::setenv("SENTIFLOW_TEST_EMPTY", "", 1);
  EXPECT_EQ(substitute_environment("[${SENTIFLOW_TEST_EMPTY}]"), "[]") << "set but empty stays empty";
  EXPECT_THROW(substitute_environment("${OPEN"), Error);
}

TEST(Loader, ReportsEveryErrorAtOnceInFileOrder) {
  const LoadResult r = load(
      "name: 9lives\nsource: {table: local://t, key: id, text: body, segments: 0}\n"
      "queue: {visibility_timeout: 13h, retention: 1m, max_receive_count: zero}\n"
      "sink: {format: parquet}\n");
  ASSERT_EQ(r.errors.size(), 5u) << errors_of(r);
  EXPECT_EQ(r.errors[0].key, "name");
  EXPECT_EQ(r.errors[1].key, "source.segments");
  EXPECT_EQ(r.errors[2].key, "queue.visibility_timeout");
  EXPECT_EQ(r.errors[3].key, "queue.max_receive_count");
  EXPECT_EQ(r.errors[4].key, "sink.format");
  EXPECT_EQ(r.errors[2].line, 3);
  EXPECT_EQ(r.errors[2].value, "13h");
  EXPECT_NE(r.errors[2].to_string().find("/srv/pipelines/p.yaml:3:"), std::string::npos);
}

TEST(Loader, WarnsAboutSettingsAwsWouldIgnoreOrRefuse) {
  const LoadResult r = load(
      "name: demo\nsource: {table: dynamodb://things, key: id, text: body}\n"
      "queue: {url: sqs://things, durability: full}\nconsumer: {batch_size: 100}\n"
      "observe: {listen: '0.0.0.0:9464'}\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  ASSERT_EQ(r.warnings.size(), 3u);
  EXPECT_EQ(r.warnings[0].key, "consumer.batch_size");
  EXPECT_EQ(r.warnings[1].key, "queue.durability");
  EXPECT_EQ(r.warnings[2].key, "observe.listen");
}

TEST(Loader, TheResolvedConfigIsItselfAValidPipelineFile) {
  char pattern[] = "/tmp/sentiflow-resolved-XXXXXX";
  const fs::path dir = ::mkdtemp(pattern);
  for (const char* example : {"examples/aws.yaml", "examples/demo.yaml"}) {
    const LoadResult first = load_pipeline(kSource / example);
    ASSERT_TRUE(first.ok()) << errors_of(first);
    std::ofstream(dir / "resolved.yaml") << first.resolved.dump(2);
    const LoadResult second = load_pipeline(dir / "resolved.yaml");
    ASSERT_TRUE(second.ok()) << example << "\n" << errors_of(second);
    EXPECT_EQ(first.resolved, second.resolved) << example;
  }
  fs::remove_all(dir);
}

// A "$" of a value, written "$$" in the file or brought by a variable, is written "$$" in the
// resolved file too: read again, it is the same "$", not the start of a ${VAR} reference.
TEST(Loader, TheResolvedConfigKeepsEveryDollarOfAValue) {
  ::setenv("SENTIFLOW_TEST_AGENT", "agent$1${HOME}", 1);
  const LoadResult first = load(kMinimal +
                                "consumer:\n  enrich: {url: 'http://127.0.0.1:1/{id}?price=$$5', text: /t, "
                                "user_agent: '${SENTIFLOW_TEST_AGENT}'}\n");
  ::unsetenv("SENTIFLOW_TEST_AGENT");
  ASSERT_TRUE(first.ok()) << errors_of(first);
  EXPECT_EQ(first.config->consumer.enrich->url, "http://127.0.0.1:1/{id}?price=$5");
  EXPECT_EQ(first.config->consumer.enrich->user_agent, "agent$1${HOME}");
  const auto& enrich = first.resolved["consumer"]["enrich"];
  EXPECT_EQ(enrich["url"], "http://127.0.0.1:1/{id}?price=$$5");
  const LoadResult second = load(first.resolved.dump());
  ASSERT_TRUE(second.ok()) << errors_of(second);
  EXPECT_EQ(second.config->consumer.enrich->url, first.config->consumer.enrich->url);
  EXPECT_EQ(second.config->consumer.enrich->user_agent, first.config->consumer.enrich->user_agent);
  EXPECT_EQ(second.resolved, first.resolved);
  // The variable's value is a secret in either form.
  const std::string shown = redact_secrets(first.resolved.dump());
  EXPECT_EQ(shown.find("agent$"), std::string::npos) << shown;
  EXPECT_NE(shown.find("${SENTIFLOW_TEST_AGENT}"), std::string::npos) << shown;
}

// A fuzz finding: on SQS with a visibility timeout under 1s, the computed lambda.timeout (1s) was
// written into the resolved file, which then refused itself ("longer than the visibility timeout").
TEST(Loader, AVisibilityTimeoutUnderASecondResolvesToAValidFile) {
  const LoadResult first = load(
      "name: demo\nsource: {table: dynamodb://things, key: id, text: body}\nqueue: {url: sqs://things, "
      "visibility_timeout: 0s}\n");
  ASSERT_TRUE(first.ok()) << errors_of(first);
  const LoadResult second = load(first.resolved.dump());
  ASSERT_TRUE(second.ok()) << errors_of(second);
  EXPECT_EQ(second.resolved, first.resolved);
  EXPECT_FALSE(first.resolved["lambda"].contains("timeout"));
}

// The fastText keys: a label map as YAML or as text, and a warning only for a value the other
// engines would ignore.
TEST(Loader, ReadsTheFastTextKeys) {
  const LoadResult r = load(kMinimal +
                            "sentiment:\n  engine: fasttext\n  labels: {__label__1: negative, __label__2: Positive}\n"
                            "  neutral_threshold: 0.7\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(r.config->sentiment.engine, SentimentEngine::fasttext);
  EXPECT_EQ(r.config->sentiment.model, "builtin");
  const std::map<std::string, std::string> labels = {{"__label__1", "NEGATIVE"}, {"__label__2", "POSITIVE"}};
  EXPECT_EQ(r.config->sentiment.labels, labels);
  EXPECT_EQ(r.config->sentiment.neutral_threshold, 0.7);
  EXPECT_EQ(r.resolved["sentiment"]["labels"], "__label__1=NEGATIVE, __label__2=POSITIVE");
  const LoadResult again = load(r.resolved.dump());
  ASSERT_TRUE(again.ok()) << errors_of(again);
  EXPECT_EQ(again.config->sentiment.labels, labels);
  EXPECT_TRUE(again.warnings.empty());

  EXPECT_NE(errors_of(load(kMinimal + "sentiment: {engine: fasttext, labels: {a: good}}\n"))
                .find("expected LABEL=CLASS, CLASS one of POSITIVE"),
            std::string::npos);
  EXPECT_NE(errors_of(load(kMinimal + "sentiment: {engine: fasttext, model: /nonexistent/m.ftz}\n"))
                .find("sentiment.model: file not found: /nonexistent/m.ftz"),
            std::string::npos);
  EXPECT_NE(errors_of(load(kMinimal + "sentiment: {engine: fasttext, neutral_threshold: 0.4}\n")).find("out of range"),
            std::string::npos);
  const LoadResult ignored = load(kMinimal + "sentiment: {engine: vader, model: m.ftz}\n");
  ASSERT_TRUE(ignored.ok()) << errors_of(ignored);
  ASSERT_EQ(ignored.warnings.size(), 1u);
  EXPECT_EQ(ignored.warnings[0].key, "sentiment.model");
  EXPECT_EQ(ignored.config->sentiment.model, "/srv/pipelines/m.ftz");
}

TEST(Loader, RefusesValuesNobodyMeans) {
  EXPECT_NE(errors_of(load(kMinimal + "sentiment: {mixed_threshold: nan}\n")).find("'nan' is not a number"),
            std::string::npos);
  EXPECT_NE(errors_of(load(kMinimal + "sentiment: {mixed_threshold: 1e400}\n")).find("out of range"),
            std::string::npos);
  EXPECT_NE(
      errors_of(load(kMinimal + "consumer: {batch_size: 99999999999999999999999}\n")).find("out of range 1-10000"),
      std::string::npos);
  const auto nul = load(kMinimal + "sink: {store: \"out\\0/../x\"}\n");
  EXPECT_NE(errors_of(nul).find("control character (0x00)"), std::string::npos) << errors_of(nul);
}

// A fuzz finding: yaml-cpp 0.7 read a NUL byte followed by 'N' in a plain scalar as a lone 0x85
// byte, so a value that is not UTF-8 passed into the config (and `validate --json` replaced it).
TEST(Loader, AControlCharacterInTheFileIsRefusedWhereItIs) {
  const LoadResult r = load(std::string("name: Fuzz\nsource:\n  table: local://items\n  key: i\n  text: t\0Nl\n", 64));
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
  EXPECT_EQ(r.errors[0].line, 5);
  EXPECT_EQ(r.errors[0].column, 10);
  EXPECT_NE(errors_of(r).find("a control character (0x00) at byte 60; pipeline files are text"), std::string::npos)
      << errors_of(r);
  EXPECT_FALSE(load(kMinimal + "queue: {url: local://q\x01}\n").ok());
  EXPECT_TRUE(load(kMinimal + "queue: {url: local://q}\t\r\n").ok()) << "tab, CR and LF are text";
}

TEST(Loader, RefusesYamlFeaturesItWouldOtherwiseIgnore) {
  EXPECT_NE(errors_of(load(kMinimal + "---\nbogus: 1\n")).find("one YAML document"), std::string::npos);
  EXPECT_NE(errors_of(load("base: &b {batch_size: 5}\n" + kMinimal + "consumer:\n  <<: *b\n")).find("merge keys"),
            std::string::npos);
  EXPECT_NE(errors_of(load(kMinimal + "catch_up: !custom latest\n")).find("tags (!custom)"), std::string::npos);
  EXPECT_TRUE(load(kMinimal + "catch_up: !!str latest\n").ok()) << "a standard tag changes nothing";
}

// yaml-cpp 0.7's LoadAll never ends on a stray flow indicator at the top of a file: it made
// `validate` hang while its memory grew (found by fuzz/pipeline_fuzz.cc).
TEST(Loader, AStrayCommaAtTheTopIsASyntaxErrorNotAHang) {
  for (const std::string& text : std::vector<std::string>{",name: demo\n", "  , " + kMinimal, ",\n"}) {
    const LoadResult r = load(text);
    ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
    EXPECT_NE(r.errors[0].message.find("unexpected ','"), std::string::npos) << errors_of(r);
    EXPECT_EQ(r.errors[0].line, 1);
  }
  EXPECT_NE(errors_of(load(kMinimal + "---\n---\n")).find("one YAML document"), std::string::npos);
}

TEST(Loader, CountsColumnsInCharacters) {
  const LoadResult r = load(kMinimal + "sink: {format: \"\u00e9\u00e9\u00e9\u00e9\u00e9\", compression: zip}\n");
  ASSERT_EQ(r.errors.size(), 2u) << errors_of(r);
  EXPECT_EQ(r.errors[1].key, "sink.compression");
  EXPECT_EQ(r.errors[1].column, 38) << "after five two-byte characters";
}

TEST(Loader, RefusesWhatIsNotAPipelineFile) {
  EXPECT_NE(errors_of(load_pipeline("/dev/zero")).find("not a regular file"), std::string::npos);
  EXPECT_NE(errors_of(load_pipeline(kSource / "examples")).find("not a regular file"), std::string::npos);
}

TEST(Loader, ChecksUrlTemplatesWithAQueryOnly) {
  const LoadResult r = load(
      "name: demo\nsource: {table: local://t, key: name}\n"
      "consumer: {enrich: {url: \"https://example.com?q={name}\", text: /extract}}\n");
  EXPECT_TRUE(r.ok()) << errors_of(r);
}

TEST(Loader, WarnsWhenTheScheduleNeverFires) {
  const LoadResult r = load(kMinimal + "schedule: at(2020-01-01T00:00:00)\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].key, "schedule");
  EXPECT_NE(r.warnings[0].message.find("never fires"), std::string::npos);
}

TEST(Loader, RefusesEmptyAndNonMappingFiles) {
  EXPECT_NE(errors_of(load("")).find("the file is empty"), std::string::npos);
  EXPECT_NE(errors_of(load("- a\n- b\n")).find("must be a mapping"), std::string::npos);
  EXPECT_NE(errors_of(load("name: \"\xff\"\n")).find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(errors_of(load_pipeline("/no/such/pipeline.yaml")).find("no such file"), std::string::npos);
}

TEST(Loader, OrThrowListsEveryError) {
  try {
    load_pipeline_or_throw(kSource / "tests/config/broken/out_of_range.yaml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    const std::string message = e.what();
    EXPECT_NE(message.find("queue.retention"), std::string::npos);
    EXPECT_NE(message.find("consumer.batch_size"), std::string::npos);
  }
}

TEST(Keys, TheTableHasEveryKeyOfTheDesign) {
  for (const char* path : {"name",
                           "schedule",
                           "catch_up",
                           "state_dir",
                           "source.table",
                           "source.key",
                           "source.text",
                           "source.seed",
                           "source.segments",
                           "source.page_size",
                           "queue.url",
                           "queue.visibility_timeout",
                           "queue.max_receive_count",
                           "queue.dead_letter",
                           "queue.message_size_limit",
                           "queue.retention",
                           "queue.durability",
                           "consumer.batch_size",
                           "consumer.batch_window",
                           "consumer.concurrency.min",
                           "consumer.concurrency.max",
                           "consumer.enrich.url",
                           "consumer.enrich.text",
                           "consumer.enrich.timeout",
                           "consumer.enrich.retries",
                           "consumer.enrich.concurrency",
                           "consumer.enrich.rate_limit",
                           "consumer.enrich.user_agent",
                           "consumer.enrich.cache.entries",
                           "consumer.enrich.cache.ttl",
                           "sentiment.engine",
                           "sentiment.language",
                           "sentiment.mixed_threshold",
                           "sentiment.concurrency",
                           "sink.store",
                           "sink.format",
                           "sink.compression",
                           "aws.region",
                           "aws.profile",
                           "aws.endpoint_url",
                           "lambda.timeout",
                           "lambda.memory",
                           "observe.listen"})
    EXPECT_NE(find_key(path), nullptr) << path;
}

TEST(Keys, EveryWrittenDefaultIsValid) {
  for (const auto& key : pipeline_keys()) {
    if (key.kind == KeySpec::Kind::section || key.default_text.empty() || key.default_computed) continue;
    PipelineConfig c;
    c.consumer.enrich.emplace();
    EXPECT_NO_THROW(key.apply(c, key.default_text, LoadContext{"/tmp"})) << key.path;
  }
}

TEST(Docs, PipelineReferenceIsGeneratedFromTheKeyTable) {
  std::ifstream in(kSource / "docs/PIPELINE.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const std::string begin = "<!-- BEGIN GENERATED: sentiflow validate --reference -->\n";
  const std::string end = "<!-- END GENERATED -->";
  const auto from = doc.find(begin);
  const auto to = doc.find(end);
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  EXPECT_EQ(doc.substr(from + begin.size(), to - from - begin.size()), render_reference_markdown())
      << "docs/PIPELINE.md is out of date: run `make docs`";
}

}  // namespace
}  // namespace sentiflow

namespace sentiflow {
namespace {

TEST(Loader, ABatchWindowMustLeaveTheVisibilityTimeoutToWork) {
  const LoadResult too_long = load(kMinimal + "queue: {visibility_timeout: 10s}\nconsumer: {batch_window: 6s}\n");
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(errors_of(too_long).find("consumer.batch_window"), std::string::npos) << errors_of(too_long);
  EXPECT_NE(errors_of(too_long).find("half of queue.visibility_timeout"), std::string::npos) << errors_of(too_long);
  // Exactly half leaves no margin: the batch's messages could be delivered again the moment it is
  // full (issue 14, fault 4: the window strictly inside the margin).
  const LoadResult half = load(kMinimal + "queue: {visibility_timeout: 10s}\nconsumer: {batch_window: 5s}\n");
  EXPECT_FALSE(half.ok());
  EXPECT_NE(errors_of(half).find("not less than half"), std::string::npos) << errors_of(half);
  EXPECT_TRUE(load(kMinimal + "queue: {visibility_timeout: 10s}\nconsumer: {batch_window: 4999ms}\n").ok());

  const LoadResult zero = load(kMinimal + "queue: {visibility_timeout: 0s}\n");
  ASSERT_TRUE(zero.ok()) << errors_of(zero);  // SQS allows it; it is a warning here
  ASSERT_FALSE(zero.warnings.empty());
  EXPECT_NE(zero.warnings.front().message.find("more than once"), std::string::npos);
}

}  // namespace
}  // namespace sentiflow
