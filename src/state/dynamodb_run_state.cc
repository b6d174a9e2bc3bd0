#include "state/dynamodb_run_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <type_traits>
#include <utility>

#include "aws/endpoints.h"
#include "core/digest.h"
#include "core/error.h"
#include "net/backoff.h"
#include "observe/log.h"
#include "table/dynamodb_table.h"

namespace sentiflow {
namespace {

using nlohmann::json;

// Tries of a write whose conflict the state showed to be a collision with a transaction.
constexpr unsigned kMaxTries = 8;
// TransactWriteItems takes at most 100 actions; 25 keeps each one small and was the limit of
// older DynamoDB versions (and of DynamoDB Local).
constexpr size_t kDeletesPerTransaction = 24;

constexpr const char* kRunSk = "run";
constexpr const char* kLeaseSk = "lease";
constexpr const char* kCheckpointPrefix = "checkpoint#";
constexpr const char* kTimelinePrefix = "timeline#";
constexpr const char* kSchedulerKey = "scheduler";
constexpr const char* kFingerprintSk = "fingerprint";
constexpr size_t kBatchGetKeys = 100;    // BatchGetItem's limit
constexpr size_t kBatchWriteItems = 25;  // BatchWriteItem's limit

json S(std::string_view value) { return {{"S", value}}; }
json N(int64_t value) { return {{"N", std::to_string(value)}}; }

int64_t to_ms(Millis t) { return t.time_since_epoch().count(); }
Millis from_ms(int64_t ms) { return Millis(std::chrono::milliseconds(ms)); }

std::string run_pk(const std::string& id) { return "run#" + id; }
// A key's fingerprint item. A partition key is at most 2,048 bytes: a source key too long for
// the prefix is named by its SHA-256 instead.
std::string fingerprint_pk(const std::string& key) {
  constexpr size_t kMaxPartitionKeyBytes = 2048;
  return key.size() + 4 <= kMaxPartitionKeyBytes ? "key#" + key : "keyh#" + sha256_hex(key);
}
// Zero-padded, so that a Query returns the items in order (negative values do not occur).
std::string checkpoint_sk(int segment) { return fmt::format("{}{:06}", kCheckpointPrefix, segment); }
std::string timeline_sk(int64_t seconds) { return fmt::format("{}{:012}", kTimelinePrefix, seconds); }

json key(const std::string& pk, const std::string& sk) { return {{"pk", S(pk)}, {"sk", S(sk)}}; }

void check_id(const std::string& id) {
  if (id.empty()) throw invalid_input("a run id must not be empty");
}

// The attribute `name` of `item` (DynamoDB JSON), of type `type`, or nullptr when absent.
const json* attribute(const json& item, const char* name, const char* type) {
  const auto a = item.find(name);
  if (a == item.end()) return nullptr;
  const auto v = a->find(type);
  if (v == a->end())
    throw Error(ErrorCode::internal, fmt::format("the run state item's attribute '{}' is not of type {}", name, type));
  return &*v;
}

int64_t parse_number(const json& value, const char* name) {
  const std::string& text = value.get_ref<const std::string&>();
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size())
    throw Error(ErrorCode::internal,
                fmt::format("the run state item's attribute '{}' is not a whole number: {}", name, text));
  return n;
}

std::optional<int64_t> optional_number(const json& item, const char* name) {
  const json* v = attribute(item, name, "N");
  if (v == nullptr) return std::nullopt;
  return parse_number(*v, name);
}

int64_t number(const json& item, const char* name) {
  const auto n = optional_number(item, name);
  if (!n) throw Error(ErrorCode::internal, fmt::format("the run state item lacks the attribute '{}'", name));
  return *n;
}

std::string text(const json& item, const char* name) {
  const json* v = attribute(item, name, "S");
  if (v == nullptr) throw Error(ErrorCode::internal, fmt::format("the run state item lacks the attribute '{}'", name));
  return v->get<std::string>();
}

RunRecord parse_run(const json& item) {
  RunRecord r;
  r.id = text(item, "id");
  const auto kind = parse_run_kind(text(item, "kind"));
  const auto phase = parse_run_phase(text(item, "phase"));
  if (!kind || !phase)
    throw Error(ErrorCode::internal, fmt::format("run '{}' has an unknown kind or phase in the state table", r.id));
  r.kind = *kind;
  r.phase = *phase;
  r.attempt = static_cast<int>(number(item, "attempt"));
  r.started_at = from_ms(number(item, "started_at"));
  if (const auto t = optional_number(item, "produced_at")) r.produced_at = from_ms(*t);
  if (const auto t = optional_number(item, "finished_at")) r.finished_at = from_ms(*t);
  r.counts.scanned = number(item, "scanned");
  r.counts.sent = number(item, "sent");
  r.counts.producer_errors = number(item, "producer_errors");
  r.counts.processed = number(item, "processed");
  r.counts.failed = number(item, "failed");
  r.counts.dead_letters = number(item, "dead_letters");
  r.counts.unchanged = optional_number(item, "unchanged").value_or(0);  // absent before it was counted
  // BilledWork's attributes are added by ADD from the first count: absent until then, and in
  // runs of a sentiflow that did not count them.
  for (const auto& [name, field] : BilledWork::kFields) r.counts.work.*field = optional_number(item, name).value_or(0);
  if (const json* labels = attribute(item, "labels", "M"))
    for (const auto& [label, value] : labels->items()) r.counts.labels[label] = parse_number(value.at("N"), "labels");
  return r;
}

// The item of a new run (attempt 1, nothing counted).
json new_run_item(const RunRecord& r) {
  return {{"pk", S(run_pk(r.id))},
          {"sk", S(kRunSk)},
          {"id", S(r.id)},
          {"kind", S(to_string(r.kind))},
          {"phase", S(to_string(r.phase))},
          {"attempt", N(r.attempt)},
          {"started_at", N(to_ms(r.started_at))},
          {"scanned", N(0)},
          {"sent", N(0)},
          {"producer_errors", N(0)},
          {"processed", N(0)},
          {"failed", N(0)},
          {"dead_letters", N(0)},
          {"labels", {{"M", json::object()}}}};
}

ScanCheckpoint parse_checkpoint(const json& item) {
  ScanCheckpoint c;
  c.segment = static_cast<int>(number(item, "segment"));
  c.total_segments = static_cast<int>(number(item, "total_segments"));
  c.token = text(item, "token");
  const json* done = attribute(item, "done", "BOOL");
  c.done = done != nullptr && done->get<bool>();
  c.scanned = number(item, "scanned");
  c.sent = number(item, "sent");
  // Absent in checkpoints saved before sentiflow recorded the table.
  if (const json* table = attribute(item, "table", "S")) c.table = table->get<std::string>();
  return c;
}

// The seven counts and BilledWork's, by the names of the run item's attributes.
std::vector<std::pair<const char*, int64_t>> count_fields(const RunCounts& c) {
  std::vector<std::pair<const char*, int64_t>> fields = {
      {"scanned", c.scanned},     {"sent", c.sent},     {"producer_errors", c.producer_errors},
      {"processed", c.processed}, {"failed", c.failed}, {"dead_letters", c.dead_letters},
      {"unchanged", c.unchanged}};
  for (const auto& [name, field] : BilledWork::kFields) fields.emplace_back(name, c.work.*field);
  return fields;
}

}  // namespace

