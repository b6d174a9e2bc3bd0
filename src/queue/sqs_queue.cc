#include "queue/sqs_queue.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <set>

#include "aws/errors.h"
#include "core/digest.h"
#include "core/strings.h"
#include "queue/message_rules.h"

namespace sentiflow {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// Where the original message id rides through a redrive (see the header).
constexpr std::string_view kIdAttribute = "sentiflow.message_id";
constexpr std::chrono::seconds kSourceLookupEvery{60};
constexpr std::chrono::seconds kDeadLetterRetention{14LL * 24 * 3600};

int64_t whole_seconds(milliseconds value) { return std::chrono::ceil<std::chrono::seconds>(value).count(); }

json call(const aws::AwsClient& client, const std::string& action, const json& body) {
  const auto response = client.call(aws::json_request("AmazonSQS.", action, body.dump()));
  if (response.body.empty()) return json::object();
  json parsed = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object())
    throw Error(ErrorCode::internal, "SQS " + action + ": the answer is not a JSON object");
  return parsed;
}

std::string string_field(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t int_field(const json& object, const char* key) {
  const std::string text = string_field(object, key);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

bool is_url(std::string_view text) { return text.starts_with("http://") || text.starts_with("https://"); }

// SQS's code of a refused entry in ours. Sender faults are the caller's to fix, except a message
// that is no longer in flight (someone else's doing: conflict, as the Queue contract has it).
ErrorCode entry_code(const std::string& code, bool sender_fault) {
  if (code == "MessageNotInflight" || code == "AWS.SimpleQueueService.MessageNotInflight") return ErrorCode::conflict;
  return aws::map_error(sender_fault ? 400 : 500, code);
}

template <typename Result>
Result failure(std::string id, ErrorCode code, std::string service_code, const std::string& message) {
  Result result;
  result.id = std::move(id);
  result.error = Error(code, message);
  result.service_code = std::move(service_code);
  return result;
}

// Fills the results of one request's entries (`sent`, indices into `results`) from a batch
// answer's Successful and Failed. An entry in neither is a failure (internal): SQS answers for
// every entry, and one it did not mention may or may not have been done — the same verdict for
// SendMessageBatch, DeleteMessageBatch and ChangeMessageVisibilityBatch.
template <typename Result, typename OnSuccess>
void read_batch_answer(const json& answer, const std::string& what, std::vector<Result>& results,
                       const std::vector<size_t>& sent, OnSuccess on_success) {
  const auto result_for = [&](const std::string& id) -> Result* {
    for (const size_t i : sent)
      if (results[i].id == id) return &results[i];
    return nullptr;
  };
  std::set<std::string> answered;
  if (const auto it = answer.find("Successful"); it != answer.end() && it->is_array())
    for (const auto& entry : *it)
      if (auto* result = result_for(string_field(entry, "Id"))) {
        on_success(*result, entry);
        answered.insert(result->id);
      }
  if (const auto it = answer.find("Failed"); it != answer.end() && it->is_array())
    for (const auto& entry : *it) {
      auto* result = result_for(string_field(entry, "Id"));
      if (result == nullptr) continue;
      const std::string code = string_field(entry, "Code");
      const bool sender_fault = entry.value("SenderFault", true);
      *result = failure<Result>(result->id, entry_code(code, sender_fault), code,
                                "SQS " + what + ": " + code + ": " + string_field(entry, "Message"));
      answered.insert(result->id);
    }
  for (const size_t i : sent)
    if (!answered.contains(results[i].id))
      results[i] = failure<Result>(results[i].id, ErrorCode::internal, "",
                                   "SQS " + what + ": no result for entry " + results[i].id);
}

json attributes_json(const MessageAttributes& attributes) {
  json out = json::object();
  for (const auto& [name, attribute] : attributes) {
    if (attribute.data_type.starts_with("Binary"))
      out[name] = {{"DataType", attribute.data_type}, {"BinaryValue", base64_encode(attribute.value)}};
    else
      out[name] = {{"DataType", attribute.data_type}, {"StringValue", attribute.value}};
  }
  return out;
}

MessageAttributes attributes_from(const json& message) {
  MessageAttributes out;
  const auto it = message.find("MessageAttributes");
  if (it == message.end() || !it->is_object()) return out;
  for (const auto& [name, value] : it->items()) {
    MessageAttribute attribute{string_field(value, "DataType"), ""};
    if (attribute.data_type.starts_with("Binary"))
      attribute.value = base64_decode(string_field(value, "BinaryValue"));
    else
      attribute.value = string_field(value, "StringValue");
    out.emplace(name, std::move(attribute));
  }
  return out;
}

std::vector<std::string_view> ids_of(auto entries) {
  std::vector<std::string_view> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  return ids;
}

json queue_attributes(const aws::AwsClient& client, const std::string& url, const std::vector<std::string>& names) {
  return call(client, "GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", names}})
      .value("Attributes", json::object());
}

