// The environment of a test process: ScopedEnv for variables set for one test and put back
// after it, and hide_aws_settings to take the standard AWS settings away from the processes a
// test starts, so that a command on an AWS URI fails early ("no AWS region is set") instead of
// reaching for the network, whatever the machine's environment or ~/.aws holds.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sentiflow::testing_support {

// AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE for a test: files that never exist, so that
// no profile of the machine's ~/.aws is read.
inline constexpr const char* kNoAwsConfigFile = "/nonexistent/sentiflow-test-aws-config";
inline constexpr const char* kNoAwsCredentialsFile = "/nonexistent/sentiflow-test-aws-credentials";

// Environment variables set or unset for one test and put back as they were when this ends
// (in reverse order, so a variable changed twice gets its first value back), so that the later
// tests of the binary (run in one process outside ctest) see none of them. Not thread-safe, as
// the environment is not: change it while no other thread reads it.
class ScopedEnv {
 public:
  ScopedEnv() = default;
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() { restore(); }

  void set(const std::string& name, const std::string& value) {
    save(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    save(name);
    ::unsetenv(name.c_str());
  }
  // Puts back every variable changed so far, in reverse order; later changes are saved anew.
  void restore() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
    saved_.clear();
  }

 private:
  void save(const std::string& name) {
    const char* old = std::getenv(name.c_str());
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

inline void hide_aws_settings() {
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"}) ::unsetenv(name);
  ::setenv("AWS_CONFIG_FILE", kNoAwsConfigFile, 1);
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", kNoAwsCredentialsFile, 1);
  ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

}  // namespace sentiflow::testing_support
