// The consumer as the local runner assembles it — VADER, a Sink of JSON Lines over a FileStore
// in a temporary folder — for the targets that push messages and events through it, and a
// look at what it stored. One per process (the targets keep it in a static); not thread-safe.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "pipeline/consumer.h"
#include "pipeline/message.h"
#include "pipeline/results.h"
#include "pipeline/sink.h"
#include "sentiment/vader.h"
#include "store/file_store.h"
#include "support/temp_dir.h"

namespace sentiflow::fuzz {

inline constexpr const char* kRun = "2026-12-07T06:00:00Z";

class ConsumerFixture {
 public:
  ConsumerFixture()
      : store_(dir_.path() / "out", true, false),
        sink_(store_, "results/", SinkFormat::jsonl, Compression::none),
        consumer_(pipeline::ConsumerOptions{.text_attribute = "text", .max_receive_count = 3}, analyzer_, sink_,
                  nullptr) {}

  const pipeline::Consumer& consumer() const { return consumer_; }

  // A record of the event as the local runner makes it from a received message.
  static pipeline::SqsEventRecord record(std::string id, std::string body) {
    pipeline::SqsEventRecord record;
    record.message_id = id;
    record.receipt_handle = "receipt-" + id;
    record.body = std::move(body);
    record.receive_count = 1;
    record.event_source_arn = "arn:aws:sqs:local:000000000000:fuzz";
    record.aws_region = "local";
    return record;
  }

  // The body the producer sends for a good item `key`.
  static std::string good_body(const std::string& key) {
    return pipeline::encode_message(kRun, key, "{\"id\":\"" + key + "\",\"text\":\"a good and happy day\"}");
  }

  // The keys of run kRun stored so far (throws the reader's Errors: none are expected).
  std::set<std::string> stored_keys() {
    std::set<std::string> keys;
    pipeline::ResultsReader reader(store_, "results/");
    reader.for_each_result(std::string(kRun), [&](const pipeline::ResultRecord& r) { keys.insert(r.key); });
    return keys;
  }

  // Removes every stored object, so that an input sees an empty sink and the folder stays small.
  void clear() {
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path() / "out"))
      std::filesystem::remove_all(entry.path());
  }

 private:
  testing_support::TempDir dir_{"fuzz"};
  sentiment::VaderAnalyzer analyzer_;
  FileStore store_;
  pipeline::Sink sink_;
  pipeline::Consumer consumer_;
};

}  // namespace sentiflow::fuzz