std::string queue_arn(const aws::AwsClient& client, const std::string& url) {
  const std::string arn = string_field(queue_attributes(client, url, {"QueueArn"}), "QueueArn");
  if (arn.empty()) throw Error(ErrorCode::internal, "SQS GetQueueAttributes: no QueueArn for " + url);
  return arn;
}

std::string queue_url(const aws::AwsClient& client, const std::string& name_or_url) {
  if (is_url(name_or_url)) return name_or_url;
  return string_field(call(client, "GetQueueUrl", {{"QueueName", name_or_url}}), "QueueUrl");
}

// CreateQueue; on a queue that exists with other attributes, SetQueueAttributes instead.
std::string create_queue(const aws::AwsClient& client, const std::string& name_or_url, const json& attributes) {
  if (is_url(name_or_url)) {
    call(client, "SetQueueAttributes", {{"QueueUrl", name_or_url}, {"Attributes", attributes}});
    return name_or_url;
  }
  try {
    return string_field(call(client, "CreateQueue", {{"QueueName", name_or_url}, {"Attributes", attributes}}),
                        "QueueUrl");
  } catch (const Error& e) {
    if (std::string_view(e.what()).find("QueueAlreadyExists") == std::string_view::npos &&
        std::string_view(e.what()).find("QueueNameExists") == std::string_view::npos)
      throw;
  }
  const std::string url = queue_url(client, name_or_url);
  call(client, "SetQueueAttributes", {{"QueueUrl", url}, {"Attributes", attributes}});
  return url;
}

std::string seconds_text(milliseconds value) { return std::to_string(whole_seconds(value)); }

}  // namespace

std::string sqs_queue_name(std::string_view url_or_arn) {
  while (url_or_arn.ends_with('/')) url_or_arn.remove_suffix(1);
  const auto cut = url_or_arn.find_last_of("/:");
  return std::string(cut == std::string_view::npos ? url_or_arn : url_or_arn.substr(cut + 1));
}

std::vector<std::vector<size_t>> plan_send_requests(std::span<const uint64_t> sizes, uint64_t request_bytes) {
  std::vector<std::vector<size_t>> requests;
  uint64_t bytes = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (requests.empty() || requests.back().size() == 10 || bytes + sizes[i] > request_bytes) {
      requests.emplace_back();
      bytes = 0;
    }
    requests.back().push_back(i);
    bytes += sizes[i];
  }
  return requests;
}

SqsQueue::SqsQueue(std::shared_ptr<const aws::AwsClient> client, SqsQueueOptions options) : client_(std::move(client)) {
  if (!client_) throw invalid_input("SqsQueue: no AWS client");
  if (options.queue.empty()) throw invalid_input("SqsQueue: no queue name or URL");
  try {
    open(options);
  } catch (const Error& e) {
    // SQS's QueueDoesNotExist says neither which queue nor where it was looked for.
    if (e.code() != ErrorCode::not_found) throw;
    throw Error(ErrorCode::not_found,
                "SQS queue '" + options.queue + "' does not exist (region " + client_->region() + ", endpoint " +
                    client_->endpoint() + ")" +
                    (options.create && is_url(options.queue) ? "; a queue given by URL is never created" : "") + ": " +
                    e.what());
  }
  name_ = sqs_queue_name(url_);
  looks_up_dead_letter_sources_ = !aws::is_aws_endpoint(client_->endpoint());
  // Entries are split into requests by size (plan_send_requests), so a call is limited only
  // by its entries.
  limits_.max_batch_bytes = limits_.max_message_bytes * limits_.max_batch_entries;
}

