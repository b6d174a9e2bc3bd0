#include "pipeline/consumer.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>

#include "core/digest.h"
#include "core/json_text.h"
#include "observe/log.h"
#include "pipeline/cost.h"
#include "pipeline/message.h"
#include "pipeline/retry.h"

namespace sentiflow::pipeline {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The labels in the order of their enum values.
constexpr std::array kLabels = {sentiment::Label::positive, sentiment::Label::negative, sentiment::Label::neutral,
                                sentiment::Label::mixed};
static_assert(static_cast<int>(sentiment::Label::positive) == 0 && static_cast<int>(sentiment::Label::mixed) == 3);

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

int64_t to_ms(Millis t) { return t.time_since_epoch().count(); }

Millis parse_ms(const nlohmann::json& attributes, const char* name) {
  const auto it = attributes.find(name);
  if (it == attributes.end() || !it->is_string()) return Millis{};
  try {
    return Millis{std::chrono::milliseconds(std::stoll(it->get<std::string>()))};
  } catch (const std::exception&) {
    throw invalid_input(fmt::format("the SQS event's attribute {} is not a number of milliseconds", name));
  }
}

// One record on its way through handle().
struct Work {
  const SqsEventRecord* record;
  std::optional<Message> message;
  std::string text;
  bool needs_fetch = false;
  std::optional<ErrorRecord> error;
};

// The batch's work in what AWS bills by (pipeline/cost.h), added to each of its runs' tally.
void add_billed_work(const std::vector<Work>& work, const std::map<std::string, int64_t>& units_by_run, double seconds,
                     const std::string& unknown_run, BatchOutcome& outcome) {
  std::map<std::string, std::vector<int64_t>> sizes_by_run;  // the run's message bodies, in order
  std::map<std::string, int64_t> deleted_by_run;             // its messages that succeeded (deleted)
  for (const Work& w : work) {
    const std::string& run = w.message ? w.message->run : unknown_run;
    sizes_by_run[run].push_back(static_cast<int64_t>(w.record->body.size()));
    if (!w.error) ++deleted_by_run[run];
  }
  for (const auto& [run, sizes] : sizes_by_run) {
    BilledWork& billed = outcome.runs[run].work;
    const auto units = units_by_run.find(run);
    billed.comprehend_units += units == units_by_run.end() ? 0 : units->second;
    billed.sqs_requests += sqs_batched_requests(sizes) + sqs_delete_requests(deleted_by_run[run]);
    billed.batches += 1;
    billed.batch_ms += std::llround(seconds * 1000 * static_cast<double>(sizes.size()) /
                                    static_cast<double>(std::max<size_t>(1, work.size())));
  }
}

}  // namespace

SqsEvent make_sqs_event(std::vector<ReceivedMessage> messages, const std::string& queue_arn,
                        const std::string& region) {
  SqsEvent event;
  event.records.reserve(messages.size());
  for (ReceivedMessage& m : messages) {
    SqsEventRecord r;
    r.message_id = std::move(m.message_id);
    r.receipt_handle = std::move(m.receipt_handle);
    r.body = std::move(m.body);  // md5_of_body: computed by to_json, the only reader
    r.receive_count = m.receive_count;
    r.sent_at = m.sent_at;
    r.first_received_at = m.first_received_at;
    r.sender_id = "sentiflow";
    r.message_attributes = std::move(m.attributes);
    r.event_source_arn = queue_arn;
    r.aws_region = region;
    event.records.push_back(std::move(r));
  }
  return event;
}

std::string to_json(const SqsEvent& event) {
  nlohmann::json records = nlohmann::json::array();
  for (const SqsEventRecord& r : event.records) {
    nlohmann::json attributes = nlohmann::json::object();
    for (const auto& [name, a] : r.message_attributes) {
      const bool binary = a.data_type.starts_with("Binary");
      nlohmann::json value = {{"stringListValues", nlohmann::json::array()},
                              {"binaryListValues", nlohmann::json::array()},
                              {"dataType", a.data_type}};
      value[binary ? "binaryValue" : "stringValue"] = binary ? base64_encode(a.value) : a.value;
      attributes[name] = std::move(value);
    }
    records.push_back({{"messageId", r.message_id},
                       {"receiptHandle", r.receipt_handle},
                       {"body", r.body},
                       {"attributes",
                        {{"ApproximateReceiveCount", std::to_string(r.receive_count)},
                         {"SentTimestamp", std::to_string(to_ms(r.sent_at))},
                         {"SenderId", r.sender_id},
                         {"ApproximateFirstReceiveTimestamp", std::to_string(to_ms(r.first_received_at))}}},
                       {"messageAttributes", std::move(attributes)},
                       {"md5OfBody", r.md5_of_body.empty() ? md5_hex(r.body) : r.md5_of_body},
                       {"eventSource", "aws:sqs"},
                       {"eventSourceARN", r.event_source_arn},
                       {"awsRegion", r.aws_region}});
  }
  return nlohmann::json{{"Records", std::move(records)}}.dump();
}

