#include "pipeline/sink.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "core/ids.h"
#include "core/secrets.h"
#include "observe/log.h"
#include "pipeline/retry.h"

namespace sentiflow::pipeline {
namespace {

// zlib counts in uInt (32 bits): larger inputs go in slices of this size.
constexpr size_t kZlibSlice = size_t{1} << 30;

uInt slice(size_t remaining) { return static_cast<uInt>(std::min(remaining, kZlibSlice)); }

// A run id becomes one key segment ("run=<run>"): it may not be empty or hold a '/'. The rest
// of the key rules (UTF-8, no NUL or backslash) are the store's to apply.
void check_run(std::string_view run) {
  if (run.empty()) throw Error(ErrorCode::internal, "sink: a run id may not be empty");
  if (run.find('/') != std::string_view::npos)
    throw Error(ErrorCode::internal, fmt::format("sink: run id '{}' holds a '/'", run));
}

// Makes an id part safe to join with '\n': the join of escaped parts is one-to-one, so two
// different sets of error records cannot share a name by way of keys with line breaks.
std::string escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// What names an error record's object (see put_errors): the message and its receive, or, for
// the producer's records (no message), the item's key with the code and reason, so that a
// resumed page writes the same object and two items without a key do not make one name.
std::string error_id(const ErrorRecord& record) {
  if (!record.message_id.empty()) return fmt::format("message {} {}", escaped(record.message_id), record.receive_count);
  return fmt::format("item {} {} {}", escaped(record.key), escaped(record.code), escaped(record.reason));
}

}  // namespace

Sink::Sink(ObjectStore& store, std::string prefix, SinkFormat format, Compression compression)
    : store_(store), prefix_(std::move(prefix)), format_(format), compression_(compression) {
  if (!prefix_.empty() && !prefix_.ends_with('/'))
    throw invalid_input(fmt::format("sink prefix '{}' must be empty or end in '/'", prefix_));
}

void Sink::check_writable(std::string_view where) {
  const std::string key = fmt::format("{}_sentiflow/probe-{}", prefix_, random_uuid());
  try {
    with_retries([&] { return store_.put(key, "sentiflow checks that it can write here\n", "text/plain"); });
  } catch (const Error& e) {
    throw invalid_input(fmt::format("the sink {} cannot be written: {}", where, e.what()));
  }
  try {
    store_.remove(key);
  } catch (const Error& e) {
    log::warn("could not remove the sink's probe object", {{"key", key}, {"error", e.what()}});
  }
}

std::string Sink::results_prefix(std::string_view run) const {
  check_run(run);
  return fmt::format("{}run={}/", prefix_, run);
}

std::string Sink::errors_prefix(std::string_view run) const {
  check_run(run);
  return fmt::format("{}_errors/run={}/", prefix_, run);
}

std::string Sink::put_results(std::string_view run, std::span<const std::string> message_ids,
                              std::span<const ResultRecord> records) {
  if (records.empty()) return "";
  std::string data;
  if (format_ == SinkFormat::csv) append_csv_header(data);
  for (const auto& record : records) {
    // A record of another run would sit in the wrong folder, and the reader dedupes per run.
    if (record.run != run)
      throw Error(ErrorCode::internal,
                  fmt::format("sink: a record of run '{}' among those of run '{}'", record.run, run));
    if (format_ == SinkFormat::csv)
      append_csv(data, record);
    else
      append_jsonl(data, record);
  }
  std::string key =
      results_prefix(run) + batch_object_name(message_ids) + (format_ == SinkFormat::csv ? ".csv" : ".jsonl");
  if (compression_ == Compression::gzip) {
    key += ".gz";
    data = gzip(data);
  }
  store_.put(key, data, guess_content_type(key));
  return key;
}

std::string Sink::put_errors(std::string_view run, std::span<const ErrorRecord> records) {
  if (records.empty()) return "";
  std::string data;
  std::vector<std::string> ids;
  ids.reserve(records.size());
  for (const auto& record : records) {
    if (record.run != run)
      throw Error(ErrorCode::internal,
                  fmt::format("sink: an error record of run '{}' among those of run '{}'", record.run, run));
    // A reason may quote a peer's answer or a URL: no secret of the environment is stored.
    ErrorRecord shown = record;
    shown.reason = redact_secrets(record.reason);
    append_jsonl(data, shown);
    ids.push_back(error_id(shown));
  }
  std::string key = errors_prefix(run) + batch_object_name(ids) + ".jsonl";
  if (compression_ == Compression::gzip) {
    key += ".gz";
    data = gzip(data);
  }
  store_.put(key, data, guess_content_type(key));
  return key;
}

std::string batch_object_name(std::span<const std::string> ids) {
  std::vector<std::string_view> sorted(ids.begin(), ids.end());
  std::sort(sorted.begin(), sorted.end());
  std::string joined;
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0) joined += '\n';
    joined += sorted[i];
  }
  return sha256_hex(joined).substr(0, 32);
}