void SqsQueue::open(const SqsQueueOptions& options) {
  if (const auto& create = options.create) {
    // A queue by URL must exist; checked first, so that a mistyped URL creates no dead-letter
    // queue either.
    if (is_url(options.queue)) queue_arn(*client_, options.queue);
    if (create->message_size_limit < 1024 || create->message_size_limit > 1024 * 1024)
      throw invalid_input("SqsQueue: message_size_limit must be 1024 to 1048576 bytes, not " +
                          std::to_string(create->message_size_limit));
    json attributes = {{"VisibilityTimeout", seconds_text(create->visibility_timeout)},
                       {"MessageRetentionPeriod", seconds_text(create->retention)},
                       {"MaximumMessageSize", std::to_string(create->message_size_limit)}};
    if (!create->dead_letter_queue.empty()) {
      std::string dlq_url;
      try {
        dlq_url = queue_url(*client_, create->dead_letter_queue);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::not_found) throw;
        dlq_url = create_queue(*client_, create->dead_letter_queue,
                               {{"MessageRetentionPeriod", std::to_string(kDeadLetterRetention.count())},
                                {"MaximumMessageSize", std::to_string(create->message_size_limit)}});
      }
      const json policy = {{"deadLetterTargetArn", queue_arn(*client_, dlq_url)},
                           {"maxReceiveCount", std::to_string(create->max_receive_count)}};
      attributes["RedrivePolicy"] = policy.dump();
    }
    url_ = create_queue(*client_, options.queue, attributes);
    limits_.max_message_bytes = create->message_size_limit;
  } else {
    url_ = queue_url(*client_, options.queue);
    const int64_t size = int_field(queue_attributes(*client_, url_, {"MaximumMessageSize"}), "MaximumMessageSize");
    if (size > 0) limits_.max_message_bytes = static_cast<uint64_t>(size);
  }
  if (url_.empty()) throw Error(ErrorCode::internal, "SQS: no QueueUrl in the answer for " + options.queue);
}

SqsQueue::~SqsQueue() = default;

std::vector<SendResult> SqsQueue::send(std::span<const SendEntry> entries) {
  check_batch_ids(ids_of(entries), limits_.max_batch_entries, "send");
  uint64_t total = 0;
  for (const auto& e : entries) total += message_size(e.body, e.attributes);
  if (total > limits_.max_batch_bytes)
    throw invalid_input("send: the batch holds " + std::to_string(total) + " bytes, more than the limit of " +
                        std::to_string(limits_.max_batch_bytes));

  std::vector<SendResult> results(entries.size());
  std::vector<size_t> valid;
  std::vector<uint64_t> sizes;
  for (size_t i = 0; i < entries.size(); ++i) {
    results[i].id = entries[i].id;
    if (auto violation = check_send_entry(entries[i], limits_)) {
      results[i] =
          failure<SendResult>(entries[i].id, ErrorCode::invalid_input, violation->service_code, violation->message);
      continue;
    }
    valid.push_back(i);
    sizes.push_back(message_size(entries[i].body, entries[i].attributes));
  }
  const auto requests = plan_send_requests(sizes);
  for (size_t r = 0; r < requests.size(); ++r) {
    const auto& request = requests[r];
    json batch = json::array();
    for (const size_t k : request) {
      const SendEntry& e = entries[valid[k]];
      json entry = {{"Id", e.id},
                    {"MessageBody", e.body},
                    {"DelaySeconds", whole_seconds(check_duration(e.delay, limits_.max_delay, limits_.time_granularity,
                                                                  "send: delay"))}};
      if (!e.attributes.empty()) entry["MessageAttributes"] = attributes_json(e.attributes);
      batch.push_back(std::move(entry));
    }
    std::vector<size_t> sent;
    for (const size_t k : request) sent.push_back(valid[k]);
    json answer;
    try {
      answer = call(*client_, "SendMessageBatch", {{"QueueUrl", url_}, {"Entries", batch}});
    } catch (const Error& e) {
      // Nothing of this call is in the queue yet: the whole call failed, and resending it all
      // is safe.
      if (r == 0) throw;
      // The earlier requests' messages are in the queue: throwing would lose their results and
      // have them sent twice. This request's entries, and the later ones not sent, fail with
      // the request's error (throttled or transient ones are the caller's to send again).
      for (size_t later = r; later < requests.size(); ++later)
        for (const size_t k : requests[later])
          results[valid[k]] = failure<SendResult>(
              entries[valid[k]].id, e.code(), "",
              later == r
                  ? std::string(e.what())
                  : "not sent: an earlier SendMessageBatch request of this call failed: " + std::string(e.what()));
      return results;
    }
    read_batch_answer(answer, "SendMessageBatch", results, sent, [&](SendResult& result, const json& entry) {
      result.message_id = string_field(entry, "MessageId");
      if (result.message_id.empty()) {
        result = failure<SendResult>(result.id, ErrorCode::internal, "",
                                     "SQS SendMessageBatch: no MessageId for entry " + result.id);
        return;
      }
      // SQS's MD5 of what it stored against ours of what we sent, as the SDKs check it: a body
      // damaged on the way fails its entry (transient: the producer sends it again).
      const std::string md5 = string_field(entry, "MD5OfMessageBody");
      const auto sent_entry =
          std::find_if(entries.begin(), entries.end(), [&](const SendEntry& e) { return e.id == result.id; });
      if (!md5.empty() && sent_entry != entries.end() && md5 != md5_hex(sent_entry->body))
        result =
            failure<SendResult>(result.id, ErrorCode::transient, "",
                                "SQS SendMessageBatch: MD5OfMessageBody does not match the body of entry " + result.id);
    });
  }
  return results;
}

