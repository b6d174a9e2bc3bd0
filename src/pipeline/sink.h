// Sink: writes result records and error records to an object store (DESIGN.md, "Sink and
// results").
//
// Layout under the sink's prefix (the empty prefix for a directory store, "PREFIX/" on S3):
//   run=<run>/<32 hex>.jsonl[.gz] | .csv[.gz]      a batch's results, one object per batch
//   _errors/run=<run>/<32 hex>.jsonl[.gz]          error records, one object per call
//   _sentiflow/probe-<uuid>                         check_writable's object, removed at once
// The 32 hex digits are the first half of the SHA-256 of the sorted ids that made the object
// (message ids for results; see put_errors), so a replayed batch overwrites its own object
// instead of adding a second one. Gzip objects are whole gzip files (zlib, level 6).
//
// A Sink holds no state of its own beyond its settings: safe to share between threads when the
// store is (every ObjectStore is).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "config/pipeline_config.h"
#include "pipeline/records.h"
#include "store/object_store.h"

namespace sentiflow::pipeline {

class Sink {
 public:
  // `prefix` is "" or ends in '/' (else Error(invalid_input)). The store must outlive the sink.
  Sink(ObjectStore& store, std::string prefix, SinkFormat format, Compression compression);

  // Stores `records` (all of run `run`, made from the messages `message_ids`) as one object and
  // returns its key; writes nothing and returns "" for no records. Throws what the store
  // throws (transient errors are the caller's to retry).
  std::string put_results(std::string_view run, std::span<const std::string> message_ids,
                          std::span<const ResultRecord> records);

  // Stores error records of run `run` as one object and returns its key ("" for none). The
  // object's name is made from each record's message_id and receive_count (for the producer's
  // records, which have no message: its key, code and reason), so that the same failures
  // written twice make the same object and a later receive's failures a new one. Error objects
  // are JSON Lines whatever the sink format (gzipped with Compression::gzip).
  //
  // Both puts throw Error(internal) for a record of another run than `run`, or a run id that
  // is empty or holds a '/' (it becomes one key segment).
  std::string put_errors(std::string_view run, std::span<const ErrorRecord> records);

  // Writes and removes a small object under `_sentiflow/` (which the results reader never
  // reads), with retries: so that a runner finds a sink it cannot write (a folder it may not
  // write, a read-only or full disk, a missing bucket, no permission) before it takes a message.
  // Throws Error(invalid_input) naming `where` (the sink's URI) and the store's reason. A probe
  // object that cannot be removed is left (logged), not an error.
  void check_writable(std::string_view where);

  // The folder of a run's results and of its error records, with the trailing '/'.
  std::string results_prefix(std::string_view run) const;
  std::string errors_prefix(std::string_view run) const;

 private:
  ObjectStore& store_;
  std::string prefix_;
  SinkFormat format_;
  Compression compression_;
};

// The first 32 hex digits of the SHA-256 of `ids` sorted and joined by '\n'.
std::string batch_object_name(std::span<const std::string> ids);

// gzip (RFC 1952) compression and decompression of a whole object. gunzip reads concatenated
// members (as `cat a.gz b.gz` makes) and throws Error(invalid_input) for data that is not
// gzip, is cut short, has anything but another member after a member, or would decompress to
// more than `max_output` bytes (a small object must not take the reader's memory).
inline constexpr size_t kMaxGunzipBytes = size_t{1} << 30;
std::string gzip(std::string_view data);
std::string gunzip(std::string_view data, size_t max_output = kMaxGunzipBytes);

}  // namespace sentiflow::pipeline
