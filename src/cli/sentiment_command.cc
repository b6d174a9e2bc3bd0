// `sentiflow sentiment`: the sentiment of one text, or of every line of a file or of stdin.
//
// Lines stream through in chunks of about a megabyte: the main thread reads, N workers analyse
// (sharing one immutable analyzer) and a writer prints chunks in input order, with a fixed
// number of chunks in flight, so memory stays constant however long the input is. With one
// thread everything happens on the main thread, with no locking at all.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

#include "aws/client.h"
#include "cli/commands.h"
#include "core/error.h"
#include "observe/log.h"
#include "sentiment/comprehend.h"
#include "sentiment/format.h"
#include "sentiment/vader.h"

namespace sentiflow::cli {
namespace {

using sentiment::Result;

constexpr size_t kChunkBytes = 1 << 20;

enum class Format { jsonl, tsv };

struct Options {
  std::string text;
  bool has_text = false;
  std::string file;
  std::string format = "jsonl";
  int threads = 1;
  std::string engine = "vader";
  std::string language = "en";  // comprehend
  double mixed_threshold = sentiment::kDefaultMixedThreshold;
  bool echo = false;
  std::string lexicon;
  std::string emoji_lexicon;
};

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

// Appends `text` to a TSV field: backslash, tab and carriage return escaped as \\, \t and \r.
void append_tsv_text(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else out.push_back(c);
  }
}

void append_number(std::string& out, size_t n) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

constexpr std::string_view kTsvHeader = "line\tsentiment\tpositive\tnegative\tneutral\tmixed\tneg\tneu\tpos\tcompound\terror";

// One output line per document; `line` 0 means "a single text, no line number".
void format_result(std::string& out, Format format, bool echo, size_t line, std::string_view text, const Result& r) {
  if (format == Format::jsonl) {
    out.push_back('{');
    if (line != 0) {
      out += "\"line\":";
      append_number(out, line);
      out.push_back(',');
    }
    if (!r.ok()) {
      out += "\"error\":";
      sentiment::append_json_string(out, r.error->what());
      out += "}\n";
      return;
    }
    if (echo) {
      out += "\"text\":";
      sentiment::append_json_string(out, text);
      out.push_back(',');
    }
    sentiment::append_json_fields(out, r.sentiment);
    out += "}\n";
    return;
  }
  append_number(out, line == 0 ? 1 : line);
  out.push_back('\t');
  if (!r.ok()) {
    out += "ERROR\t\t\t\t\t\t\t\t\t";
    append_tsv_text(out, r.error->what());
  } else {
    const auto& s = r.sentiment;
    out += sentiment::to_string(s.label);
    for (const double x : {s.scores.positive, s.scores.negative, s.scores.neutral, s.scores.mixed}) {
      out.push_back('\t');
      sentiment::append_decimal(out, x);
    }
    for (const double x : {s.vader ? s.vader->neg : 0, s.vader ? s.vader->neu : 0, s.vader ? s.vader->pos : 0,
                           s.vader ? s.vader->compound : 0}) {
      out.push_back('\t');
      if (s.vader) sentiment::append_decimal(out, x);  // empty for engines without VADER numbers
    }
    out.push_back('\t');
  }
  if (echo) {
    out.push_back('\t');
    if (r.ok()) append_tsv_text(out, text);
  }
  out.push_back('\n');
}

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
        if (std::ferror(in_)) throw Error(ErrorCode::internal, fmt::format("reading the input: {}", std::strerror(errno)));
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

class Streamer {
 public:
  Streamer(const sentiment::Analyzer& analyzer, Format format, bool echo)
      : analyzer_(analyzer), format_(format), echo_(echo) {}

  // Analyses every line of `in`, writes the results to `out` in order; returns the number of
  // lines that could not be analysed.
  size_t run(std::FILE* in, std::FILE* out, int threads) {
    if (format_ == Format::tsv) write(out, fmt::format("{}{}\n", kTsvHeader, echo_ ? "\ttext" : ""));
    LineReader reader(in);
    if (threads <= 1) {
      Chunk chunk;
      size_t failed = 0;
      while (reader.next(chunk)) {
        process(chunk);
        write(out, chunk.out);
        failed += chunk.failed;
      }
      return failed;
    }
    return run_parallel(reader, out, static_cast<size_t>(threads));
  }

 private:
  void process(Chunk& chunk) const {
    chunk.results.resize(chunk.lines.size());
    analyzer_.analyze(chunk.lines, chunk.results);
    chunk.out.clear();
    chunk.failed = 0;
    for (size_t i = 0; i < chunk.lines.size(); ++i) {
      format_result(chunk.out, format_, echo_, chunk.first_line + i, chunk.lines[i], chunk.results[i]);
      chunk.failed += !chunk.results[i].ok();
    }
  }

  static void write(std::FILE* out, std::string_view bytes) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), out) != bytes.size())
      throw Error(ErrorCode::internal, fmt::format("writing the results: {}", std::strerror(errno)));
  }

  size_t run_parallel(LineReader& reader, std::FILE* out, size_t threads) {
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
            process(*chunk);
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

  const sentiment::Analyzer& analyzer_;
  Format format_;
  bool echo_;
};

