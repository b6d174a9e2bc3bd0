#include "sentiment/line_streamer.h"

#include <fmt/format.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"

namespace sentiflow::sentiment {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

// A run of whole input lines and, once analysed, their output.
struct Chunk {
  size_t sequence = 0;
  size_t first_line = 1;  // the 1-based number of lines[0]
  std::string data;       // the lines' bytes
  std::vector<std::string_view> lines;
  std::vector<Result> results;
  std::string out;
  size_t failed = 0;  // lines that could not be analysed
};

class LineReader {
 public:
  explicit LineReader(std::FILE* in) : in_(in) {}

  // Fills `chunk` with the next whole lines (about kChunkBytes; more for a longer line).
  // Returns false at the end of the input.
  bool next(Chunk& chunk) {
    chunk.data.swap(carry_);  // the unfinished last line of the previous read, if any
    carry_.clear();
    chunk.lines.clear();
    size_t cut = std::string::npos;
    while (!eof_) {
      const size_t old = chunk.data.size();
      chunk.data.resize(old + kChunkBytes);
      const size_t got = std::fread(chunk.data.data() + old, 1, kChunkBytes, in_);
      chunk.data.resize(old + got);
      if (got < kChunkBytes) {
        if (std::ferror(in_))
          throw Error(ErrorCode::internal, fmt::format("reading the input: {}", std::strerror(errno)));
        eof_ = true;
      }
      // The carried bytes hold no '\n', so the last one found is in what was just read; a line
      // longer than a chunk simply makes this chunk bigger.
      const size_t last = chunk.data.rfind('\n');
      if (last != std::string::npos) {
        cut = last + 1;
        break;
      }
    }
    if (cut == std::string::npos) cut = chunk.data.size();  // the end: the last line may lack '\n'
    if (cut < chunk.data.size()) carry_.assign(chunk.data, cut, std::string::npos);
    chunk.data.resize(cut);
    split(chunk);
    chunk.first_line = next_line_;
    next_line_ += chunk.lines.size();
    return !chunk.lines.empty();
  }

 private:
  static void split(Chunk& chunk) {
    std::string_view rest = chunk.data;
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF input
      chunk.lines.push_back(line);
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
  }

  std::FILE* in_;
  std::string carry_;
  bool eof_ = false;
  size_t next_line_ = 1;
};

void write(std::FILE* out, std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), out) != bytes.size())
    throw Error(ErrorCode::internal, fmt::format("writing the results: {}", std::strerror(errno)));
}

void process(const Analyzer& analyzer, const LineStreamer::Formatter& format, Chunk& chunk) {
  chunk.results.resize(chunk.lines.size());
  analyzer.analyze(chunk.lines, chunk.results);
  chunk.out.clear();
  chunk.failed = 0;
  for (size_t i = 0; i < chunk.lines.size(); ++i) {
    format(chunk.out, chunk.first_line + i, chunk.lines[i], chunk.results[i]);
    chunk.failed += !chunk.results[i].ok();
  }
}

size_t run_parallel(const Analyzer& analyzer, const LineStreamer::Formatter& format, LineReader& reader, std::FILE* out,
                    size_t threads) {
  // Two chunks per worker keep every worker busy while the writer prints; no more are ever
  // allocated, which bounds memory.
  std::vector<std::unique_ptr<Chunk>> pool;
  for (size_t i = 0; i < 2 * threads + 1; ++i) pool.push_back(std::make_unique<Chunk>());
  std::deque<Chunk*> free_chunks, work;
  for (auto& c : pool) free_chunks.push_back(c.get());
  std::map<size_t, Chunk*> done;
  std::mutex mutex;
  std::condition_variable changed;
  bool input_done = false, failed_hard = false;
  size_t produced = 0, failed_lines = 0;
  std::exception_ptr error;

  const auto fail = [&](std::exception_ptr e) {
    std::lock_guard lock(mutex);
    if (!error) error = e;
    failed_hard = true;
    changed.notify_all();
  };
  std::vector<std::thread> workers;
  for (size_t i = 0; i < threads; ++i) {
    workers.emplace_back([&] {
      try {
        while (true) {
          Chunk* chunk = nullptr;
          {
            std::unique_lock lock(mutex);
            changed.wait(lock, [&] { return !work.empty() || input_done || failed_hard; });
            if (failed_hard || work.empty()) return;
            chunk = work.front();
            work.pop_front();
          }
          process(analyzer, format, *chunk);
          std::lock_guard lock(mutex);
          done[chunk->sequence] = chunk;
          changed.notify_all();
        }
      } catch (...) {
        fail(std::current_exception());
      }
    });
  }
  std::thread writer([&] {
    try {
      for (size_t next = 0;; ++next) {
        Chunk* chunk = nullptr;
        {
          std::unique_lock lock(mutex);
          changed.wait(lock, [&] { return done.count(next) != 0 || (input_done && next == produced) || failed_hard; });
          if (failed_hard || done.count(next) == 0) return;
          chunk = done[next];
          done.erase(next);
        }
        write(out, chunk->out);
        std::lock_guard lock(mutex);
        failed_lines += chunk->failed;
        free_chunks.push_back(chunk);
        changed.notify_all();
      }
    } catch (...) {
      fail(std::current_exception());
    }
  });

  try {
    while (true) {
      Chunk* chunk = nullptr;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return !free_chunks.empty() || failed_hard; });
        if (failed_hard) break;
        chunk = free_chunks.front();
        free_chunks.pop_front();
      }
      const bool more = reader.next(*chunk);
      std::lock_guard lock(mutex);
      if (!more) {
        free_chunks.push_back(chunk);
        break;
      }
      chunk->sequence = produced++;
      work.push_back(chunk);
      changed.notify_all();
    }
  } catch (...) {
    fail(std::current_exception());
  }
  {
    std::lock_guard lock(mutex);
    input_done = true;
    changed.notify_all();
  }
  for (auto& w : workers) w.join();
  writer.join();
  if (error) std::rethrow_exception(error);
  return failed_lines;
}

}  // namespace

LineStreamer::LineStreamer(const Analyzer& analyzer, Formatter format)
    : analyzer_(analyzer), format_(std::move(format)) {}

size_t LineStreamer::run(std::FILE* in, std::FILE* out, int threads) const {
  LineReader reader(in);
  if (threads <= 1) {
    Chunk chunk;
    size_t failed = 0;
    while (reader.next(chunk)) {
      process(analyzer_, format_, chunk);
      write(out, chunk.out);
      failed += chunk.failed;
    }
    return failed;
  }
  return run_parallel(analyzer_, format_, reader, out, static_cast<size_t>(threads));
}

}  // namespace sentiflow::sentiment