struct DynamoDbRunState::Impl {
  std::shared_ptr<const aws::AwsClient> client;
  DynamoDbRunStateOptions options;
  std::unique_ptr<DynamoDbTable> table;  // opened (or created) the table; drop()
  std::mutex known_mutex;
  std::set<std::string> known_runs;  // seen to exist; runs are never deleted

  json call(const std::string& operation, const json& body) const {
    const std::string answer = client
                                   ->call({.operation = operation,
                                           .headers = {{"Content-Type", "application/x-amz-json-1.0"},
                                                       {"X-Amz-Target", "DynamoDB_20120810." + operation}},
                                           .body = body.dump()})
                                   .body;
    if (answer.empty()) return json::object();
    json parsed = json::parse(answer, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object())
      throw Error(ErrorCode::internal, "DynamoDB " + operation + ": the answer is not a JSON object");
    return parsed;
  }

  // call() for a conditional write: false when DynamoDB refused it with a conflict (a failed
  // condition, or a collision with a transaction: the caller reads the state to tell which).
  bool try_call(const std::string& operation, const json& body, json* answer = nullptr) const {
    try {
      json result = call(operation, body);
      if (answer != nullptr) *answer = std::move(result);
      return true;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::conflict) throw;
      return false;
    }
  }

  // Runs `attempt` (one try of a write) up to kMaxTries times, waiting a backoff before each
  // try after the first, until it reports the write done. `attempt` returns bool (true: done)
  // or std::optional<T> (a value: done, returned from here); false or nullopt when the write
  // collided with a transaction and is tried again. It may throw (not_found, a failed
  // condition), which ends the tries. Throws transient (throw_busy, naming `what`) after
  // kMaxTries tries that all collided.
  template <typename Attempt>
  auto retry_conflicts(const std::string& id, std::string_view what, Attempt&& attempt) {
    Backoff backoff(std::chrono::milliseconds(10), std::chrono::milliseconds(1'000));
    for (unsigned tries = 1; tries <= kMaxTries; ++tries) {
      if (tries > 1) {
        const auto delay = backoff.delay(tries - 2);
        if (options.sleep) {
          options.sleep(delay);
        } else {
          std::this_thread::sleep_for(delay);
        }
      }
      if constexpr (std::is_same_v<std::invoke_result_t<Attempt&>, bool>) {
        if (attempt()) return;
      } else {
        if (auto done = attempt()) return std::move(*done);
      }
    }
    throw_busy(id, what);
  }

  [[noreturn]] void throw_not_found(const std::string& id) const {
    throw Error(ErrorCode::not_found, fmt::format("run '{}' does not exist in DynamoDB table '{}'", id, options.table));
  }

  [[noreturn]] void throw_busy(const std::string& id, std::string_view what) const {
    throw Error(ErrorCode::transient, fmt::format("DynamoDB table '{}': {} of run '{}' kept colliding with "
                                                  "concurrent transactions ({} tries)",
                                                  options.table, what, id, kMaxTries));
  }

  // A batch call (BatchGetItem, BatchWriteItem) of `request_items`, its `unprocessed` part
  // (UnprocessedKeys, UnprocessedItems) asked again after a backoff, as DynamoDB's
  // documentation says to, up to kMaxTries; each answer is handed to `on_answer`.
  void call_until_processed(const std::string& operation, json request_items, const char* unprocessed,
                            const std::function<void(const json&)>& on_answer = {}) const {
    Backoff backoff(std::chrono::milliseconds(50), std::chrono::milliseconds(2'000));
    for (unsigned tries = 1; !request_items.empty(); ++tries) {
      if (tries > kMaxTries)
        throw Error(ErrorCode::throttled, fmt::format("DynamoDB table '{}': {} left requests unprocessed {} times",
                                                      options.table, operation, kMaxTries));
      if (tries > 1) std::this_thread::sleep_for(backoff.delay(tries - 2));
      const json answer = call(operation, {{"RequestItems", request_items}});
      if (on_answer) on_answer(answer);
      const auto left = answer.find(unprocessed);
      request_items = left != answer.end() && left->is_object() ? *left : json::object();
    }
  }

  std::optional<json> get(const std::string& pk, const std::string& sk) const {
    const json answer = call("GetItem", {{"TableName", options.table}, {"Key", key(pk, sk)}, {"ConsistentRead", true}});
    const auto item = answer.find("Item");
    if (item == answer.end()) return std::nullopt;
    return *item;
  }

  std::optional<RunRecord> get_run(const std::string& id) {
    auto item = get(run_pk(id), kRunSk);
    if (!item) return std::nullopt;
    remember(id);
    return parse_run(*item);
  }

  void remember(const std::string& id) {
    std::lock_guard lock(known_mutex);
    known_runs.insert(id);
  }

  // Throws not_found unless run `id` exists. Runs are never deleted, so once seen it is known.
  void require_run(const std::string& id) {
    {
      std::lock_guard lock(known_mutex);
      if (known_runs.contains(id)) return;
    }
    if (!get_run(id)) throw_not_found(id);
  }

  // The items of partition `pk` whose sort key starts with `prefix` ("" for all), all pages.
  std::vector<json> query(const std::string& pk, const std::string& prefix, bool keys_only = false) const {
    json body = {{"TableName", options.table},
                 {"ConsistentRead", true},
                 {"ExpressionAttributeNames", {{"#pk", "pk"}}},
                 {"ExpressionAttributeValues", {{":pk", S(pk)}}}};
    if (prefix.empty()) {
      body["KeyConditionExpression"] = "#pk = :pk";
    } else {
      body["KeyConditionExpression"] = "#pk = :pk AND begins_with(#sk, :prefix)";
      body["ExpressionAttributeNames"]["#sk"] = "sk";
      body["ExpressionAttributeValues"][":prefix"] = S(prefix);
    }
    if (keys_only) {
      body["ProjectionExpression"] = "#pk, #sk";
      body["ExpressionAttributeNames"]["#sk"] = "sk";
    }
    std::vector<json> items;
    while (true) {
      json answer = call("Query", body);
      for (auto& item : answer["Items"]) items.push_back(std::move(item));
      const auto last = answer.find("LastEvaluatedKey");
      if (last == answer.end() || last->empty()) return items;
      body["ExclusiveStartKey"] = *last;
    }
  }

  // Every run, by a Scan of the run items (the table is small: docs/RUNNING.md, "Run state on
  // DynamoDB").
  std::vector<RunRecord> scan_runs() {
    json body = {{"TableName", options.table},
                 {"ConsistentRead", true},
                 {"FilterExpression", "#sk = :run"},
                 {"ExpressionAttributeNames", {{"#sk", "sk"}}},
                 {"ExpressionAttributeValues", {{":run", S(kRunSk)}}}};
    std::vector<RunRecord> runs;
    while (true) {
      const json answer = call("Scan", body);
      for (const auto& item : answer.at("Items")) runs.push_back(parse_run(item));
      const auto last = answer.find("LastEvaluatedKey");
      if (last == answer.end() || last->empty()) break;
      body["ExclusiveStartKey"] = *last;
    }
    for (const auto& r : runs) remember(r.id);
    return runs;
  }

  // The condition "run `id` is still finished at attempt `attempt`", as a ConditionCheck or
  // the parts of an UpdateItem.
  json still_finished(const std::string& id, int attempt) const {
    return {{"TableName", options.table},
            {"Key", key(run_pk(id), kRunSk)},
            {"ConditionExpression", "#phase = :finished AND #attempt = :seen"},
            {"ExpressionAttributeNames", {{"#phase", "phase"}, {"#attempt", "attempt"}}},
            {"ExpressionAttributeValues", {{":finished", S(to_string(RunPhase::finished))}, {":seen", N(attempt)}}}};
  }

  // Deletes the lease, checkpoint and timeline items of run `id` (those whose sort key starts
  // with `prefix`, "" for all), each batch in a transaction conditioned on the run still being
  // finished at `attempt`: a second restarter that read the run before the first one restarted
  // it must not delete the new attempt's checkpoints. False when a transaction was refused (the
  // caller reads the run again).
  bool delete_children(const std::string& id, int attempt, const std::string& prefix = "") const {
    std::vector<json> keys;
    for (auto& item : query(run_pk(id), prefix, /*keys_only=*/true))
      if (item.at("sk").at("S") != kRunSk) keys.push_back(std::move(item));
    for (size_t begin = 0; begin < keys.size(); begin += kDeletesPerTransaction) {
      json actions = json::array({{{"ConditionCheck", still_finished(id, attempt)}}});
      const size_t end = std::min(keys.size(), begin + kDeletesPerTransaction);
      for (size_t i = begin; i < end; ++i)
        actions.push_back({{"Delete", {{"TableName", options.table}, {"Key", keys[i]}}}});
      if (!try_call("TransactWriteItems", {{"TransactItems", actions}})) return false;
    }
    return true;
  }

  // Starts finished run `seen` again. The reset run, or nullopt when the run changed meanwhile
  // (or a transaction collided): the caller reads it again.
  std::optional<RunRecord> restart(const RunRecord& seen, RunKind kind, Millis now) {
    if (!delete_children(seen.id, seen.attempt)) return std::nullopt;
    json body = still_finished(seen.id, seen.attempt);
    std::string update =
        "SET #kind = :kind, #phase = :producing, #attempt = #attempt + :one, #started_at = :now, "
        "#labels = :no_labels";
    auto& names = body["ExpressionAttributeNames"];
    auto& values = body["ExpressionAttributeValues"];
    names["#kind"] = "kind";
    names["#started_at"] = "started_at";
    names["#labels"] = "labels";
    names["#produced_at"] = "produced_at";
    names["#finished_at"] = "finished_at";
    values[":kind"] = S(to_string(kind));
    values[":producing"] = S(to_string(RunPhase::producing));
    values[":one"] = N(1);
    values[":now"] = N(to_ms(now));
    values[":no_labels"] = {{"M", json::object()}};
    values[":zero"] = N(0);
    for (const auto& [field, value] : count_fields(RunCounts{})) {
      names[fmt::format("#{}", field)] = field;
      update += fmt::format(", #{} = :zero", field);
    }
    body["UpdateExpression"] = update + " REMOVE #produced_at, #finished_at";
    body["ReturnValues"] = "ALL_NEW";
    json answer;
    if (!try_call("UpdateItem", body, &answer)) return std::nullopt;
    return parse_run(answer.at("Attributes"));
  }
};

DynamoDbRunState::DynamoDbRunState(std::shared_ptr<const aws::AwsClient> client, DynamoDbRunStateOptions options)
    : impl_(std::make_unique<Impl>()) {
  // DynamoDbTable checks the name and the key schema, and creates and waits for the table.
  DynamoDbTableOptions table_options;
  table_options.name = options.table;
  table_options.key_schema = KeySchema{"pk", "sk"};
  table_options.create_if_missing = options.create_if_missing;
  table_options.create_timeout = options.create_timeout;
  table_options.sleep = options.sleep;
  impl_->table = std::make_unique<DynamoDbTable>(client, std::move(table_options));
  impl_->client = std::move(client);
  impl_->options = std::move(options);
}

DynamoDbRunState::~DynamoDbRunState() = default;

std::string DynamoDbRunState::table_name_for(const std::string& pipeline_name) {
  const char* name = std::getenv("SENTIFLOW_STATE_TABLE");
  if (name != nullptr && *name != '\0') return name;
  return pipeline_name + "-state";
}

RunRecord DynamoDbRunState::start_run(const std::string& id, RunKind kind, Millis now, IfFinished if_finished) {
  check_id(id);
  auto& s = *impl_;
  return s.retry_conflicts(id, "starting", [&]() -> std::optional<RunRecord> {
    auto existing = s.get_run(id);
    if (!existing) {
      RunRecord fresh;
      fresh.id = id;
      fresh.kind = kind;
      fresh.started_at = now;
      if (s.try_call("PutItem", {{"TableName", s.options.table},
                                 {"Item", new_run_item(fresh)},
                                 {"ConditionExpression", "attribute_not_exists(pk)"}})) {
        s.remember(id);
        return fresh;
      }
      return std::nullopt;  // created by another caller meanwhile: resume that run
    }
    if (existing->phase != RunPhase::finished || if_finished == IfFinished::keep) return existing;
    return s.restart(*existing, kind, now);
  });
}

std::optional<RunRecord> DynamoDbRunState::run(const std::string& id) {
  if (id.empty()) return std::nullopt;  // not a key DynamoDB accepts, and never a run
  return impl_->get_run(id);
}

std::optional<RunRecord> DynamoDbRunState::newest_unfinished() {
  std::optional<RunRecord> newest;
  for (auto& r : impl_->scan_runs()) {
    if (r.phase == RunPhase::finished) continue;
    if (!newest || std::tie(r.started_at, r.id) > std::tie(newest->started_at, newest->id)) newest = std::move(r);
  }
  return newest;
}

std::vector<RunRecord> DynamoDbRunState::recent_runs(size_t limit) {
  auto runs = impl_->scan_runs();
  std::sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return std::tie(a.started_at, a.id) > std::tie(b.started_at, b.id);
  });
  if (runs.size() > limit) runs.resize(limit);
  return runs;
}

void DynamoDbRunState::add_counts(const std::string& id, const RunCounts& delta) {
  auto& s = *impl_;
  json names = {{"#pk", "pk"}};
  json values = json::object();
  std::string add;
  for (const auto& [field, value] : count_fields(delta)) {
    names[fmt::format("#{}", field)] = field;
    values[fmt::format(":{}", field)] = N(value);
    add += fmt::format("{}#{} :{}", add.empty() ? "ADD " : ", ", field, field);
  }
  // Labels are a map: ADD works on top-level attributes only, so each label is a SET of its
  // own path, from 0 when the label is new (the map itself exists from the run's start).
  std::string set;
  size_t n = 0;
  for (const auto& [label, count] : delta.labels) {
    names["#labels"] = "labels";
    names[fmt::format("#l{}", n)] = label;
    values[fmt::format(":l{}", n)] = N(count);
    values[":zero"] = N(0);
    set +=
        fmt::format("{}#labels.#l{} = if_not_exists(#labels.#l{}, :zero) + :l{}", set.empty() ? "SET " : ", ", n, n, n);
    ++n;
  }
  const json body = {{"TableName", s.options.table},
                     {"Key", key(run_pk(id), kRunSk)},
                     {"UpdateExpression", add + (set.empty() ? "" : " " + set)},
                     {"ConditionExpression", "attribute_exists(#pk)"},
                     {"ExpressionAttributeNames", names},
                     {"ExpressionAttributeValues", values}};
  s.retry_conflicts(id, "adding to the counts", [&] {
    if (s.try_call("UpdateItem", body)) return true;
    if (!s.get_run(id)) s.throw_not_found(id);
    return false;
  });
}

void DynamoDbRunState::mark_produced(const std::string& id, Millis now) {
  auto& s = *impl_;
  const json body = {
      {"TableName", s.options.table},
      {"Key", key(run_pk(id), kRunSk)},
      {"UpdateExpression", "SET #phase = :draining, #produced_at = :now"},
      {"ConditionExpression", "attribute_exists(#pk) AND #phase <> :finished"},
      {"ExpressionAttributeNames", {{"#pk", "pk"}, {"#phase", "phase"}, {"#produced_at", "produced_at"}}},
      {"ExpressionAttributeValues",
       {{":draining", S(to_string(RunPhase::draining))},
        {":finished", S(to_string(RunPhase::finished))},
        {":now", N(to_ms(now))}}}};
  s.retry_conflicts(id, "marking produced", [&] {
    if (s.try_call("UpdateItem", body)) return true;
    const auto run = s.get_run(id);
    if (!run) s.throw_not_found(id);
    return run->phase == RunPhase::finished;  // never moved back
  });
}

void DynamoDbRunState::mark_finished(const std::string& id, Millis now) {
  auto& s = *impl_;
  const json body = {
      {"TableName", s.options.table},
      {"Key", key(run_pk(id), kRunSk)},
      {"UpdateExpression", "SET #phase = :finished, #finished_at = if_not_exists(#finished_at, :now)"},
      {"ConditionExpression", "attribute_exists(#pk)"},
      {"ExpressionAttributeNames", {{"#pk", "pk"}, {"#phase", "phase"}, {"#finished_at", "finished_at"}}},
      {"ExpressionAttributeValues", {{":finished", S(to_string(RunPhase::finished))}, {":now", N(to_ms(now))}}},
      {"ReturnValues", "ALL_NEW"}};
  s.retry_conflicts(id, "marking finished", [&] {
    json answer;
    if (s.try_call("UpdateItem", body, &answer)) {
      // The checkpoints go with the finish (the contract), so that the Scan of every tick
      // (newest_unfinished) reads one item per finished run, not one per segment too. Under the
      // condition "still finished at this attempt": a restart that came in between keeps its
      // new checkpoints. A refusal means exactly that restart; nothing is left to do.
      const int attempt = static_cast<int>(number(answer.at("Attributes"), "attempt"));
      try {
        s.delete_children(id, attempt, kCheckpointPrefix);
      } catch (const Error& e) {
        // The run is finished; leftover checkpoints only make the Scan longer (a restart
        // deletes them), so the finish is not reported as failed.
        log::warn("could not delete a finished run's checkpoints", {{"run", id}, {"error", e.what()}});
      }
      return true;
    }
    if (!s.get_run(id)) s.throw_not_found(id);
    return false;
  });
}

bool DynamoDbRunState::acquire_producer_lease(const std::string& id, const std::string& owner, Millis now,
                                              Millis until) {
  auto& s = *impl_;
  s.require_run(id);
  const json body = {
      {"TableName", s.options.table},
      {"Key", key(run_pk(id), kLeaseSk)},
      {"UpdateExpression", "SET #owner = :owner, #until = :until"},
      {"ConditionExpression", "attribute_not_exists(#owner) OR #owner = :owner OR #until <= :now"},
      {"ExpressionAttributeNames", {{"#owner", "owner"}, {"#until", "until"}}},
      {"ExpressionAttributeValues", {{":owner", S(owner)}, {":until", N(to_ms(until))}, {":now", N(to_ms(now))}}}};
  return s.retry_conflicts(id, "taking the producer lease", [&]() -> std::optional<bool> {
    if (s.try_call("UpdateItem", body)) return true;
    const auto lease = s.get(run_pk(id), kLeaseSk);
    if (lease && attribute(*lease, "owner", "S") != nullptr && text(*lease, "owner") != owner &&
        number(*lease, "until") > to_ms(now))
      return false;  // held by another owner, unexpired
    return std::nullopt;
  });
}

void DynamoDbRunState::release_producer_lease(const std::string& id, const std::string& owner) {
  auto& s = *impl_;
  if (id.empty()) return;
  const json body = {{"TableName", s.options.table},
                     {"Key", key(run_pk(id), kLeaseSk)},
                     {"ConditionExpression", "#owner = :owner"},
                     {"ExpressionAttributeNames", {{"#owner", "owner"}}},
                     {"ExpressionAttributeValues", {{":owner", S(owner)}}}};
  s.retry_conflicts(id, "releasing the producer lease", [&] {
    if (s.try_call("DeleteItem", body)) return true;
    const auto lease = s.get(run_pk(id), kLeaseSk);
    return !lease || attribute(*lease, "owner", "S") == nullptr || text(*lease, "owner") != owner;
  });
}

std::vector<ScanCheckpoint> DynamoDbRunState::checkpoints(const std::string& id) {
  if (id.empty()) return {};
  std::vector<ScanCheckpoint> result;
  for (const auto& item : impl_->query(run_pk(id), kCheckpointPrefix)) result.push_back(parse_checkpoint(item));
  std::sort(result.begin(), result.end(),
            [](const ScanCheckpoint& a, const ScanCheckpoint& b) { return a.segment < b.segment; });
  return result;
}

void DynamoDbRunState::save_checkpoint(const std::string& id, const ScanCheckpoint& checkpoint,
                                       const std::optional<std::string>& lease_owner) {
  auto& s = *impl_;
  check_id(id);
  const json item = {{"pk", S(run_pk(id))},
                     {"sk", S(checkpoint_sk(checkpoint.segment))},
                     {"segment", N(checkpoint.segment)},
                     {"total_segments", N(checkpoint.total_segments)},
                     {"token", S(checkpoint.token)},
                     {"done", {{"BOOL", checkpoint.done}}},
                     {"scanned", N(checkpoint.scanned)},
                     {"sent", N(checkpoint.sent)},
                     {"table", S(checkpoint.table)}};
  const json put = {{"TableName", s.options.table}, {"Item", item}};
  if (!lease_owner) {
    s.require_run(id);
    // A conflict here is a collision with a restart's transaction.
    s.retry_conflicts(id, "saving a checkpoint", [&] { return s.try_call("PutItem", put); });
    return;
  }
  // The lease check and the write in one transaction: a producer whose lease was taken over
  // between its check and its write must not move the checkpoint back.
  const json check = {{"TableName", s.options.table},
                      {"Key", key(run_pk(id), kLeaseSk)},
                      {"ConditionExpression", "#owner = :owner"},
                      {"ExpressionAttributeNames", {{"#owner", "owner"}}},
                      {"ExpressionAttributeValues", {{":owner", S(*lease_owner)}}}};
  const json transaction = {{"TransactItems", json::array({{{"ConditionCheck", check}}, {{"Put", put}}})}};
  s.retry_conflicts(id, "saving a checkpoint", [&] {
    if (s.try_call("TransactWriteItems", transaction)) return true;
    const auto lease = s.get(run_pk(id), kLeaseSk);
    if (!lease || attribute(*lease, "owner", "S") == nullptr || text(*lease, "owner") != *lease_owner) {
      s.require_run(id);
      throw Error(ErrorCode::conflict, fmt::format("the producer lease of run '{}' is not held by '{}': checkpoint "
                                                   "not saved",
                                                   id, *lease_owner));
    }
    return false;
  });
}

std::optional<Seconds> DynamoDbRunState::last_tick() {
  const auto item = impl_->get(kSchedulerKey, kSchedulerKey);
  if (!item) return std::nullopt;
  const auto tick = optional_number(*item, "last_tick");
  if (!tick) return std::nullopt;
  return Seconds(std::chrono::seconds(*tick));
}

void DynamoDbRunState::set_last_tick(Seconds tick) {
  impl_->call("UpdateItem", {{"TableName", impl_->options.table},
                             {"Key", key(kSchedulerKey, kSchedulerKey)},
                             {"UpdateExpression", "SET #last_tick = :tick"},
                             {"ExpressionAttributeNames", {{"#last_tick", "last_tick"}}},
                             {"ExpressionAttributeValues", {{":tick", N(tick.time_since_epoch().count())}}}});
}

bool DynamoDbRunState::claim_tick(Seconds tick) {
  // One conditional write. The scheduler item is in no transaction, so a refusal is the
  // condition failing (another caller claimed this tick or a newer one): false, never tried
  // again. (Should the client's own retry of a write whose answer was lost find it done, the
  // claim reads as refused too and the tick is not run: the safe side of "at most one run".)
  return impl_->try_call("UpdateItem",
                         {{"TableName", impl_->options.table},
                          {"Key", key(kSchedulerKey, kSchedulerKey)},
                          {"UpdateExpression", "SET #last_tick = :tick"},
                          {"ConditionExpression", "attribute_not_exists(#last_tick) OR #last_tick < :tick"},
                          {"ExpressionAttributeNames", {{"#last_tick", "last_tick"}}},
                          {"ExpressionAttributeValues", {{":tick", N(tick.time_since_epoch().count())}}}});
}

int64_t DynamoDbRunState::skipped_ticks() {
  const auto item = impl_->get(kSchedulerKey, kSchedulerKey);
  if (!item) return 0;
  return optional_number(*item, "skipped_ticks").value_or(0);
}

void DynamoDbRunState::add_skipped_tick() {
  impl_->call("UpdateItem", {{"TableName", impl_->options.table},
                             {"Key", key(kSchedulerKey, kSchedulerKey)},
                             {"UpdateExpression", "ADD #skipped_ticks :one"},
                             {"ExpressionAttributeNames", {{"#skipped_ticks", "skipped_ticks"}}},
                             {"ExpressionAttributeValues", {{":one", N(1)}}}});
}

void DynamoDbRunState::record_timeline(const std::string& id, const TimelinePoint& point) {
  auto& s = *impl_;
  check_id(id);
  s.require_run(id);
  const int64_t at = point.at.time_since_epoch().count();
  const json put = {
      {"TableName", s.options.table},
      {"Item", {{"pk", S(run_pk(id))}, {"sk", S(timeline_sk(at))}, {"at", N(at)}, {"json", S(point.json)}}}};
  // A conflict here is a collision with a restart's transaction.
  s.retry_conflicts(id, "recording its timeline", [&] { return s.try_call("PutItem", put); });
}

std::vector<TimelinePoint> DynamoDbRunState::timeline(const std::string& id) {
  if (id.empty()) return {};
  std::vector<TimelinePoint> points;
  for (const auto& item : impl_->query(run_pk(id), kTimelinePrefix))
    points.push_back(TimelinePoint{Seconds(std::chrono::seconds(number(item, "at"))), text(item, "json")});
  std::sort(points.begin(), points.end(), [](const TimelinePoint& a, const TimelinePoint& b) { return a.at < b.at; });
  return points;
}

void DynamoDbRunState::drop() { impl_->table->drop(); }

// BatchGetItem of up to 100 keys a request (strongly consistent).
std::map<std::string, std::string> DynamoDbRunState::fingerprints(const std::vector<std::string>& keys) {
  auto& s = *impl_;
  std::map<std::string, std::string> found;
  // BatchGetItem refuses a request that names one key twice, and a page may repeat a key
  // (source.key need not be the table's key): each once, answers mapped back by item key.
  std::map<std::string, std::string> key_of_pk;
  for (const auto& k : keys) key_of_pk.emplace(fingerprint_pk(k), k);
  std::vector<std::string> pks;
  pks.reserve(key_of_pk.size());
  for (const auto& [pk, k] : key_of_pk) pks.push_back(pk);
  for (size_t start = 0; start < pks.size(); start += kBatchGetKeys) {
    json request_keys = json::array();
    for (size_t i = start; i < std::min(pks.size(), start + kBatchGetKeys); ++i)
      request_keys.push_back(key(pks[i], kFingerprintSk));
    s.call_until_processed("BatchGetItem",
                           {{s.options.table, {{"Keys", std::move(request_keys)}, {"ConsistentRead", true}}}},
                           "UnprocessedKeys", [&](const json& answer) {
                             if (const auto responses = answer.find("Responses"); responses != answer.end())
                               if (const auto items = responses->find(s.options.table); items != responses->end())
                                 for (const auto& item : *items)
                                   if (const auto k = key_of_pk.find(text(item, "pk")); k != key_of_pk.end())
                                     found[k->second] = text(item, "fingerprint");
                           });
  }
  return found;
}

// BatchWriteItem of up to 25 puts a request.
void DynamoDbRunState::record_fingerprints(const std::map<std::string, std::string>& fingerprints) {
  auto& s = *impl_;
  std::vector<json> puts;
  for (const auto& [k, fingerprint] : fingerprints)
    puts.push_back(
        {{"PutRequest",
          {{"Item", {{"pk", S(fingerprint_pk(k))}, {"sk", S(kFingerprintSk)}, {"fingerprint", S(fingerprint)}}}}}});
  for (size_t start = 0; start < puts.size(); start += kBatchWriteItems) {
    const auto first = puts.begin() + static_cast<std::ptrdiff_t>(start);
    const auto last = puts.begin() + static_cast<std::ptrdiff_t>(std::min(puts.size(), start + kBatchWriteItems));
    s.call_until_processed("BatchWriteItem", {{s.options.table, json(std::vector<json>(first, last))}},
                           "UnprocessedItems");
  }
}

}  // namespace sentiflow
