// Runs the sentiflow binary as a user would, through the shell, and captures what it says:
// the exit status, stdout and stderr. For the CLI tests; run_shell does the same for any shell
// command (the AWS CLI of support/aws_cli.h). support/spawned.h starts a process without a shell.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace sentiflow::testing_support {

struct Outcome {
  int status = -1;  // the exit status; -1 when the process did not exit normally
  std::string out;
  std::string err;
};

struct RunOptions {
  std::filesystem::path cwd{};               // empty: the test's own working directory
  std::optional<std::string> input{};        // stdin; nullopt: inherited
  std::map<std::string, std::string> env{};  // set for the command (values without a ')
};

inline std::string read_whole_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `COMMAND 2>FILE` through /bin/sh (popen) and returns its exit status, its stdout and,
// read back from FILE (a temporary file removed before it returns), its stderr. COMMAND is
// shell text, quoted by the caller; the stderr redirection applies to its last simple command,
// as if the caller had written it. Outcome::status is -1 when the shell could not be started
// or the command did not exit normally.
inline Outcome run_shell(const std::string& command) {
  namespace fs = std::filesystem;
  static std::atomic<int> counter{0};
  const fs::path err_file = fs::temp_directory_path() / ("sentiflow-shell-" + std::to_string(::getpid()) + "-" +
                                                         std::to_string(counter++) + ".err");
  Outcome outcome;
  FILE* pipe = ::popen((command + " 2>'" + err_file.string() + "'").c_str(), "r");
  if (pipe == nullptr) return outcome;
  std::array<char, 65536> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) outcome.out.append(buffer.data(), n);
  const int raw = ::pclose(pipe);
  outcome.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  outcome.err = read_whole_file(err_file);
  std::error_code ec;
  fs::remove(err_file, ec);
  return outcome;
}

// Runs `sentiflow ARGS`; ARGS is shell text, quoted by the caller (pipes and redirections of
// stdout allowed).
inline Outcome run_sentiflow(const std::string& args, const RunOptions& options = {}) {
  namespace fs = std::filesystem;
  static std::atomic<int> counter{0};
  const fs::path in_file = fs::temp_directory_path() /
                           ("sentiflow-run-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".in");
  std::string command = std::string("'") + SENTIFLOW_BINARY + "' " + args;
  if (options.input) {
    std::ofstream(in_file, std::ios::binary) << *options.input;
    command += " <'" + in_file.string() + "'";
  }
  for (const auto& [name, value] : options.env) command = name + "='" + value + "' " + command;
  if (!options.cwd.empty()) command = "cd '" + options.cwd.string() + "' && " + command;
  Outcome outcome = run_shell(command);
  std::error_code ec;
  fs::remove(in_file, ec);
  return outcome;
}

}  // namespace sentiflow::testing_support
