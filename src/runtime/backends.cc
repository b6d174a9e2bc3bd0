#include "runtime/backends.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "queue/local_queue.h"
#include "sentiment/vader.h"
#include "store/file_store.h"
#include "table/local_table.h"

namespace sentiflow::runtime {
namespace {

[[noreturn]] void not_yet(std::string_view what) {
  throw invalid_input(fmt::format("{}: the AWS backends are not built yet; use the local backends (local://, a "
                                  "folder, engine: vader)",
                                  what));
}

std::unique_ptr<Queue> open_local_queue(const PipelineConfig& c, const std::string& name, bool with_dead_letter,
                                        QueueAccess access) {
  LocalQueueOptions o;
  o.file = LocalQueue::file_in(c.state_dir);
  if (access == QueueAccess::inspect) {
    const auto names = LocalQueue::list(o.file);
    if (std::find(names.begin(), names.end(), name) == names.end()) return nullptr;
  }
  o.name = name;
  o.visibility_timeout = c.queue.visibility_timeout;
  if (access == QueueAccess::work) o.retention = c.queue.retention;
  o.message_size_limit = c.queue.message_size_limit;
  if (with_dead_letter) o.dead_letter_queue = c.queue.dead_letter;
  o.max_receive_count = c.queue.max_receive_count;
  o.durability = c.queue.durability == Durability::full ? LocalQueueOptions::Durability::full
                                                        : LocalQueueOptions::Durability::normal;
  return std::make_unique<LocalQueue>(std::move(o));
}

}  // namespace

std::unique_ptr<Table> open_table(const PipelineConfig& config, bool create) {
  const TableLocation& t = config.source.table;
  if (t.backend != TableLocation::Backend::local) not_yet(t.uri);
  const auto file = LocalTable::file_in(config.state_dir, t.name);
  if (!create && !std::filesystem::exists(file))
    throw invalid_input(fmt::format("table {} does not exist ({})", t.uri, file.string()));
  return std::make_unique<LocalTable>(LocalTableOptions{file, t.name, KeySchema{config.source.key}});
}

std::unique_ptr<Queue> open_queue(const PipelineConfig& config, QueueAccess access) {
  if (config.queue.url.backend != QueueLocation::Backend::local) not_yet(config.queue.url.uri);
  return open_local_queue(config, config.queue.url.name, true, access);
}

std::unique_ptr<Queue> open_dead_letter_queue(const PipelineConfig& config, QueueAccess access) {
  if (config.queue.url.backend != QueueLocation::Backend::local) not_yet(config.queue.url.uri);
  return open_local_queue(config, config.queue.dead_letter, false, access);
}

SinkStore open_sink_store(const PipelineConfig& config, bool create) {
  const StoreLocation& s = config.sink.store;
  if (s.backend != StoreLocation::Backend::file) not_yet(s.uri);
  return SinkStore{std::make_unique<FileStore>(s.directory, create), ""};
}

std::unique_ptr<sentiment::Analyzer> make_analyzer(const PipelineConfig& config) {
  if (config.sentiment.engine != SentimentEngine::vader) not_yet("sentiment.engine: comprehend");
  sentiment::VaderAnalyzer::Options options;
  options.mixed_threshold = config.sentiment.mixed_threshold;
  return std::make_unique<sentiment::VaderAnalyzer>(options);
}

std::string queue_arn(const PipelineConfig& config) {
  return fmt::format("arn:aws:sqs:{}:000000000000:{}", queue_region(config), config.queue.url.name);
}

std::string queue_region(const PipelineConfig&) { return "local"; }

}  // namespace sentiflow::runtime