std::unique_ptr<sentiment::Analyzer> make_analyzer(const Options& o) {
  if (o.engine == "comprehend") {
    // The standard AWS settings from the environment and shared files (docs/AWS.md).
    sentiment::ComprehendAnalyzer::Options comprehend;
    comprehend.language = o.language;
    return std::make_unique<sentiment::ComprehendAnalyzer>(
        std::make_shared<const aws::AwsClient>(aws::AwsClient::from_settings(aws::kComprehend, aws::AwsSettings{})),
        comprehend);
  }
  if (o.engine != "vader") throw invalid_input(fmt::format("unknown engine '{}': use vader or comprehend", o.engine));
  sentiment::VaderAnalyzer::Options vader;
  vader.mixed_threshold = o.mixed_threshold;
  vader.lexicon_file = o.lexicon;
  vader.emoji_lexicon_file = o.emoji_lexicon;
  return std::make_unique<sentiment::VaderAnalyzer>(vader);
}

int run_sentiment(const Options& o) {
  if (o.has_text && !o.file.empty()) throw invalid_input("give either TEXT or --file, not both");
  const Format format = o.format == "tsv" ? Format::tsv : Format::jsonl;
  const auto analyzer = make_analyzer(o);

  if (o.has_text) {
    const Result r = analyzer->analyze(o.text);
    if (!r.ok()) throw invalid_input(fmt::format("TEXT: {}", r.error->what()));
    std::string out;
    if (format == Format::tsv) out = fmt::format("{}{}\n", kTsvHeader, o.echo ? "\ttext" : "");
    format_result(out, format, o.echo, 0, o.text, r);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return 0;
  }

  std::FILE* in = stdin;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, &std::fclose);
  if (!o.file.empty() && o.file != "-") {
    file.reset(std::fopen(o.file.c_str(), "rb"));
    if (!file) throw invalid_input(fmt::format("cannot read '{}': {}", o.file, std::strerror(errno)));
    in = file.get();
  } else if (::isatty(STDIN_FILENO)) {
    log::info("reading documents from the terminal, one a line; end with Ctrl-D");
  }
  const int threads = o.threads == 0 ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) : o.threads;
  Streamer streamer(*analyzer, format, o.echo);
  const size_t failed = streamer.run(in, stdout, threads);
  if (std::fflush(stdout) != 0)
    throw Error(ErrorCode::internal, fmt::format("writing the results: {}", std::strerror(errno)));
  if (failed > 0) {
    log::warn("some lines could not be analysed; their results are error records",
              {{"failed_lines", failed}});
    return 2;
  }
  return 0;
}

}  // namespace

void add_sentiment_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("sentiment", "The sentiment of a text, or of each line of a file or stdin");
  auto options = std::make_shared<Options>();
  auto* text = cmd->add_option("TEXT", options->text, "A text to analyse; without it (and without --file) stdin is read");
  cmd->add_option("--file", options->file, "Analyse each line of this file (- for stdin)");
  cmd->add_option("--format", options->format, "jsonl (one JSON object a line) or tsv (with a header line)")
      ->check(CLI::IsMember({"jsonl", "tsv"}))
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "Worker threads for files and stdin; 0 = one per core")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  cmd->add_option("--engine", options->engine,
                  "vader, or comprehend (Amazon Comprehend; region, credentials and endpoint from the standard AWS "
                  "settings: AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_COMPREHEND...)")
      ->capture_default_str();
  cmd->add_option("--language", options->language, "comprehend: the documents' language code")->capture_default_str();
  cmd->add_option("--mixed-threshold", options->mixed_threshold,
                  "MIXED when VADER's pos and neg are both at least this (0 < x <= 1)")
      ->capture_default_str();
  cmd->add_flag("--echo", options->echo, "Include each document's text in its result");
  cmd->add_option("--lexicon", options->lexicon, "A vader_lexicon.txt to use instead of the built-in one");
  cmd->add_option("--emoji-lexicon", options->emoji_lexicon,
                  "An emoji_utf8_lexicon.txt to use instead of the built-in one");
  cmd->footer(
      "One document per input line (a trailing CR is dropped); one result per line, in input order:\n"
      "  {\"line\":N,\"sentiment\":\"POSITIVE|NEGATIVE|NEUTRAL|MIXED\",\"scores\":{\"Positive\",\"Negative\",\"Neutral\","
      "\"Mixed\"},\"vader\":{\"neg\",\"neu\",\"pos\",\"compound\"}}\n"
      "A line that is not UTF-8 gives {\"line\":N,\"error\":\"...\"}; the others go on and the exit status is 2.\n"
      "TSV columns: line, sentiment, positive, negative, neutral, mixed, neg, neu, pos, compound, error[, text].");
  cmd->callback([options, text, &status] {
    options->has_text = text->count() > 0;
    status = run_sentiment(*options);
  });
}

}  // namespace sentiflow::cli