SqsEvent parse_sqs_event(std::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("Records") || !doc["Records"].is_array())
    throw invalid_input("the event is not an SQS event: it needs a \"Records\" array");
  SqsEvent event;
  for (size_t i = 0; i < doc["Records"].size(); ++i) {
    const nlohmann::json& j = doc["Records"][i];
    const auto text = [&](const char* name) {
      if (!j.is_object() || !j.contains(name) || !j[name].is_string())
        throw invalid_input(fmt::format("the SQS event's record {} has no string \"{}\"", i, name));
      return j[name].get<std::string>();
    };
    SqsEventRecord r;
    // A member of the wrong type anywhere in the record is the event's fault (invalid_input,
    // exit status 2 for `sentiflow invoke`), never a JSON library's exception.
    try {
      r.message_id = text("messageId");
      r.receipt_handle = text("receiptHandle");
      r.body = text("body");
      r.md5_of_body = j.value("md5OfBody", "");
      r.event_source_arn = j.value("eventSourceARN", "");
      r.aws_region = j.value("awsRegion", "");
      const nlohmann::json attributes = j.value("attributes", nlohmann::json::object());
      if (attributes.contains("ApproximateReceiveCount")) {
        try {
          r.receive_count = std::stoll(attributes["ApproximateReceiveCount"].get<std::string>());
        } catch (const std::exception&) {
          throw invalid_input(fmt::format("the SQS event's record {} has a bad ApproximateReceiveCount", i));
        }
      }
      r.sent_at = parse_ms(attributes, "SentTimestamp");
      r.first_received_at = parse_ms(attributes, "ApproximateFirstReceiveTimestamp");
      r.sender_id = attributes.value("SenderId", "");
      const auto attributes_it = j.find("messageAttributes");
      if (attributes_it != j.end() && !attributes_it->is_object())
        throw invalid_input(
            fmt::format("the SQS event's record {} has \"messageAttributes\" that is not an object", i));
      if (attributes_it != j.end())
        for (const auto& [name, value] : attributes_it->items()) {
          const std::string type = value.value("dataType", "String");
          r.message_attributes[name] =
              MessageAttribute{type, type.starts_with("Binary") ? base64_decode(value.value("binaryValue", ""))
                                                                : value.value("stringValue", "")};
        }
    } catch (const nlohmann::json::exception& e) {
      throw invalid_input(fmt::format("the SQS event's record {} is malformed: {}", i, e.what()));
    }
    event.records.push_back(std::move(r));
  }
  return event;
}

RunTally& RunTally::operator+=(const RunTally& other) {
  processed += other.processed;
  failed += other.failed;
  dead_letters += other.dead_letters;
  for (const auto& [label, count] : other.labels) labels[label] += count;
  work += other.work;
  return *this;
}

BatchOutcome& BatchOutcome::operator+=(const BatchOutcome& other) {
  failures.insert(failures.end(), other.failures.begin(), other.failures.end());
  reasons.insert(other.reasons.begin(), other.reasons.end());
  for (const auto& [key, fingerprint] : other.fingerprints) fingerprints[key] = fingerprint;
  for (const auto& [run, tally] : other.runs) runs[run] += tally;
  return *this;
}

std::string batch_response_json(const BatchOutcome& outcome) {
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& id : outcome.failures) failures.push_back({{"itemIdentifier", id}});
  return nlohmann::json{{"batchItemFailures", std::move(failures)}}.dump();
}

