// LineStreamer: every line of a file through an analyzer, in parallel, the results written in
// input order (`sentiflow sentiment --file`, and its benchmark).
//
// Lines stream through in chunks of about a megabyte: the calling thread reads, N workers
// analyse (sharing the one analyzer, which is safe to share) and a writer prints chunks in
// input order, with 2N + 1 chunks in all, so memory stays constant however long the input is.
// With one thread everything happens on the calling thread, with no locking at all. A line
// is what lies between two '\n' (a trailing '\r' is dropped; the last line may lack its '\n').
//
// One run() at a time per streamer; the formatter is called from the worker threads, on
// different chunks at once.
#pragma once

#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "sentiment/analyzer.h"

namespace sentiflow::sentiment {

class LineStreamer {
 public:
  // Appends the output of line number `line` (1-based), whose text is `text`, to `out`.
  using Formatter = std::function<void(std::string& out, size_t line, std::string_view text, const Result& result)>;

  // The analyzer must outlive the streamer.
  LineStreamer(const Analyzer& analyzer, Formatter format);

  // Analyses every line of `in` with `threads` workers (1: none), writes each line's output to
  // `out` in input order; returns the number of lines whose result is an error. Throws
  // Error(internal) when `in` cannot be read or `out` written, and what the formatter throws;
  // output written before stays written.
  size_t run(std::FILE* in, std::FILE* out, int threads) const;

 private:
  const Analyzer& analyzer_;
  const Formatter format_;
};

}  // namespace sentiflow::sentiment
