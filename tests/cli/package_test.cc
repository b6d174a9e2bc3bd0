// `sentiflow package`: the Lambda zip, opened with libzip and unzipped into an otherwise empty
// folder, where its `bootstrap` must run with no environment and no library path — and, as
// root, inside a chroot of that folder, where nothing of this machine's exists. There it serves
// our strict Runtime API server (tests/support/runtime_api_server.h) with Lambda's environment
// only: answers, partial batch failures, handler and init errors, many warm invocations.
// @vercel/fun's runtime runs the same zip in tests/cli/lambda_fun_test.mjs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/aws_env.h"
#include "support/run_binary.h"
#include "support/runtime_api_server.h"
#include "support/spawned.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using sentiflow::testing_support::Outcome;
using sentiflow::testing_support::read_whole_file;
using sentiflow::testing_support::run_sentiflow;
using sentiflow::testing_support::RuntimeApiServer;
using sentiflow::testing_support::Spawned;
using sentiflow::testing_support::TempDir;

const std::string kSource = SENTIFLOW_SOURCE_DIR;

struct ZipEntry {
  std::string name;
  uint32_t mode = 0;  // st_mode from the external attributes
  uint8_t opsys = 0;
  time_t mtime = 0;
  std::string data;
};

std::vector<ZipEntry> read_zip(const fs::path& file) {
  int error = 0;
  zip_t* archive = zip_open(file.c_str(), ZIP_RDONLY, &error);
  EXPECT_NE(archive, nullptr) << "libzip error " << error;
  if (archive == nullptr) return {};
  std::vector<ZipEntry> out;
  const zip_int64_t n = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    ZipEntry e;
    zip_stat_t st;
    zip_stat_index(archive, index, 0, &st);
    e.name = st.name;
    e.mtime = st.mtime;
    zip_uint32_t attributes = 0;
    zip_file_get_external_attributes(archive, index, 0, &e.opsys, &attributes);
    e.mode = attributes >> 16;
    e.data.resize(st.size);
    zip_file_t* f = zip_fopen_index(archive, index, 0);
    EXPECT_NE(f, nullptr) << e.name;
    if (f != nullptr) {
      EXPECT_EQ(zip_fread(f, e.data.data(), st.size), static_cast<zip_int64_t>(st.size)) << e.name;
      zip_fclose(f);
    }
    out.push_back(std::move(e));
  }
  zip_close(archive);
  return out;
}

// Unzips as Lambda does: the files with their Unix modes, into `root`.
void unzip(const fs::path& zip, const fs::path& root) {
  for (const auto& e : read_zip(zip)) {
    const fs::path target = root / e.name;
    fs::create_directories(target.parent_path());
    std::ofstream(target, std::ios::binary) << e.data;
    ::chmod(target.c_str(), e.mode & 07777);
  }
}

// Runs `argv` with exactly `env` (no inherited variable, as `env -i`), stdout and stderr captured.
Outcome run_exact(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  const std::string& chroot_dir = "") {
  TempDir io("package-io");
  const fs::path out = io.path() / "out", err = io.path() / "err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1);
    ::dup2(e, 2);
    if (!chroot_dir.empty() && (::chroot(chroot_dir.c_str()) != 0 || ::chdir("/") != 0)) ::_exit(126);
    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (const auto& v : env) envp.push_back(const_cast<char*>(v.c_str()));
    envp.push_back(nullptr);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  int raw = 0;
  ::waitpid(pid, &raw, 0);
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_whole_file(out), read_whole_file(err)};
}

// Whether this process may chroot: root, and not in a container that withholds CAP_SYS_CHROOT.
bool can_chroot() {
  if (::geteuid() != 0) return false;
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(::chroot("/") == 0 ? 0 : 1);
  int raw = 0;
  ::waitpid(pid, &raw, 0);
  return WIFEXITED(raw) && WEXITSTATUS(raw) == 0;
}

class PackageTest : public ::testing::Test {
 protected:
  void SetUp() override { sentiflow::testing_support::hide_aws_settings(); }