Consumer::Consumer(ConsumerOptions options, const sentiment::Analyzer& analyzer, Sink& sink, Enricher* enricher,
                   Metrics& metrics)
    : options_(std::move(options)),
      analyzer_(analyzer),
      sink_(sink),
      enricher_(enricher),
      metrics_(metrics),
      batch_seconds_(metrics.histogram("sentiflow_batch_seconds", "Time to handle one batch of messages.")),
      sentiment_seconds_(metrics.histogram("sentiflow_sentiment_seconds", "Time of one sentiment call for a batch.")),
      end_to_end_seconds_(metrics.histogram("sentiflow_end_to_end_seconds",
                                            "Time from a message's send to its result being stored.")) {}

BatchOutcome Consumer::handle(const SqsEvent& event) const {
  const auto started = SteadyClock::now();
  std::vector<Work> work(event.records.size());

  // Read each body and find its text.
  std::vector<size_t> to_fetch;
  for (size_t i = 0; i < work.size(); ++i) {
    Work& w = work[i];
    w.record = &event.records[i];
    const auto fail = [&](std::string run, std::string key, std::string_view code, std::string reason) {
      w.error = ErrorRecord{
          std::move(run),    std::move(key), w.record->message_id, w.record->receive_count, std::string(code),
          std::move(reason), Millis{}};
    };
    try {
      w.message = decode_message(w.record->body);
    } catch (const Error& e) {
      fail(options_.unknown_run, "", error_codes::kBadMessage, e.what());
      continue;
    }
    std::optional<std::string> text;
    if (options_.text_attribute) {  // the item was checked with the body: a quick walk finds the text
      if (const auto value = find_member_unchecked(w.message->item, *options_.text_attribute))
        text = json_string_value(*value);
    }
    if (text) {
      w.text = std::move(*text);
    } else if (enricher_) {
      w.needs_fetch = true;
      to_fetch.push_back(i);
    } else {
      fail(w.message->run, w.message->key, error_codes::kMissingText,
           fmt::format("the item has no string attribute '{}' (source.text) and there is no enrich step",
                       options_.text_attribute.value_or("")));
    }
  }

  // Fetch the texts that are not in the items, all at once.
  if (!to_fetch.empty()) {
    std::vector<JsonObject> items;
    items.reserve(to_fetch.size());
    std::vector<Enricher::AttributeLookup> lookups;
    for (size_t i : to_fetch) items.push_back(parse_json_object(work[i].message->item, "the item"));
    for (const JsonObject& item : items)
      lookups.emplace_back([&item](std::string_view name) -> std::optional<std::string> {
        const JsonMember* m = item.find(name);
        return m ? json_scalar_text(m->value) : std::nullopt;
      });
    std::vector<Enricher::Outcome> fetched;
    try {
      fetched = enricher_->fetch_all(lookups);
    } catch (const std::exception& e) {  // fetch_all reports per item; this is the unexpected
      fetched.assign(lookups.size(), Enricher::Outcome{"", Error(ErrorCode::internal, e.what())});
    }
    for (size_t j = 0; j < to_fetch.size(); ++j) {
      Work& w = work[to_fetch[j]];
      if (fetched[j].ok()) {
        w.text = fetched[j].text;
      } else {
        w.error = ErrorRecord{w.message->run,
                              w.message->key,
                              w.record->message_id,
                              w.record->receive_count,
                              std::string(error_codes::kEnrichFailed),
                              fetched[j].error->what(),
                              Millis{}};
      }
    }
  }

  // Analyse every text of the batch in one call.
  std::vector<size_t> analysed;
  std::vector<std::string_view> documents;
  for (size_t i = 0; i < work.size(); ++i)
    if (!work[i].error) {
      analysed.push_back(i);
      documents.push_back(work[i].text);
    }
  std::vector<sentiment::Result> results(documents.size());
  const auto analysis_started = SteadyClock::now();
  try {
    analyzer_.analyze(documents, results);
  } catch (const Error& e) {
    for (auto& r : results) r.error = e;
  } catch (const std::exception& e) {  // a bug or bad_alloc: the batch's records fail, not the worker
    for (auto& r : results) r.error = Error(ErrorCode::internal, e.what());
  }
  sentiment_seconds_.observe(seconds_since(analysis_started));
  std::map<std::string, int64_t> units_by_run;  // what Comprehend would bill for these texts
  for (size_t j = 0; j < analysed.size(); ++j)
    units_by_run[work[analysed[j]].message->run] += comprehend_units(documents[j]);

  // Group the results by run and store each run's records as one object.
  const Millis processed_at = now_millis();
  std::map<std::string, std::vector<size_t>> by_run;  // run -> indexes into analysed
  for (size_t j = 0; j < analysed.size(); ++j) {
    Work& w = work[analysed[j]];
    if (!results[j].ok()) {
      w.error = ErrorRecord{w.message->run,
                            w.message->key,
                            w.record->message_id,
                            w.record->receive_count,
                            std::string(error_codes::kAnalysisFailed),
                            results[j].error->what(),
                            Millis{}};
      continue;
    }
    by_run[w.message->run].push_back(j);
  }
  BatchOutcome outcome;
  for (const auto& [run, indexes] : by_run) {
    std::vector<ResultRecord> records;
    std::vector<std::string> ids;
    records.reserve(indexes.size());
    for (size_t j : indexes) {
      Work& w = work[analysed[j]];
      ids.push_back(w.record->message_id);
      records.push_back(ResultRecord{run, w.message->key, std::move(w.text), results[j].sentiment,
                                     std::string(analyzer_.engine()), std::move(w.message->item), processed_at,
                                     w.message->attempt});
    }
    // A result that cannot be stored is not the message's fault: it is not failed (an error
    // record and, after its receives, a dead letter) but the batch is, as a whole, once the
    // retries are spent, so that the caller can wait for the sink (local/worker_pool.h,
    // "Sink outages") instead of spending the messages' receives.
    try {
      // Init-captures: clang 14 (`make fuzz`) cannot capture a structured binding itself.
      with_retries([&, &run = run] { return sink_.put_results(run, ids, records); });
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("storing the results of run '{}': {}", run, e.what()));
    }
    RunTally& tally = outcome.runs[run];
    ++tally.work.objects;
    for (size_t j : indexes)
      if (const Work& w = work[analysed[j]]; !w.message->fingerprint.empty())
        outcome.fingerprints[w.message->key] = w.message->fingerprint;
    std::array<int64_t, kLabels.size()> per_label{};
    for (size_t k = 0; k < records.size(); ++k) {
      ++per_label[static_cast<size_t>(records[k].sentiment.label)];
      const Millis sent_at = work[analysed[indexes[k]]].record->sent_at;
      if (sent_at.time_since_epoch().count() > 0)
        end_to_end_seconds_.observe(std::chrono::duration<double>(processed_at - sent_at).count());
    }
    // Counted per batch, not per record: a metric lookup takes the registry's lock.
    for (size_t l = 0; l < kLabels.size(); ++l) {
      if (per_label[l] == 0) continue;
      const std::string label(sentiment::to_string(kLabels[l]));
      tally.labels[label] += per_label[l];
      metrics_
          .counter("sentiflow_records_processed_total", "Records analysed and stored, by sentiment label.",
                   {{"label", label}})
          .add(static_cast<double>(per_label[l]));
    }
    tally.processed += static_cast<int64_t>(records.size());
  }

  // Failures: error records (one object per run), then the ReportBatchItemFailures answer.
  std::map<std::string, std::vector<ErrorRecord>> errors_by_run;
  for (Work& w : work) {
    if (!w.error) continue;
    w.error->at = processed_at;
    outcome.failures.push_back(w.record->message_id);
    outcome.reasons[w.record->message_id] = fmt::format("{}: {}", w.error->code, w.error->reason);
    RunTally& tally = outcome.runs[w.error->run];
    ++tally.failed;
    if (options_.max_receive_count > 0 && w.record->receive_count >= options_.max_receive_count) ++tally.dead_letters;
    metrics_
        .counter("sentiflow_records_failed_total", "Messages that failed in the consumer, by error code.",
                 {{"code", w.error->code}})
        .add();
    errors_by_run[w.error->run].push_back(std::move(*w.error));
  }
  for (const auto& [run, records] : errors_by_run) {
    ++outcome.runs[run].work.objects;
    try {
      with_retries([&, &run = run, &records = records] { return sink_.put_errors(run, records); });
    } catch (const Error& e) {
      // The failures still come back (they are not deleted) and will be recorded on a later
      // receive; but the caller must know that this batch's records are missing.
      log::warn("could not store error records", {{"run", run}, {"error", e.what()}});
      throw;
    }
  }
  const double seconds = seconds_since(started);
  batch_seconds_.observe(seconds);
  add_billed_work(work, units_by_run, seconds, options_.unknown_run, outcome);
  return outcome;
}

}  // namespace sentiflow::pipeline
