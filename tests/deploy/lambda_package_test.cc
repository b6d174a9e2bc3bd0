// The Lambda package's parts (deploy/lambda_package.h, deploy/sam_template.h) without the
// command line: the loader's view of the binary's libraries, the checks on the launcher, the
// function timeout and the pipeline file's variables. The zip itself, unzipped and run, is
// tested through the binary in tests/cli/package_test.cc.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "config/loader.h"
#include "core/error.h"
#include "deploy/lambda_package.h"
#include "deploy/sam_template.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using sentiflow::Error;
using sentiflow::ErrorCode;
using sentiflow::testing_support::TempDir;
using namespace sentiflow::deploy;

const fs::path kBinary = SENTIFLOW_BINARY;

TEST(LambdaPackage, TheLoaderListsLibcAndTheBinarysLibrariesWithTheirFiles) {
  const SharedLibraries libs = shared_libraries(kBinary);
  EXPECT_TRUE(libs.loader.is_absolute());
  EXPECT_TRUE(fs::exists(libs.loader)) << libs.loader;
  std::map<std::string, fs::path> by_name(libs.libraries.begin(), libs.libraries.end());
  for (const char* soname : {"libc.so.6", "libstdc++.so.6", "libcurl.so.4", "libsqlite3.so.0", "libzip.so.4"}) {
    ASSERT_TRUE(by_name.count(soname)) << soname;
    EXPECT_TRUE(fs::exists(by_name[soname])) << by_name[soname];
  }
  for (const auto& [soname, file] : libs.libraries) {
    EXPECT_NE(soname, "linux-vdso.so.1") << "the vDSO has no file";
    EXPECT_NE(fs::path(file), libs.loader) << "the loader is listed apart";
  }
}

TEST(LambdaPackage, AStaticExecutableOrAFileThatIsNotElfHasNoLibrariesToList) {
  try {
    shared_libraries(default_bootstrap(kBinary));
    FAIL() << "the static launcher has no loader";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("not dynamically linked"), std::string::npos) << e.what();
  }
  TempDir dir("lambda-package");
  std::ofstream(dir.path() / "text") << "#!/bin/sh\necho hi\n";
  try {
    shared_libraries(dir.path() / "text");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("not a 64-bit ELF executable"), std::string::npos) << e.what();
  }
}

TEST(LambdaPackage, TheLauncherMustBeStaticAndEveryInputMustExist) {
  TempDir dir("lambda-package");
  const fs::path pipeline = dir.path() / "pipeline.yaml";
  std::ofstream(pipeline) << "name: x\n";
  PackageOptions options{pipeline, dir.path() / "out.zip", kBinary, kBinary, false};  // a dynamic "bootstrap"
  try {
    write_package(options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("must be static"), std::string::npos) << e.what();
  }
  options.bootstrap = dir.path() / "missing";
  try {
    write_package(options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("sentiflow-bootstrap"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.path() / "out.zip"));
}

TEST(SamTemplate, TheFunctionTimeoutIsLambdaTimeoutElseASixthOfTheVisibility) {
  sentiflow::PipelineConfig c;
  c.queue.visibility_timeout = std::chrono::minutes(2);
  EXPECT_EQ(lambda_function_timeout(c), std::chrono::seconds(20));
  c.queue.visibility_timeout = std::chrono::hours(12);
  EXPECT_EQ(lambda_function_timeout(c), std::chrono::seconds(900)) << "Lambda's most";
  c.queue.visibility_timeout = std::chrono::seconds(3);
  EXPECT_EQ(lambda_function_timeout(c), std::chrono::seconds(1));
  c.lambda.timeout = std::chrono::seconds(45);
  EXPECT_EQ(lambda_function_timeout(c), std::chrono::seconds(45));
}

TEST(SamTemplate, TheProducersTimeoutIsLambdaTimeoutOnlyWhenTheFileSetsIt) {
  TempDir dir("sam-template");
  const auto load = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name) << text;
    return sentiflow::load_pipeline_or_throw(dir.path() / name);
  };
  const std::string base =
      "name: shop\nsource: {table: dynamodb://items, key: id, text: t}\n"
      "queue: {url: sqs://q, visibility_timeout: 30s}\nsink: {store: 's3://shop-results/p/'}\n";
  // The loader fills in the consumer's 30s / 6 = 5s; the producer is not held to it.
  const auto defaulted = load("a.yaml", base);
  EXPECT_EQ(lambda_function_timeout(defaulted), std::chrono::seconds(5));
  EXPECT_FALSE(defaulted.lambda.timeout_set);
  EXPECT_EQ(producer_function_timeout(defaulted), std::chrono::seconds(900));
  // Written in the file, even equal to the default, it is the user's word for both.
  const auto named = load("b.yaml", base + "lambda: {timeout: 5s}\n");
  EXPECT_TRUE(named.lambda.timeout_set);
  EXPECT_EQ(producer_function_timeout(named), std::chrono::seconds(5));
  EXPECT_FALSE(load("c.yaml", base + "lambda: {memory: 256}\n").lambda.timeout_set);
  // A config built without a file: a non-zero lambda.timeout counts as set.
  sentiflow::PipelineConfig bare;
  EXPECT_EQ(producer_function_timeout(bare), std::chrono::seconds(900));
  bare.lambda.timeout = std::chrono::seconds(45);
  EXPECT_EQ(producer_function_timeout(bare), std::chrono::seconds(45));
}

TEST(SamTemplate, TheFilesVariablesAreThoseOfItsValuesWithoutLambdasOwn) {
  TempDir dir("sam-template");
  const fs::path file = dir.path() / "p.yaml";
  std::ofstream(file) << "# ${IN_A_COMMENT} is not substituted\n"
                         "name: ${SF_TEST_NAME:-shop}\n"
                         "sink: {store: 's3://${SF_TEST_BUCKET}/$${LITERAL}/'}\n"
                         "aws: {region: '${AWS_REGION:-us-east-1}'}\n"
                         "list: [a, '${SF_TEST_EMPTY:-}', '${LAMBDA_TASK_ROOT}', '${_HANDLER}']\n";
  ::setenv("SF_TEST_BUCKET", "from-env", 1);
  ::unsetenv("SF_TEST_NAME");
  ::unsetenv("SF_TEST_EMPTY");
  const auto env = referenced_environment(file);
  ::unsetenv("SF_TEST_BUCKET");
  const std::map<std::string, std::string> expected = {
      {"SF_TEST_BUCKET", "from-env"}, {"SF_TEST_EMPTY", ""}, {"SF_TEST_NAME", "shop"}};
  EXPECT_EQ(env, expected);
  std::ofstream(dir.path() / "bad.yaml") << "name: [unclosed\n";
  EXPECT_THROW(referenced_environment(dir.path() / "bad.yaml"), Error);
}

}  // namespace