  // Packages examples/aws.yaml once for all tests of this suite (a package takes a second).
  static const fs::path& zip() {
    static TempDir dir("package");
    static const fs::path file = [] {
      const fs::path z = dir.path() / "sentiflow.zip";
      const Outcome r = run_sentiflow("package '" + kSource + "/examples/aws.yaml' --out '" + z.string() + "'");
      EXPECT_EQ(r.status, 0) << r.err;
      EXPECT_NE(r.out.find(z.string() + ": " + std::to_string(fs::exists(z) ? fs::file_size(z) : 0) + " bytes ("),
                std::string::npos)
          << r.out;
      return z;
    }();
    return file;
  }
};

TEST_F(PackageTest, TheZipHoldsBootstrapTheBinaryItsLibrariesTheLoaderAndThePipeline) {
  const auto entries = read_zip(zip());
  std::map<std::string, const ZipEntry*> by_name;
  for (const auto& e : entries) by_name[e.name] = &e;
  for (const char* name : {"bootstrap", "bin/sentiflow", "runtime/lib/ld-linux-x86-64.so.2", "runtime/lib/libc.so.6",
                           "runtime/lib/libstdc++.so.6", "runtime/lib/libcurl.so.4", "runtime/lib/libyaml-cpp.so.0.7",
                           "runtime/lib/libzip.so.4", "pipeline.yaml"})
    EXPECT_TRUE(by_name.count(name)) << name;
  // Executables are 0755 and the rest 0644, as Unix external attributes (Lambda keeps them).
  for (const auto& e : entries) {
    EXPECT_EQ(e.opsys, ZIP_OPSYS_UNIX) << e.name;
    const bool executable =
        e.name == "bootstrap" || e.name == "bin/sentiflow" || e.name.starts_with("runtime/lib/ld-linux");
    EXPECT_EQ(e.mode, executable ? 0100755u : 0100644u) << e.name;
  }
  ASSERT_TRUE(by_name.count("pipeline.yaml"));
  EXPECT_EQ(by_name["pipeline.yaml"]->data, read_whole_file(kSource + "/examples/aws.yaml"))
      << "the file as written: its ${VAR}s resolve on Lambda";
  // Sorted, no folders, nothing else: no lexicon or data file is needed (they are compiled in).
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e.name);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const auto& n : names)
    EXPECT_TRUE(n == "bootstrap" || n == "pipeline.yaml" || n == "bin/sentiflow" || n.starts_with("runtime/lib/")) << n;
  // Nothing in the folders of Lambda's default LD_LIBRARY_PATH (/var/task and /var/task/lib):
  // every dynamically linked program of the sandbox would load our newer glibc from there.
  for (const auto& n : names) {
    const std::string folder = fs::path(n).parent_path().string();
    EXPECT_TRUE(folder != "" || n.find(".so") == std::string::npos) << n;
    EXPECT_NE(folder, "lib") << n;
  }
  // The binary's debug sections are stripped: it is smaller than the one built here.
  EXPECT_LT(by_name["bin/sentiflow"]->data.size(), fs::file_size(SENTIFLOW_BINARY));
}

TEST_F(PackageTest, TheSameInputsGiveTheSameBytes) {
  TempDir dir("package-again");
  const fs::path again = dir.path() / "again.zip";
  const Outcome r = run_sentiflow("package '" + kSource + "/examples/aws.yaml' --out '" + again.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_whole_file(again), read_whole_file(zip()));
  for (const auto& e : read_zip(again)) {
    struct tm t {};
    localtime_r(&e.mtime, &t);  // libzip reads the MS-DOS time as local time
    EXPECT_EQ(t.tm_year + 1900, 1980) << e.name;
    EXPECT_EQ(t.tm_mon, 0) << e.name;
    EXPECT_EQ(t.tm_mday, 1) << e.name;
  }
}