std::vector<ReceivedMessage> SqsQueue::receive(const ReceiveRequest& request) {
  if (request.max_messages < 1 || request.max_messages > limits_.max_receive_messages)
    throw invalid_input("receive: max_messages must be 1 to " + std::to_string(limits_.max_receive_messages) +
                        ", not " + std::to_string(request.max_messages));
  const milliseconds wait = check_duration(request.wait, limits_.max_wait, limits_.time_granularity, "receive: wait");
  json body = {{"QueueUrl", url_},
               {"MaxNumberOfMessages", request.max_messages},
               {"WaitTimeSeconds", whole_seconds(wait)},
               {"AttributeNames", {"All"}},
               {"MessageSystemAttributeNames", {"All"}},
               {"MessageAttributeNames", {"All"}}};
  if (request.visibility_timeout)
    body["VisibilityTimeout"] =
        whole_seconds(check_duration(*request.visibility_timeout, limits_.max_visibility_timeout,
                                     limits_.time_granularity, "receive: visibility timeout"));
  const json answer = call(*client_, "ReceiveMessage", body);
  std::vector<ReceivedMessage> messages;
  const auto list = answer.find("Messages");
  if (list == answer.end() || !list->is_array()) return messages;
  for (const auto& m : *list) {
    ReceivedMessage message;
    // An answer of another shape is SQS's (or a proxy's) fault, not the message's: Error, never
    // a JSON library's exception from a worker thread, and never a message without a handle.
    if (!m.is_object())
      throw Error(ErrorCode::internal, "SQS ReceiveMessage: a message of the answer is not a JSON object");
    message.message_id = string_field(m, "MessageId");
    message.receipt_handle = string_field(m, "ReceiptHandle");
    message.body = string_field(m, "Body");
    if (message.message_id.empty() || message.receipt_handle.empty())
      throw Error(ErrorCode::internal, "SQS ReceiveMessage: a message of the answer has no MessageId or ReceiptHandle");
    // As the SDKs do: a body that does not match its MD5 was damaged on the way. The call fails
    // (transient: the messages come back after their visibility timeout, and one that keeps
    // failing runs out of receives into the dead-letter queue).
    if (const std::string md5 = string_field(m, "MD5OfBody"); !md5.empty() && md5 != md5_hex(message.body))
      throw Error(ErrorCode::transient,
                  "SQS ReceiveMessage: the body of message " + message.message_id + " does not match its MD5OfBody");
    message.attributes = attributes_from(m);
    if (const auto id = message.attributes.find(std::string(kIdAttribute)); id != message.attributes.end()) {
      message.message_id = id->second.value;
      message.attributes.erase(id);
    }
    const json system = m.value("Attributes", json::object());
    message.receive_count = int_field(system, "ApproximateReceiveCount");
    message.sent_at = Millis(milliseconds(int_field(system, "SentTimestamp")));
    message.first_received_at = Millis(milliseconds(int_field(system, "ApproximateFirstReceiveTimestamp")));
    const std::string source = dead_letter_source(string_field(system, "DeadLetterQueueSourceArn"));
    if (!source.empty())
      message.dead_letter = DeadLetterInfo{.source_queue = source,
                                           .receive_count = std::max<int64_t>(message.receive_count - 1, 0),
                                           .last_error = "",
                                           .moved_at = Millis{}};
    messages.push_back(std::move(message));
  }
  return messages;
}