std::string gzip(std::string_view data) {
  z_stream stream{};
  // 15 + 16 window bits: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw Error(ErrorCode::internal, "zlib could not start a gzip stream");
  const std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, &deflateEnd);
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  size_t in_done = 0;
  size_t out_done = 0;
  int result = Z_OK;
  while (result != Z_STREAM_END) {
    if (stream.avail_in == 0 && in_done < data.size()) {
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + in_done));
      stream.avail_in = slice(data.size() - in_done);
      in_done += stream.avail_in;
    }
    if (out_done == out.size()) out.resize(out.size() + out.size() / 2 + 64);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + out_done);
    stream.avail_out = slice(out.size() - out_done);
    const uInt offered = stream.avail_out;
    result = deflate(&stream, in_done == data.size() && stream.avail_in == 0 ? Z_FINISH : Z_NO_FLUSH);
    if (result != Z_OK && result != Z_STREAM_END && result != Z_BUF_ERROR)
      throw Error(ErrorCode::internal, fmt::format("zlib could not compress: {}", stream.msg ? stream.msg : "error"));
    out_done += offered - stream.avail_out;
  }
  out.resize(out_done);
  return out;
}

std::string gunzip(std::string_view data, size_t max_output) {
  const auto refuse = [](std::string_view why) {
    return invalid_input(fmt::format("not a whole gzip object: {}", why));
  };
  if (data.size() < 2 || static_cast<unsigned char>(data[0]) != 0x1f || static_cast<unsigned char>(data[1]) != 0x8b)
    throw refuse("it does not start with the gzip magic bytes");
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) throw Error(ErrorCode::internal, "zlib could not start a gunzip stream");
  const std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, &inflateEnd);
  // Room for one byte beyond the cap: output that reaches it is too large, output that ends
  // exactly at the cap is not.
  const size_t limit = max_output < SIZE_MAX ? max_output + 1 : max_output;
  const auto too_large = [&] {
    return invalid_input(fmt::format("a gzip object decompresses to more than {} bytes", max_output));
  };
  std::string out;
  out.resize(std::min(limit, std::max<size_t>(data.size() * 4, 4096)));
  size_t in_done = 0;
  size_t out_done = 0;
  for (;;) {
    if (stream.avail_in == 0 && in_done < data.size()) {
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + in_done));
      stream.avail_in = slice(data.size() - in_done);
      in_done += stream.avail_in;
    }
    if (out_done == out.size()) {
      // Grow by half again, up to the cap: a small object that inflates without end (a
      // "zip bomb") stops there instead of taking the memory.
      if (out.size() >= limit) throw too_large();
      out.resize(std::min(limit, out.size() + out.size() / 2));
    }
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + out_done);
    stream.avail_out = slice(out.size() - out_done);
    const uInt offered = stream.avail_out;
    const int result = inflate(&stream, Z_NO_FLUSH);
    out_done += offered - stream.avail_out;
    if (out_done > max_output) throw too_large();
    if (result == Z_STREAM_END) {
      // One member done. What follows must be another member (gzip files may be
      // concatenated, as `cat a.gz b.gz` makes them), never anything else.
      const size_t rest = stream.avail_in + (data.size() - in_done);
      if (rest == 0) break;
      const size_t at = data.size() - rest;
      if (rest < 2 || static_cast<unsigned char>(data[at]) != 0x1f || static_cast<unsigned char>(data[at + 1]) != 0x8b)
        throw refuse(fmt::format("{} bytes that are not gzip follow its end", rest));
      if (inflateReset(&stream) != Z_OK) throw Error(ErrorCode::internal, "zlib could not reset a gunzip stream");
      continue;
    }
    if (result == Z_BUF_ERROR && stream.avail_in == 0 && in_done == data.size()) throw refuse("it is cut short");
    if (result == Z_DATA_ERROR || result == Z_NEED_DICT)
      throw refuse(stream.msg != nullptr ? stream.msg : "corrupt data");
    if (result != Z_OK && result != Z_BUF_ERROR)
      throw Error(ErrorCode::internal, fmt::format("zlib could not decompress: {}", stream.msg ? stream.msg : "error"));
  }
  out.resize(out_done);
  return out;
}

}  // namespace sentiflow::pipeline