// The binary starts through the zip's own loader and libraries only: with no environment at all
// (env -i), the loader's log (LD_DEBUG=libs) names no library outside the unzipped folder.
TEST_F(PackageTest, BootstrapRunsFromTheUnzippedFolderWithNoEnvironment) {
  TempDir root("package-root");
  unzip(zip(), root.path());
  const std::string task = fs::canonical(root.path()).string();
  const Outcome version = run_exact({task + "/bootstrap", "--version"}, {});
  EXPECT_EQ(version.status, 0) << version.err;
  EXPECT_EQ(version.out, "sentiflow 0.1.0\n");
  // The launcher's folder is the root when LAMBDA_TASK_ROOT is not set; with it, that one.
  const Outcome traced = run_exact({task + "/bootstrap", "--version"}, {"LAMBDA_TASK_ROOT=" + task, "LD_DEBUG=libs"});
  EXPECT_EQ(traced.status, 0) << traced.err;
  size_t inits = 0;
  std::istringstream lines(traced.err);
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find("calling init: ");
    if (at == std::string::npos) continue;
    ++inits;
    EXPECT_TRUE(line.substr(at + 14).starts_with(task + "/runtime/lib/")) << line;
  }
  EXPECT_GT(inits, 5u) << traced.err;
  // The pipeline in the zip is valid where it lies, with the lexicons compiled in.
  const Outcome sentiment = run_exact({task + "/bootstrap", "sentiment", "VADER is smart, handsome, and funny."},
                                      {"LAMBDA_TASK_ROOT=" + task});
  EXPECT_EQ(sentiment.status, 0) << sentiment.err;
  EXPECT_NE(sentiment.out.find("\"compound\":0.8316"), std::string::npos) << sentiment.out;
}

// Lambda starts every process of the sandbox (extensions, a layer's tools) with /var/task and
// /var/task/lib on LD_LIBRARY_PATH: with the zip unzipped there, a dynamically linked program of
// this machine must still load the system's libc, not the bundled one.
TEST_F(PackageTest, OtherProgramsWithLambdasLibraryPathDoNotLoadTheBundledLibraries) {
  TempDir root("package-other");
  unzip(zip(), root.path());
  const std::string task = fs::canonical(root.path()).string();
  const Outcome other = run_exact({"/usr/bin/env"}, {"LD_LIBRARY_PATH=" + task + ":" + task + "/lib", "LD_DEBUG=libs"});
  EXPECT_EQ(other.status, 0) << other.err;
  size_t inits = 0;
  std::istringstream lines(other.err);
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find("calling init: ");
    if (at == std::string::npos) continue;
    ++inits;
    EXPECT_FALSE(line.substr(at + 14).starts_with(task)) << line;
  }
  EXPECT_GT(inits, 0u) << other.err;
}

// As root: inside a chroot of the unzipped folder there is no /bin/sh, no libc and no /proc of
// this machine: the static launcher and the bundled loader must do it all.
TEST_F(PackageTest, BootstrapRunsInAChrootOfTheUnzippedFolder) {
  if (!can_chroot()) GTEST_SKIP() << "chroot needs root (and CAP_SYS_CHROOT)";
  TempDir root("package-chroot");
  unzip(zip(), root.path());
  EXPECT_FALSE(fs::exists(root.path() / "bin/sh"));
  const Outcome version = run_exact({"/bootstrap", "--version"}, {"LAMBDA_TASK_ROOT=/"}, root.path().string());
  EXPECT_EQ(version.status, 0) << version.err;
  EXPECT_EQ(version.out, "sentiflow 0.1.0\n");
  // Without LAMBDA_TASK_ROOT and without /proc, the launcher finds its folder from argv[0].
  const Outcome bare = run_exact({"/bootstrap", "validate", "/pipeline.yaml"}, {}, root.path().string());
  EXPECT_EQ(bare.status, 0) << bare.err;
  EXPECT_NE(bare.out.find("/pipeline.yaml: valid"), std::string::npos) << bare.out;
}

// A consumer on local parts whose paths are relative to pipeline.yaml, so that the same package
// runs from an unzipped folder and from a chroot of it (where the folder is /).
constexpr const char* kLocalConsumer =
    "name: lambdatest\n"
    "state_dir: state\n"
    "source: {table: local://items, key: id, text: text}\n"
    "queue: {url: local://lambdatest, visibility_timeout: 60s}\n"
    "sink: {store: out/}\n";

