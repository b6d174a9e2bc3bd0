// `sentiflow queue stats|send|receive|delete|purge|redrive`: inspect and repair a pipeline's
// queue (docs/EMBEDDED.md, "Command line").
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>

#include "cli/commands.h"
#include "config/loader.h"
#include "config/values.h"
#include "core/error.h"
#include "core/time.h"
#include "assembly/backends.h"

namespace sentiflow::cli {
namespace {

using std::chrono::milliseconds;

// Retention is an attribute of the queue, stored in the queue file (assembly::LocalQueueSpec::retention).
// These commands inspect and repair: they open queues with no retention (nullopt), so that they
// never change the stored one. Only a `send` that creates the pipeline's queue gives it the
// pipeline's retention.

// Where the queue is: the pipeline's queue (and its dead-letter queue), or a queue by name in
// a state directory.
struct QueueTarget {
  std::string pipeline;
  std::string state_dir;
  std::string queue;        // --queue: a queue other than the pipeline's
  std::string dead_letter;  // --dead-letter (with --state-dir)
};

void add_target_options(CLI::App* cmd, QueueTarget& t) {
  cmd->add_option("--pipeline", t.pipeline, "The pipeline file: its state_dir, queue and dead-letter queue");
  cmd->add_option("--state-dir", t.state_dir, "A state directory, without a pipeline file (needs --queue)");
  cmd->add_option("--queue", t.queue, "The queue's name (default: the pipeline's queue)");
}

struct ResolvedQueue {
  assembly::LocalQueueSpec options;
  std::string dead_letter;  // the pipeline's (or --dead-letter's) dead-letter queue name
  std::string state_dir;    // for messages
  bool from_pipeline = false;
};

// Opening a local queue creates the queue (and its dead-letter queue): every command but
// `send` first checks that the queue exists, so that a mistyped name is an error instead of
// a new, empty queue in the user's state. A queue the user named that does not exist is
// invalid input (exit status 2).
void require_queue(const std::string& state_dir, const std::string& name) {
  const auto names = assembly::local_queue_names(state_dir);
  if (std::find(names.begin(), names.end(), name) != names.end()) return;
  throw invalid_input(
      fmt::format("no queue '{}' in {} ({})", name, state_dir,
                  names.empty() ? std::string("no queues yet") : fmt::format("queues: {}", fmt::join(names, ", "))));
}

// The --pipeline file, loaded once for both sqs_target() and resolve(); nullopt without
// --pipeline, or with --state-dir as well (resolve() reports that).
std::optional<PipelineConfig> load_target_pipeline(const QueueTarget& t) {
  if (t.pipeline.empty() || !t.state_dir.empty()) return std::nullopt;
  return load_pipeline_or_throw(t.pipeline);
}

// Resolves the target to queue options; `pipeline` is load_target_pipeline(t). `creating`
// allows a queue that does not exist yet; otherwise the queue must exist (require_queue).
ResolvedQueue resolve(const QueueTarget& t, const std::optional<PipelineConfig>& pipeline, bool creating) {
  if (t.pipeline.empty() == t.state_dir.empty()) throw invalid_input("give either --pipeline FILE or --state-dir DIR");
  ResolvedQueue r;
  if (pipeline) {
    const PipelineConfig& c = *pipeline;
    r.from_pipeline = true;
    r.dead_letter = c.queue.dead_letter;
    r.state_dir = c.state_dir.string();
    auto& o = r.options;
    o.state_dir = c.state_dir;
    o.name = t.queue.empty() ? c.queue.url.name : t.queue;
    o.visibility_timeout = c.queue.visibility_timeout;
    o.message_size_limit = c.queue.message_size_limit;
    // The stored retention stays as it is; a queue created now gets the pipeline's.
    const auto existing = assembly::local_queue_names(o.state_dir);
    if (o.name == c.queue.url.name && std::find(existing.begin(), existing.end(), o.name) == existing.end())
      o.retention = c.queue.retention;
    o.durability = c.queue.durability;
    if (o.name == c.queue.url.name) {  // the pipeline's queue dead-letters as the pipeline does
      o.dead_letter_queue = c.queue.dead_letter;
      o.max_receive_count = c.queue.max_receive_count;
    }
    if (!creating) require_queue(r.state_dir, o.name);
    return r;
  }
  if (t.queue.empty()) throw invalid_input("--state-dir needs --queue NAME");
  r.options.state_dir = t.state_dir;
  r.options.name = t.queue;
  r.dead_letter = t.dead_letter.empty() ? t.queue + "-dlq" : t.dead_letter;
  r.state_dir = t.state_dir;
  if (!creating) require_queue(r.state_dir, t.queue);
  return r;
}

// An SQS queue goes through the backend factory, like the pipeline's own processes open it.
// The pipeline's queue and dead-letter queue may be missing (stats shows zeros; send creates
// them as `sentiflow run` would); a queue named with --queue must exist and is only ever opened
// to inspect, so that a mistyped name creates nothing and no other queue gets the pipeline's
// attributes.
struct SqsTarget {
  PipelineConfig config;  // with --queue: queue.url names that queue
  bool named = false;     // --queue gave a queue other than the pipeline's
};

// The pipeline's config when `pipeline` (load_target_pipeline(t)) names an sqs:// queue; nullopt
// for the local path (where resolve() also reports a target given twice or not at all).
std::optional<SqsTarget> sqs_target(const QueueTarget& t, const std::optional<PipelineConfig>& pipeline) {
  if (!pipeline || pipeline->queue.url.backend != QueueLocation::Backend::sqs) return std::nullopt;
  SqsTarget target{*pipeline, false};
  QueueLocation& url = target.config.queue.url;
  if (!t.queue.empty() && t.queue != url.name) {
    url.name = t.queue;
    url.queue_url.clear();
    target.named = true;
  }
  return target;
}

// The queue to work on; `creating` (send to the pipeline's own queue) creates it when missing.
std::unique_ptr<Queue> open_sqs(const SqsTarget& t, bool creating) {
  const bool create = creating && !t.named;
  auto queue = assembly::open_queue(t.config, create ? assembly::QueueAccess::work : assembly::QueueAccess::inspect);
  if (!queue)
    throw invalid_input(
        fmt::format("no SQS queue '{}' ({})", t.config.queue.url.name, assembly::aws_location(t.config, aws::kSqs)));
  return queue;
}

std::string hex(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

nlohmann::ordered_json to_json(const ReceivedMessage& m) {
  nlohmann::ordered_json j = {{"message_id", m.message_id},
                              {"receipt_handle", m.receipt_handle},
                              {"receive_count", m.receive_count},
                              {"sent_at", format_utc_millis(m.sent_at)},
                              {"first_received_at", format_utc_millis(m.first_received_at)},
                              {"body", m.body}};
  if (!m.attributes.empty()) {
    auto& attributes = j["attributes"] = nlohmann::ordered_json::object();
    for (const auto& [name, a] : m.attributes) {
      // Binary values are bytes, which JSON text cannot hold: they are shown in hex.
      if (a.data_type.starts_with("Binary"))
        attributes[name] = {{"type", a.data_type}, {"hex", hex(a.value)}};
      else
        attributes[name] = {{"type", a.data_type}, {"value", a.value}};
    }
  }
  if (m.dead_letter)
    j["dead_letter"] = {{"source_queue", m.dead_letter->source_queue},
                        {"receive_count", m.dead_letter->receive_count},
                        {"last_error", m.dead_letter->last_error},
                        {"moved_at", format_utc_millis(m.dead_letter->moved_at)}};
  return j;
}

// "NAME=TYPE:VALUE", e.g. "run=String:2026-01-01T10:00:00Z".
std::pair<std::string, MessageAttribute> parse_attribute(const std::string& text) {
  const auto equals = text.find('=');
  const auto colon = text.find(':', equals == std::string::npos ? 0 : equals);
  if (equals == std::string::npos || colon == std::string::npos)
    throw invalid_input(fmt::format("--attribute '{}' is not NAME=TYPE:VALUE, e.g. run=String:manual-1", text));
  return {text.substr(0, equals),
          MessageAttribute{text.substr(equals + 1, colon - equals - 1), text.substr(colon + 1)}};
}

void print_stats_row(const std::string& name, const std::string& role, const QueueCounts& counts, bool json) {
  if (json)
    std::cout << nlohmann::ordered_json{{"queue", name},
                                        {"role", role},
                                        {"visible", counts.visible},
                                        {"in_flight", counts.in_flight},
                                        {"delayed", counts.delayed}}
                     .dump()
              << "\n";
  else
    std::cout << fmt::format("{:<40} {:<12} {:>10} {:>10} {:>10}\n", name, role, counts.visible, counts.in_flight,
                             counts.delayed);
}

void print_stats_header(bool json) {
  if (!json)
    std::cout << fmt::format("{:<40} {:<12} {:>10} {:>10} {:>10}\n", "QUEUE", "ROLE", "VISIBLE", "IN_FLIGHT",
                             "DELAYED");
}

// Stats of an SQS pipeline's queues: opened to inspect only, a missing one shows zeros.
void sqs_stats(const SqsTarget& t, bool json) {
  const auto counts_of = [](std::unique_ptr<Queue> queue) { return queue ? queue->counts() : QueueCounts{}; };
  const QueueCounts queue_counts = t.named ? open_sqs(t, false)->counts()
                                           : counts_of(assembly::open_queue(t.config, assembly::QueueAccess::inspect));
  print_stats_header(json);
  print_stats_row(t.config.queue.url.name, "queue", queue_counts, json);
  if (t.named || t.config.queue.dead_letter.empty()) return;
  print_stats_row(t.config.queue.dead_letter, "dead-letter",
                  counts_of(assembly::open_dead_letter_queue(t.config, assembly::QueueAccess::inspect)), json);
}

void stats(const QueueTarget& t, bool json) {
  const auto pipeline = load_target_pipeline(t);
  if (const auto sqs = sqs_target(t, pipeline)) return sqs_stats(*sqs, json);
  std::vector<std::pair<std::string, std::string>> rows;  // queue, role
  std::optional<ResolvedQueue> resolved;
  std::filesystem::path state_dir;
  if (!t.pipeline.empty() || !t.queue.empty()) {
    // A queue named with --queue must exist; the pipeline's own queues may not exist yet
    // (nothing was sent): they show zeros.
    resolved = resolve(t, pipeline, t.queue.empty());
    state_dir = resolved->options.state_dir;
    rows.emplace_back(resolved->options.name, "queue");
    if (resolved->from_pipeline && t.queue.empty()) rows.emplace_back(resolved->dead_letter, "dead-letter");
  } else {
    if (t.state_dir.empty()) throw invalid_input("give either --pipeline FILE or --state-dir DIR");
    state_dir = t.state_dir;
    for (const auto& name : assembly::local_queue_names(state_dir)) rows.emplace_back(name, "queue");
  }
  // Stats never creates state: a queue not in the file yet shows zeros.
  const auto existing = assembly::local_queue_names(state_dir);
  print_stats_header(json);
  for (const auto& [name, role] : rows) {
    QueueCounts counts;
    if (std::find(existing.begin(), existing.end(), name) != existing.end()) {
      assembly::LocalQueueSpec o = resolved ? resolved->options : assembly::LocalQueueSpec{};
      o.state_dir = state_dir;
      o.name = name;
      o.dead_letter_queue.clear();  // counting needs no dead-letter queue: never create one
      o.retention = std::nullopt;   // counting never changes the stored retention
      counts = assembly::open_local_queue(o)->counts();
    }
    print_stats_row(name, role, counts, json);
  }
}

// The target's queue: SQS or local, through the factory (resolve()).
std::unique_ptr<Queue> open_target(const QueueTarget& t, bool creating) {
  const auto pipeline = load_target_pipeline(t);
  if (const auto sqs = sqs_target(t, pipeline)) return open_sqs(*sqs, creating);
  return assembly::open_local_queue(resolve(t, pipeline, creating).options);
}

int send(const QueueTarget& t, const std::vector<std::string>& bodies, const std::string& file,
         const std::string& delay_text, const std::vector<std::string>& attribute_texts) {
  MessageAttributes attributes;
  for (const auto& a : attribute_texts) attributes.insert(parse_attribute(a));
  const milliseconds delay = delay_text.empty() ? milliseconds(0) : parse_duration(delay_text);
  // Each message and the line it came from (0 for arguments).
  std::vector<std::pair<size_t, std::string>> messages;
  for (const auto& b : bodies) messages.emplace_back(0, b);
  if (!file.empty()) {
    std::ifstream in_file;
    if (file != "-") {
      in_file.open(file);
      if (!in_file) throw invalid_input(fmt::format("cannot read {}", file));
    }
    std::istream& in = file == "-" ? std::cin : in_file;
    std::string line;
    for (size_t number = 1; std::getline(in, line); ++number)
      if (!line.empty()) messages.emplace_back(number, line);
  }
  if (messages.empty())
    throw invalid_input("nothing to send: give BODY arguments or --file FILE (one message per line)");

  const auto opened = open_target(t, true);
  Queue& queue = *opened;
  int status = 0;
  const size_t batch = queue.limits().max_batch_entries;
  for (size_t start = 0; start < messages.size(); start += batch) {
    std::vector<SendEntry> entries;
    for (size_t i = start; i < std::min(messages.size(), start + batch); ++i)
      entries.push_back({std::to_string(i - start), messages[i].second, delay, attributes});
    const auto results = queue.send(entries);
    for (size_t i = 0; i < results.size(); ++i) {
      nlohmann::ordered_json out;
      if (messages[start + i].first > 0) out["line"] = messages[start + i].first;
      if (results[i].ok()) {
        out["message_id"] = results[i].message_id;
      } else {
        out["error"] = results[i].error->what();
        out["code"] = to_string(results[i].error->code());
        status = std::max(status, exit_status(results[i].error->code()));
      }
      std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  }
  return status;
}

void receive(const QueueTarget& t, size_t max, const std::string& wait_text, const std::string& visibility_text) {
  const auto queue = open_target(t, false);
  ReceiveRequest request;
  request.max_messages = max;
  if (!wait_text.empty()) request.wait = parse_duration(wait_text);
  if (!visibility_text.empty()) request.visibility_timeout = parse_duration(visibility_text);
  for (const auto& m : queue->receive(request)) std::cout << to_json(m).dump() << "\n";
}

int delete_messages(const QueueTarget& t, std::vector<std::string> handles) {
  if (handles.size() == 1 && handles[0] == "-") {
    handles.clear();
    for (std::string line; std::getline(std::cin, line);)
      if (!line.empty()) handles.push_back(line);
  }
  if (handles.empty()) throw invalid_input("give the RECEIPT_HANDLEs to delete (or - to read them from stdin)");
  const auto opened = open_target(t, false);
  Queue& queue = *opened;
  int status = 0;
  const size_t batch = queue.limits().max_batch_entries;
  for (size_t start = 0; start < handles.size(); start += batch) {
    std::vector<DeleteEntry> entries;
    for (size_t i = start; i < std::min(handles.size(), start + batch); ++i)
      entries.push_back({std::to_string(i - start), handles[i]});
    const auto results = queue.delete_messages(entries);
    for (size_t i = 0; i < results.size(); ++i) {
      nlohmann::ordered_json out = {{"receipt_handle", entries[i].receipt_handle}, {"deleted", results[i].ok()}};
      if (!results[i].ok()) {
        out["code"] = to_string(results[i].error->code());
        out["error"] = results[i].error->what();
        status = std::max(status, exit_status(results[i].error->code()));
      }
      std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  }
  return status;
}

}  // namespace

void add_queue_command(CLI::App& app, int& status) {
  auto* command = app.add_subcommand(
      "queue", "Inspect and repair a pipeline's queue: stats, send, receive, delete, purge, redrive");
  command->require_subcommand(1);
  command->footer(
      "Each subcommand takes --pipeline FILE (the pipeline's state_dir, queue and dead-letter queue) or\n"
      "--state-dir DIR with --queue NAME. A pipeline's queue may be local:// or sqs://; only `send` to the pipeline's\n"
      "own queue creates a queue (as `sentiflow run` would), the other subcommands never do.");
  auto target = std::make_shared<QueueTarget>();

  auto* stats_cmd = command->add_subcommand("stats", "Message counts: visible, in flight and delayed");
  add_target_options(stats_cmd, *target);
  auto json = std::make_shared<bool>(false);
  stats_cmd->add_flag("--json", *json, "One JSON object per queue instead of a table");
  stats_cmd->footer("With --state-dir and no --queue: every queue of the directory.");
  stats_cmd->callback([target, json, &status] {
    stats(*target, *json);
    status = 0;
  });

  struct SendOptions {
    std::vector<std::string> bodies;
    std::string file;
    std::string delay;
    std::vector<std::string> attributes;
  };
  auto send_options = std::make_shared<SendOptions>();
  auto* send_cmd = command->add_subcommand("send", "Send messages");
  add_target_options(send_cmd, *target);
  send_cmd->add_option("BODY", send_options->bodies, "Message bodies");
  send_cmd->add_option("--file", send_options->file, "Send each line of this file (- for stdin) as a message");
  send_cmd->add_option("--delay", send_options->delay, "Hide the messages this long first, e.g. 30s");
  send_cmd->add_option("--attribute", send_options->attributes, "A message attribute NAME=TYPE:VALUE (repeatable)");
  send_cmd->footer(
      "Prints one JSON line per message: {\"message_id\"} or {\"error\", \"code\"} (with \"line\" for --file).");
  send_cmd->callback([target, send_options, &status] {
    status = send(*target, send_options->bodies, send_options->file, send_options->delay, send_options->attributes);
  });

  struct ReceiveOptions {
    size_t max = 10;
    std::string wait;
    std::string visibility;
  };
  auto receive_options = std::make_shared<ReceiveOptions>();
  auto* receive_cmd =
      command->add_subcommand("receive", "Receive messages (they are hidden for the visibility timeout)");
  add_target_options(receive_cmd, *target);
  receive_cmd->add_option("--max", receive_options->max, "At most this many messages")
      ->check(CLI::Range(size_t{1}, size_t{10000}))
      ->capture_default_str();
  receive_cmd->add_option("--wait", receive_options->wait, "Long-poll up to this long for a message, e.g. 5s");
  receive_cmd->add_option("--visibility", receive_options->visibility, "Hide them this long (default: the queue's)");
  receive_cmd->footer(
      "Prints one JSON line per message: message_id, receipt_handle, receive_count, sent_at, first_received_at,\n"
      "body, and attributes and dead_letter when there are any. Receiving counts towards max_receive_count.");
  receive_cmd->callback([target, receive_options, &status] {
    receive(*target, receive_options->max, receive_options->wait, receive_options->visibility);
    status = 0;
  });

  auto handles = std::make_shared<std::vector<std::string>>();
  auto* delete_cmd = command->add_subcommand("delete", "Delete messages by receipt handle");
  add_target_options(delete_cmd, *target);
  delete_cmd->add_option("RECEIPT_HANDLE", *handles, "Handles from `queue receive` (- reads them from stdin)");
  delete_cmd->footer(
      "Prints one JSON line per handle: {\"receipt_handle\", \"deleted\"} and, on failure, \"code\" and \"error\".\n"
      "Exit status 1 when a handle was stale (the message was received again since), 2 when one was malformed.");
  delete_cmd->callback([target, handles, &status] { status = delete_messages(*target, *handles); });

  auto yes = std::make_shared<bool>(false);
  auto* purge_cmd =
      command->add_subcommand("purge", "Delete every message of the queue, in flight and delayed ones too");
  add_target_options(purge_cmd, *target);
  purge_cmd->add_flag("--yes", *yes, "Confirm: the messages cannot be recovered");
  purge_cmd->callback([target, yes, &status] {
    if (!*yes) throw invalid_input("purge deletes every message of the queue for good; add --yes to confirm");
    const auto queue = open_target(*target, false);
    const int64_t total = queue->counts().total();
    queue->purge();
    std::cout << fmt::format("purged queue '{}': {} message{} deleted\n", queue->name(), total, total == 1 ? "" : "s");
    status = 0;
  });

  auto max_moved = std::make_shared<int64_t>(std::numeric_limits<int64_t>::max());
  auto* redrive_cmd = command->add_subcommand("redrive", "Move the dead letters of a queue back to it");
  add_target_options(redrive_cmd, *target);
  redrive_cmd->add_option(
      "--dead-letter", target->dead_letter,
      "With --state-dir: the dead-letter queue (default QUEUE-dlq); SQS takes its queue's RedrivePolicy");
  redrive_cmd->add_option("--max", *max_moved, "At most this many messages (default: all)")->check(CLI::PositiveNumber);
  redrive_cmd->footer("Moved messages keep their id, body and attributes; their receive count starts again at 0.");
  redrive_cmd->callback([target, max_moved, &status] {
    const auto pipeline = load_target_pipeline(*target);
    if (const auto sqs = sqs_target(*target, pipeline)) {
      // SQS knows the dead-letter queue from the queue's RedrivePolicy (SqsQueue says how it moves them).
      const auto queue = open_sqs(*sqs, false);
      const int64_t moved = queue->redrive_dead_letters(*max_moved);
      std::cout << fmt::format("moved {} message{} from '{}' back to '{}'\n", moved, moved == 1 ? "" : "s",
                               sqs->named ? "its dead-letter queue" : sqs->config.queue.dead_letter, queue->name());
      status = 0;
      return;
    }
    ResolvedQueue r = resolve(*target, pipeline, false);
    if (r.dead_letter.empty())
      throw invalid_input(fmt::format("queue '{}' has no dead-letter queue to redrive from", r.options.name));
    require_queue(r.state_dir, r.dead_letter);
    r.options.dead_letter_queue = r.dead_letter;
    const auto queue = assembly::open_local_queue(r.options);
    const int64_t moved = queue->redrive_dead_letters(*max_moved);
    std::cout << fmt::format("moved {} message{} from '{}' back to '{}'\n", moved, moved == 1 ? "" : "s", r.dead_letter,
                             queue->name());
    status = 0;
  });
}

}  // namespace sentiflow::cli