std::string SqsQueue::dead_letter_source(const std::string& source_arn) {
  if (!source_arn.empty()) return sqs_queue_name(source_arn);
  // SQS sends DeadLetterQueueSourceArn with every dead letter; a message without it is none.
  if (!looks_up_dead_letter_sources_) return "";
  const std::lock_guard lock(source_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (!source_ || (source_->name.empty() && now - source_->looked_at > kSourceLookupEvery)) {
    const json answer = call(*client_, "ListDeadLetterSourceQueues", {{"QueueUrl", url_}, {"MaxResults", 1}});
    DeadLetterSource found{.name = "", .looked_at = now};
    if (const auto urls = answer.find("queueUrls"); urls != answer.end() && urls->is_array() && !urls->empty())
      found.name = sqs_queue_name(urls->front().get<std::string>());
    source_ = found;
  }
  return source_->name;
}

std::vector<EntryResult> SqsQueue::delete_messages(std::span<const DeleteEntry> entries) {
  check_batch_ids(ids_of(entries), limits_.max_batch_entries, "delete");
  std::vector<EntryResult> results(entries.size());
  std::vector<size_t> sent;  // indices of the entries in `batch`
  json batch = json::array();
  for (size_t i = 0; i < entries.size(); ++i) {
    results[i].id = entries[i].id;
    if (entries[i].receipt_handle.empty()) {
      results[i] = failure<EntryResult>(entries[i].id, ErrorCode::invalid_input, "ReceiptHandleIsInvalid",
                                        "delete: an empty receipt handle");
      continue;
    }
    batch.push_back({{"Id", entries[i].id}, {"ReceiptHandle", entries[i].receipt_handle}});
    sent.push_back(i);
  }
  if (batch.empty()) return results;
  const json answer = call(*client_, "DeleteMessageBatch", {{"QueueUrl", url_}, {"Entries", batch}});
  read_batch_answer(answer, "DeleteMessageBatch", results, sent, [](EntryResult&, const json&) {});
  return results;
}

std::vector<EntryResult> SqsQueue::change_visibility(std::span<const VisibilityChange> entries) {
  check_batch_ids(ids_of(entries), limits_.max_batch_entries, "change visibility");
  std::vector<EntryResult> results(entries.size());
  std::vector<size_t> sent;  // indices of the entries in `batch`
  json batch = json::array();
  for (size_t i = 0; i < entries.size(); ++i) {
    results[i].id = entries[i].id;
    milliseconds timeout{};
    try {
      timeout = check_duration(entries[i].timeout, limits_.max_visibility_timeout, limits_.time_granularity,
                               "change visibility: timeout");
    } catch (const Error& e) {
      results[i] = failure<EntryResult>(entries[i].id, e.code(), "InvalidParameterValue", e.what());
      continue;
    }
    if (entries[i].receipt_handle.empty()) {
      results[i] = failure<EntryResult>(entries[i].id, ErrorCode::invalid_input, "ReceiptHandleIsInvalid",
                                        "change visibility: an empty receipt handle");
      continue;
    }
    batch.push_back({{"Id", entries[i].id},
                     {"ReceiptHandle", entries[i].receipt_handle},
                     {"VisibilityTimeout", whole_seconds(timeout)}});
    sent.push_back(i);
  }
  if (batch.empty()) return results;
  const json answer = call(*client_, "ChangeMessageVisibilityBatch", {{"QueueUrl", url_}, {"Entries", batch}});
  read_batch_answer(answer, "ChangeMessageVisibilityBatch", results, sent, [](EntryResult&, const json&) {});
  return results;
}

QueueCounts SqsQueue::counts() {
  const json attributes = queue_attributes(
      *client_, url_,
      {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"});
  return {.visible = int_field(attributes, "ApproximateNumberOfMessages"),
          .in_flight = int_field(attributes, "ApproximateNumberOfMessagesNotVisible"),
          .delayed = int_field(attributes, "ApproximateNumberOfMessagesDelayed")};
}

void SqsQueue::purge() { call(*client_, "PurgeQueue", {{"QueueUrl", url_}}); }

std::string SqsQueue::dead_letter_queue_url() {
  const std::string policy_text = string_field(queue_attributes(*client_, url_, {"RedrivePolicy"}), "RedrivePolicy");
  const json policy = json::parse(policy_text, nullptr, false);
  const std::string arn = policy.is_object() ? string_field(policy, "deadLetterTargetArn") : std::string();
  if (arn.empty()) throw invalid_input("redrive: queue " + name_ + " has no dead-letter queue (no RedrivePolicy)");
  // arn:aws:sqs:REGION:ACCOUNT:NAME
  const auto parts = std::vector<std::string>{[&] {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t colon; (colon = arn.find(':', start)) != std::string::npos; start = colon + 1)
      out.push_back(arn.substr(start, colon - start));
    out.push_back(arn.substr(start));
    return out;
  }()};
  json request = {{"QueueName", sqs_queue_name(arn)}};
  if (parts.size() == 6 && !parts[4].empty()) request["QueueOwnerAWSAccountId"] = parts[4];
  return string_field(call(*client_, "GetQueueUrl", request), "QueueUrl");
}

int64_t SqsQueue::redrive_dead_letters(int64_t max_messages) {
  const std::string dlq_url = dead_letter_queue_url();
  SqsQueue dead_letters(client_, {.queue = dlq_url});
  int64_t moved = 0;
  while (moved < max_messages) {
    const size_t n = static_cast<size_t>(std::min<int64_t>(10, max_messages - moved));
    // Held long enough to send and delete them; a failure lets them come back there.
    auto got = dead_letters.receive({n, std::chrono::seconds(60), milliseconds(0)});
    if (got.empty()) break;
    std::vector<SendEntry> sends;
    std::vector<DeleteEntry> deletes;
    std::vector<VisibilityChange> others;
    for (size_t i = 0; i < got.size(); ++i) {
      const std::string id = "m" + std::to_string(i);
      if (got[i].dead_letter && got[i].dead_letter->source_queue != name_) {
        others.push_back({id, got[i].receipt_handle, milliseconds(0), ""});
        continue;
      }
      SendEntry entry{id, got[i].body, milliseconds(0), got[i].attributes};
      if (entry.attributes.size() < limits_.max_attributes)
        entry.attributes[std::string(kIdAttribute)] = {"String", got[i].message_id};
      sends.push_back(std::move(entry));
      deletes.push_back({id, got[i].receipt_handle});
    }
    if (!others.empty()) dead_letters.change_visibility(others);
    if (sends.empty()) break;  // only other queues' dead letters are visible
    const auto sent = send(sends);
    // Those sent leave the dead-letter queue even when others were not (a send can fail part
    // way): kept there, they would be redriven twice. The others stay for the next redrive.
    std::vector<DeleteEntry> done;
    std::optional<Error> failed;
    for (size_t i = 0; i < sent.size(); ++i) {
      if (sent[i].ok())
        done.push_back(deletes[i]);
      else if (!failed)
        failed = *sent[i].error;
    }
    if (!done.empty())
      for (const auto& r : dead_letters.delete_messages(done))
        if (!r.ok()) throw *r.error;
    if (failed) throw *failed;
    moved += static_cast<int64_t>(done.size());
  }
  return moved;
}

}  // namespace sentiflow