class PackagedRuntimeTest : public PackageTest {
 protected:
  // The zip of kLocalConsumer, built once.
  static const fs::path& consumer_zip() {
    static TempDir dir("package-consumer");
    static const fs::path file = [] {
      const fs::path pipeline = dir.path() / "pipeline.yaml";
      std::ofstream(pipeline) << kLocalConsumer;
      const fs::path z = dir.path() / "consumer.zip";
      const Outcome r = run_sentiflow("package '" + pipeline.string() + "' --out '" + z.string() + "'");
      EXPECT_EQ(r.status, 0) << r.err;
      return z;
    }();
    return file;
  }

  // Unzips into `root` and creates what the SAM template would: the queue and the sink's folder.
  static void deploy(const fs::path& root) {
    unzip(consumer_zip(), root);
    const std::string pipeline = (root / "pipeline.yaml").string();
    ASSERT_EQ(run_sentiflow("queue send --pipeline '" + pipeline + "' '{}'").status, 0);
    ASSERT_EQ(run_sentiflow("queue purge --yes --pipeline '" + pipeline + "'").status, 0);
    fs::create_directories(root / "out");
  }

  // Exactly what Lambda sets for a provided.al2023 function (and nothing of this process's),
  // its LD_LIBRARY_PATH included: Lambda's own value, whose /lib64 holds Amazon Linux's older
  // glibc; unless given, a folder of broken libraries that the bundled loader must never look at.
  std::map<std::string, std::string> lambda_environment(const std::string& task_root, const std::string& handler,
                                                        std::optional<std::string> library_path = std::nullopt) {
    const fs::path fake = fake_system_.path();
    std::ofstream(fake / "libc.so.6") << "not a library";
    std::ofstream(fake / "libstdc++.so.6") << "not a library";
    return {{"AWS_LAMBDA_RUNTIME_API", api_.address()},
            {"_HANDLER", handler},
            {"LAMBDA_TASK_ROOT", task_root},
            {"LAMBDA_RUNTIME_DIR", "/var/runtime"},
            {"AWS_REGION", "us-east-1"},
            {"AWS_DEFAULT_REGION", "us-east-1"},
            {"AWS_LAMBDA_FUNCTION_NAME", "lambdatest-consumer"},
            {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"},
            {"AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"},
            {"AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"},
            {"AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/lambdatest-consumer"},
            {"AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/26/[$LATEST]0123456789abcdef"},
            {"TZ", ":UTC"},
            {"LANG", "en_US.UTF-8"},
            {"PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"},
            {"LD_LIBRARY_PATH", library_path.value_or(fake.string())},
            // The run state in state_dir: this test has no DynamoDB (the template's table).
            {"SENTIFLOW_RUN_STATE", "local"}};
  }

  // Every variable of this process, to be unset in the child: it gets only what is given.
  static std::vector<std::string> inherited() {
    std::vector<std::string> names;
    for (char** e = environ; *e != nullptr; ++e)
      names.emplace_back(std::string(*e).substr(0, std::string(*e).find('=')));
    return names;
  }

  static std::string sqs_record(const std::string& id, const std::string& body) {
    nlohmann::json r = {{"messageId", id},
                        {"receiptHandle", "handle-" + id},
                        {"body", body},
                        {"attributes",
                         {{"ApproximateReceiveCount", "1"},
                          {"SentTimestamp", "1764136800000"},
                          {"SenderId", "AIDAEXAMPLE"},
                          {"ApproximateFirstReceiveTimestamp", "1764136800001"}}},
                        {"messageAttributes", nlohmann::json::object()},
                        {"md5OfBody", ""},
                        {"eventSource", "aws:sqs"},
                        {"eventSourceARN", "arn:aws:sqs:us-east-1:123456789012:lambdatest"},
                        {"awsRegion", "us-east-1"}};
    return r.dump();
  }

  static std::string message(const std::string& key, const std::string& text) {
    return nlohmann::json{
        {"v", 1}, {"run", "manual-20261126T000000.000Z"}, {"key", key}, {"item", {{"id", key}, {"text", text}}}}
        .dump();
  }

  // The checks both roots share: an event with a good and a poison record, one whose deadline
  // has passed, one that is not an SQS event, then `warm` empty events, all in one process.
  void serve_events(Spawned& child, const fs::path& root, int warm) {
    api_.add_event({.body = "{\"Records\": [" + sqs_record("m-good", message("a", "I love this, it is great!")) + ", " +
                            sqs_record("m-poison", "not json") + "]}",
                    .request_id = "req-records",
                    .trace_id = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"});
    const int64_t now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    api_.add_event({.body = "{\"Records\": [" + sqs_record("m-late", message("b", "fine")) + "]}",
                    .request_id = "req-late",
                    .deadline_ms = now});
    api_.add_event({.body = R"({"hello": "world"})", .request_id = "req-wrong"});
    for (int i = 0; i < warm; ++i) api_.add_event({.body = R"({"Records": []})"});
    ASSERT_TRUE(api_.wait_for_outcomes(3 + static_cast<size_t>(warm), std::chrono::seconds(60)))
        << child.err() << child.out();

    EXPECT_EQ(nlohmann::json::parse(api_.response_to("req-records").value_or("null")),
              nlohmann::json::parse(R"({"batchItemFailures": [{"itemIdentifier": "m-poison"}]})"))
        << child.out();
    EXPECT_EQ(nlohmann::json::parse(api_.response_to("req-late").value_or("null")),
              nlohmann::json::parse(R"({"batchItemFailures": [{"itemIdentifier": "m-late"}]})"))
        << "a record the deadline leaves is handed back";
    const auto errors = api_.errors();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].request_id, "req-wrong");
    EXPECT_EQ(errors[0].error_type_header, "Sentiflow.InvalidInput");
    EXPECT_EQ(errors[0].document.value("errorType", ""), "Sentiflow.InvalidInput");
    EXPECT_EQ(api_.responses().size(), 2u + static_cast<size_t>(warm));
    for (const auto& r : api_.responses()) {
      if (r.request_id != "req-records" && r.request_id != "req-late") {
        EXPECT_EQ(r.body, R"({"batchItemFailures":[]})") << r.request_id;
      }
    }
    EXPECT_TRUE(child.running()) << "a failed invocation never ends the process\n" << child.err();
    EXPECT_EQ(api_.violations(), std::vector<std::string>{});
    EXPECT_FALSE(api_.init_error());

    // The good record's result, analysed with the compiled-in lexicon, is in the sink.
    std::string results;
    for (const auto& entry : fs::recursive_directory_iterator(root / "out"))
      if (entry.is_regular_file() && entry.path().string().find("_errors") == std::string::npos)
        results += read_whole_file(entry.path());
    EXPECT_NE(results.find("\"key\":\"a\""), std::string::npos) << results;
    EXPECT_NE(results.find("\"sentiment\":\"POSITIVE\""), std::string::npos) << results;

    // Lambda's logs: JSON lines with the request id (stdout and stderr both go to CloudWatch).
    EXPECT_NE((child.out() + child.err()).find("\"requestId\":\"req-records\""), std::string::npos)
        << child.out() << child.err();

    // The server goes: the runtime finds no API and ends.
    api_.stop();
    const auto status = child.wait_exit(std::chrono::seconds(30));
    ASSERT_TRUE(status.has_value());
  }

  RuntimeApiServer api_;
  TempDir fake_system_{"package-fake-lib"};
};

TEST_F(PackagedRuntimeTest, BootstrapServesTheStrictRuntimeApiWithLambdasEnvironmentOnly) {
  TempDir root("package-lambda");
  deploy(root.path());
  const std::string task = fs::canonical(root.path()).string();
  Spawned child(task + "/bootstrap", {}, {.env = lambda_environment(task, "consumer"), .unset = inherited()});
  serve_events(child, root.path(), 50);
}

TEST_F(PackagedRuntimeTest, BootstrapServesTheStrictRuntimeApiInAChroot) {
  if (!can_chroot()) GTEST_SKIP() << "chroot needs root (and CAP_SYS_CHROOT)";
  TempDir root("package-lambda-chroot");
  deploy(root.path());
  // chroot(8) itself is this machine's program: Lambda's LD_LIBRARY_PATH, not the broken folder.
  Spawned child(
      "/usr/sbin/chroot", {root.path().string(), "/bootstrap"},
      {.env = lambda_environment("/", "consumer",
                                 "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"),
       .unset = inherited()});
  serve_events(child, root.path(), 20);
}

TEST_F(PackagedRuntimeTest, AFailedInitialisationIsPostedToInitError) {
  TempDir root("package-lambda-init");
  deploy(root.path());
  const std::string task = fs::canonical(root.path()).string();
  std::ofstream(root.path() / "pipeline.yaml") << "name: [unclosed\n";  // broken where it runs
  Spawned child(task + "/bootstrap", {}, {.env = lambda_environment(task, "consumer"), .unset = inherited()});
  ASSERT_TRUE(api_.wait_for_init_error()) << child.err();
  const auto status = child.wait_exit();
  ASSERT_TRUE(status.has_value()) << "the runtime ends after an init error";
  EXPECT_NE(*status, 0);
  const auto init = api_.init_error();
  EXPECT_EQ(init->error_type_header, "Sentiflow.InvalidInput");
  EXPECT_NE(init->document.value("errorMessage", "").find("pipeline.yaml"), std::string::npos) << init->body;
  EXPECT_EQ(api_.next_calls(), 0u);
  EXPECT_EQ(api_.violations(), std::vector<std::string>{});
}

// A fastText model file goes into the zip at its path relative to the pipeline file, so that the
// relative path the file writes finds it in /var/task; one outside that folder is refused.
TEST_F(PackageTest, AFastTextModelGoesIntoTheZipBesideThePipeline) {
  TempDir dir("package-model");
  fs::create_directories(dir.path() / "models");
  fs::copy_file(kSource + "/data/fasttext/sst2.ftz", dir.path() / "models/mine.ftz");
  const std::string aws = read_whole_file(kSource + "/examples/aws.yaml");
  const auto with_model = [&](const std::string& model) {
    std::string text = aws;
    const auto at = text.find("  engine: comprehend");
    EXPECT_NE(at, std::string::npos);
    text.replace(at, std::string("  engine: comprehend").size(), "  engine: fasttext\n  model: " + model);
    std::ofstream(dir.path() / "pipeline.yaml") << text;
    return run_sentiflow("package '" + (dir.path() / "pipeline.yaml").string() + "' --out '" +
                         (dir.path() / "f.zip").string() + "'");
  };
  Outcome r = with_model("models/mine.ftz");
  ASSERT_EQ(r.status, 0) << r.err;
  bool found = false;
  for (const auto& e : read_zip(dir.path() / "f.zip"))
    if (e.name == "models/mine.ftz") {
      found = true;
      EXPECT_EQ(e.data, read_whole_file(dir.path() / "models/mine.ftz"));
      EXPECT_EQ(e.mode, 0100644u);
    }
  EXPECT_TRUE(found);
  r = with_model(kSource + "/data/fasttext/sst2.ftz");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("is outside the pipeline file's folder"), std::string::npos) << r.err;
}

