// A child process started directly with posix_spawn (no shell, so a signal reaches the program
// itself), for the tests that run the binary as a user, a scheduler or Lambda would:
//
//   Spawned child(SENTIFLOW_BINARY, {"run", "p.yaml"}, {.cwd = dir, .err = dir / "run.err"});
//   child.signal(SIGTERM);
//   ASSERT_TRUE(child.wait_for_end(seconds(30))) << child.err();
//   EXPECT_EQ(child.exit_code(), 0);
//
// stdin is /dev/null; stdout and stderr go to files (a temporary file of its own, removed by the
// destructor, where SpawnOptions names none). The environment is this process's at the moment
// of the start, less the variables named in `unset`, with `env` set over it. The destructor
// kills (SIGKILL) and reaps the child when it still runs, so that no test leaves a process.
// Header-only; one object is used by one thread.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/poll.h"
#include "support/run_binary.h"

extern char** environ;

namespace sentiflow::testing_support {

struct SpawnOptions {
  std::map<std::string, std::string> env{};  // set in the child, over any inherited value
  std::vector<std::string> unset{};          // inherited variables the child does not get
  std::filesystem::path cwd{};               // the child's working directory; empty: this one's
  std::filesystem::path out{};               // stdout ("/dev/null" allowed); empty: a temporary file
  std::filesystem::path err{};               // stderr, likewise
};

class Spawned {
 public:
  // Starts `program ARGS…` (program is a path, not looked up on PATH; it is also argv[0]).
  // Relative out and err paths are opened from this process's directory, before the child's
  // chdir to options.cwd. Throws std::runtime_error when it cannot be started.
  Spawned(const std::string& program, const std::vector<std::string>& args, const SpawnOptions& options = {})
      : out_(options.out), err_(options.err) {
    static std::atomic<int> counter{0};
    const std::string stem = "sentiflow-child-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    if (out_.empty()) out_ = owned_out_ = std::filesystem::temp_directory_path() / (stem + ".out");
    if (err_.empty()) err_ = owned_err_ = std::filesystem::temp_directory_path() / (stem + ".err");

    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      const std::string name = entry.substr(0, entry.find('='));
      bool drop = options.env.count(name) > 0;
      for (const auto& u : options.unset) drop = drop || u == name;
      if (!drop) env_strings.push_back(entry);
    }
    for (const auto& [name, value] : options.env) env_strings.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings{program};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
    const int rc = ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + program);
  }
  ~Spawned() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap(true);
    }
    std::error_code ec;
    if (!owned_out_.empty()) std::filesystem::remove(owned_out_, ec);
    if (!owned_err_.empty()) std::filesystem::remove(owned_err_, ec);
  }
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;

  pid_t pid() const { return pid_; }  // -1 once it has ended (and been reaped)

  // Sends `sig`; nothing once the child has been reaped (its pid may belong to another process).
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // Whether the child has ended, reaping it if so (never blocks).
  bool ended() { return pid_ <= 0 || reap(false); }
  bool running() { return !ended(); }

  // Waits up to `limit` for the end; returns whether it came.
  bool wait_for_end(std::chrono::steady_clock::duration limit) {
    return poll_until([this] { return ended(); }, limit, std::chrono::milliseconds(10));
  }

  // The exit code once it ends within `limit` (-1 when a signal ended it), or nullopt while it
  // still runs.
  std::optional<int> wait_exit(std::chrono::steady_clock::duration limit = std::chrono::seconds(30)) {
    if (!wait_for_end(limit)) return std::nullopt;
    return exit_code();
  }

  // The raw wait status (WIFEXITED…) once ended; 0 before.
  int status() const { return status_; }
  // The exit code, or -1 when the process did not exit normally (a signal) or still runs.
  int exit_code() const { return pid_ <= 0 && WIFEXITED(status_) ? WEXITSTATUS(status_) : -1; }
  bool killed_by(int sig) const { return pid_ <= 0 && WIFSIGNALED(status_) && WTERMSIG(status_) == sig; }

  // What it wrote so far.
  std::string out() const { return read_whole_file(out_); }
  std::string err() const { return read_whole_file(err_); }

 private:
  // waitpid; false while it runs (non-blocking). An error other than EINTR (no such child)
  // counts as ended: there is nothing left to wait for.
  bool reap(bool block) {
    int status = 0;
    pid_t r = 0;
    do r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) return false;
    status_ = status;
    pid_ = -1;
    return true;
  }

  pid_t pid_ = -1;
  int status_ = 0;
  std::filesystem::path out_;
  std::filesystem::path err_;
  std::filesystem::path owned_out_;  // removed by the destructor
  std::filesystem::path owned_err_;
};

}  // namespace sentiflow::testing_support
