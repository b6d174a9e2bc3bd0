// The fuzz targets without libFuzzer: `make test` links each target with this driver, so that
// the same targets run under the project's own compiler, in CI's time (docs/FUZZING.md).
//
//   <target>_replay [--seconds N] [--max-len N] [--seed N] [--rss-limit-mb N] CORPUS_DIR...
//
// It runs every file of the corpus folders once, then mutates them (bit flips, byte changes,
// inserted, deleted and repeated ranges, splices of two inputs, tokens taken from the corpus)
// until N seconds have passed, from a fixed seed so that a failure comes back on a rerun. An
// input that crashes or aborts the target is written to ./crash-<target>-<seed>-<n> first (from
// the signal handler), named on stderr, and the driver dies with the signal; a process whose
// memory grows past --rss-limit-mb fails with exit 1. Prints executions, inputs and peak memory.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// The input in flight, for the signal handler (which may only write() what is already there).
const uint8_t* g_input = nullptr;
size_t g_size = 0;
char g_crash_path[256] = "crash";

void on_fatal_signal(int signal) {
  const int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    size_t written = 0;
    while (written < g_size) {
      const ssize_t n = ::write(fd, g_input + written, g_size - written);
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    ::close(fd);
  }
  static const char kMessage[] = "replay: the target crashed; its input is in ";
  (void)!::write(2, kMessage, sizeof(kMessage) - 1);
  (void)!::write(2, g_crash_path, std::strlen(g_crash_path));
  (void)!::write(2, "\n", 1);
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

long peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmHWM:")) return std::strtol(line.c_str() + 6, nullptr, 10) / 1024;
  return 0;
}

using Input = std::vector<uint8_t>;

class Mutator {
 public:
  Mutator(uint64_t seed, size_t max_len) : random_(seed), max_len_(max_len) {}

  // A new input from `corpus`: one to four mutations of one of its inputs.
  Input next(const std::vector<Input>& corpus) {
    Input input = corpus[pick(corpus.size())];
    const size_t rounds = 1 + pick(4);
    for (size_t i = 0; i < rounds; ++i) mutate(input, corpus);
    if (input.size() > max_len_) input.resize(max_len_);
    return input;
  }

 private:
  size_t pick(size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(random_); }

  void mutate(Input& input, const std::vector<Input>& corpus) {
    static constexpr uint8_t kInteresting[] = {0,   1,    0x7f, 0x80, 0xff, '"', '\\', '{', '}', '[',  ']',  ',',
                                               ':', '\n', '\r', '\t', ' ',  '0', '-',  '.', 'e', 0xc3, 0xed, 0xf4};
    const size_t at = pick(input.size() + 1);
    switch (pick(7)) {
      case 0:  // flip a bit
        if (!input.empty()) input[pick(input.size())] ^= static_cast<uint8_t>(1u << pick(8));
        break;
      case 1:  // an interesting byte in place of one
        if (!input.empty()) input[pick(input.size())] = kInteresting[pick(sizeof(kInteresting))];
        break;
      case 2:  // insert a byte
        input.insert(input.begin() + static_cast<ptrdiff_t>(at), kInteresting[pick(sizeof(kInteresting))]);
        break;
      case 3:  // delete a range
        if (at < input.size())
          input.erase(input.begin() + static_cast<ptrdiff_t>(at),
                      input.begin() + static_cast<ptrdiff_t>(at + 1 + pick(std::min<size_t>(16, input.size() - at))));
        break;
      case 4: {  // repeat a range
        if (at >= input.size()) break;
        const size_t length = 1 + pick(std::min<size_t>(32, input.size() - at));
        const Input range(input.begin() + static_cast<ptrdiff_t>(at),
                          input.begin() + static_cast<ptrdiff_t>(at + length));
        input.insert(input.begin() + static_cast<ptrdiff_t>(at), range.begin(), range.end());
        break;
      }
      case 5: {  // a range of another input in place of the tail
        const Input& other = corpus[pick(corpus.size())];
        if (other.empty()) break;
        const size_t from = pick(other.size());
        input.resize(at);
        input.insert(input.end(), other.begin() + static_cast<ptrdiff_t>(from), other.end());
        break;
      }
      default: {  // a token (a run of letters, digits and _) of another input, inserted
        const Input& other = corpus[pick(corpus.size())];
        if (other.empty()) break;
        size_t begin = pick(other.size());
        size_t end = begin;
        while (end < other.size() && (std::isalnum(other[end]) || other[end] == '_')) ++end;
        input.insert(input.begin() + static_cast<ptrdiff_t>(at), other.begin() + static_cast<ptrdiff_t>(begin),
                     other.begin() + static_cast<ptrdiff_t>(end));
        break;
      }
    }
  }

  std::mt19937_64 random_;
  size_t max_len_;
};

void run_one(const Input& input) {
  g_input = input.data();
  g_size = input.size();
  LLVMFuzzerTestOneInput(input.data(), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  size_t max_len = 4096;
  uint64_t seed = 1;
  long rss_limit_mb = 1024;
  std::vector<std::filesystem::path> folders;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "replay: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (arg == "--seconds")
      seconds = std::stod(value());
    else if (arg == "--max-len")
      max_len = std::stoul(value());
    else if (arg == "--seed")
      seed = std::stoull(value());
    else if (arg == "--rss-limit-mb")
      rss_limit_mb = std::stol(value());
    else
      folders.emplace_back(arg);
  }
  const std::string target = std::filesystem::path(argv[0]).filename().string();
  for (const int signal : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) ::signal(signal, on_fatal_signal);

  std::vector<Input> corpus;
  for (const auto& folder : folders) {
    if (!std::filesystem::is_directory(folder)) {
      std::fprintf(stderr, "replay: %s is not a folder\n", folder.c_str());
      return 2;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(folder))
      if (entry.is_regular_file()) files.push_back(entry.path());
    std::sort(files.begin(), files.end());  // the same order on every machine: a seed reproduces
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  if (corpus.empty()) corpus.emplace_back();

  size_t executions = 0;
  std::snprintf(g_crash_path, sizeof(g_crash_path), "crash-%s-corpus", target.c_str());
  for (const auto& input : corpus) {
    run_one(input);
    ++executions;
  }
  const long rss_after_corpus = peak_rss_mb();

  Mutator mutator(seed, max_len);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    std::snprintf(g_crash_path, sizeof(g_crash_path), "crash-%s-%llu-%zu", target.c_str(),
                  static_cast<unsigned long long>(seed), executions);
    run_one(mutator.next(corpus));
    ++executions;
  }
  const long rss = peak_rss_mb();
  std::printf(
      "%s: %zu executions (%zu corpus inputs, then mutations of seed %llu for %.0f s); peak memory %ld MiB "
      "(%ld MiB after the corpus)\n",
      target.c_str(), executions, corpus.size(), static_cast<unsigned long long>(seed), seconds, rss, rss_after_corpus);
  if (rss > rss_limit_mb) {
    std::fprintf(stderr, "replay: peak memory %ld MiB is over the limit of %ld MiB\n", rss, rss_limit_mb);
    return 1;
  }
  return 0;
}