TEST_F(PackageTest, BadInputsAreRefusedWithExitStatusTwo) {
  TempDir dir("package-bad");
  const Outcome missing =
      run_sentiflow("package /nonexistent/pipeline.yaml --out '" + (dir.path() / "a.zip").string() + "'");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("/nonexistent/pipeline.yaml"), std::string::npos) << missing.err;
  const fs::path invalid = dir.path() / "invalid.yaml";
  std::ofstream(invalid) << "name: 1bad\n";
  const Outcome bad =
      run_sentiflow("package '" + invalid.string() + "' --out '" + (dir.path() / "b.zip").string() + "'");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("name"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir.path() / "b.zip"));
  const Outcome unwritable =
      run_sentiflow("package '" + kSource + "/examples/aws.yaml' --out /nonexistent/dir/sentiflow.zip");
  EXPECT_EQ(unwritable.status, 2);
  EXPECT_NE(unwritable.err.find("/nonexistent/dir/sentiflow.zip"), std::string::npos) << unwritable.err;
  const Outcome folder =
      run_sentiflow("package '" + kSource + "/examples/aws.yaml' --out '" + dir.path().string() + "'");
  EXPECT_EQ(folder.status, 2);
  EXPECT_NE(folder.err.find("is a folder"), std::string::npos) << folder.err;
  EXPECT_EQ(folder.out, "");
}

}  // namespace
