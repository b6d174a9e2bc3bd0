// The Lambda handlers' rules for ticks and deadlines on local parts (a local:// table and queue,
// a folder sink, SqliteRunState; nothing of AWS is needed for these rules):
//   - a tick is claimed once (RunState::claim_tick): a duplicate or late delivery never creates
//     a run, only resumes the run with its own id when that exists;
//   - a rate() tick's run id is the event's time floored to the epoch-aligned period;
//   - a record handed back at the deadline on its last receive gets a `deadline` error record
//     and counts as a dead letter;
//   - a failure of any exception type while adding a batch's counts does not fail the batch.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/loader.h"
#include "observe/metrics.h"
#include "pipeline/consumer.h"
#include "pipeline/message.h"
#include "assembly/backends.h"
#include "lambda/handlers.h"
#include "state/run_state.h"
#include "state/sqlite_run_state.h"
#include "support/temp_dir.h"

namespace sentiflow::lambda {
namespace {

using nlohmann::json;
using testing_support::TempDir;

// A local pipeline in a fresh folder, with its table holding `items` items and a run state.
class LambdaTicks : public ::testing::Test {
 protected:
  void make_pipeline(const std::string& schedule = "rate(1 hour)", int items = 3) {
    std::ofstream(dir_.path() / "pipeline.yaml") << fmt::format(R"(name: ticks
schedule: {}
state_dir: state
source: {{table: local://items, key: name, text: text}}
queue: {{url: local://q, visibility_timeout: 60s, max_receive_count: 3}}
sink: {{store: out/}}
)",
                                                                schedule);
    config_ = load_pipeline_or_throw(dir_.path() / "pipeline.yaml");
    state_ = std::make_shared<SqliteRunState>(config_.state_dir);
    auto table = assembly::open_table(config_, true);
    for (int i = 0; i < items; ++i) table->put(fmt::format(R"({{"name":"k{}","text":"a great day"}})", i));
    LambdaHandlerOptions options;
    options.create_resources = true;
    producer_ = std::make_unique<ProducerHandler>(config_, state_, options);
  }

  static InvocationContext context(const std::string& request_id) {
    return InvocationContext{request_id, now_millis() + std::chrono::seconds(60), "arn", ""};
  }

  static std::string tick_event(const std::string& time) {
    return json{{"version", "0"},
                {"id", "e"},
                {"detail-type", "Scheduled Event"},
                {"source", "aws.events"},
                {"time", time},
                {"region", "eu-west-1"},
                {"resources", json::array()},
                {"detail", json::object()}}
        .dump();
  }

  json tick(const std::string& time, const std::string& request_id = "req") {
    return json::parse((*producer_)(tick_event(time), context(request_id)));
  }

  // Keeps the run unfinished (draining) while consumers would still be working: produced,
  // with a message left in the queue, so finish_if_drained leaves it be.
  void draining_run(const std::string& id) {
    state_->start_run(id, RunKind::scheduled, now_millis() - std::chrono::hours(1));
    state_->mark_produced(id, now_millis());
    auto queue = assembly::open_queue(config_, assembly::QueueAccess::work);
    const std::vector<SendEntry> entries{{"e", pipeline::encode_message(id, "x", R"({"name":"x","text":"t"})")}};
    queue->send(entries);
  }

  TempDir dir_{"lambda-ticks"};
  PipelineConfig config_;
  std::shared_ptr<SqliteRunState> state_;
  std::unique_ptr<ProducerHandler> producer_;
};

TEST_F(LambdaTicks, AClaimedTickRunsAndItsDuplicateAnswersDuplicate) {
  make_pipeline();
  const json first = tick("2026-11-26T06:00:00Z");
  EXPECT_EQ(first["status"], "produced");
  EXPECT_EQ(first["sent"], 3);
  EXPECT_EQ(state_->last_tick(), parse_utc("2026-11-26T06:00:00Z"));
  const json again = tick("2026-11-26T06:00:00Z", "req-2");
  EXPECT_EQ(again["status"], "duplicate");
  EXPECT_EQ(again["sent"], 0);
  EXPECT_EQ(state_->run("2026-11-26T06:00:00Z")->counts.sent, 3);
}

TEST_F(LambdaTicks, ADuplicateOfASkippedTickCreatesNoRunAfterTheBlockerFinished) {
  make_pipeline();
  draining_run("2026-11-26T05:00:00Z");
  const json skipped = tick("2026-11-26T06:00:00Z");
  EXPECT_EQ(skipped["status"], "skipped");
  EXPECT_EQ(state_->skipped_ticks(), 1);
  state_->mark_finished("2026-11-26T05:00:00Z", now_millis());
  // Redelivered now that nothing blocks it: still the same tick, which was skipped.
  const json duplicate = tick("2026-11-26T06:00:00Z", "req-2");
  EXPECT_EQ(duplicate["status"], "duplicate");
  EXPECT_FALSE(state_->run("2026-11-26T06:00:00Z").has_value());
  EXPECT_EQ(state_->skipped_ticks(), 1);  // counted once
  // The next tick runs normally.
  EXPECT_EQ(tick("2026-11-26T07:00:00Z", "req-3")["status"], "produced");
}

TEST_F(LambdaTicks, ADuplicateOfARedirectedTickGetsNoRunOfItsOwn) {
  make_pipeline();
  // A run still producing whose producer is gone (no lease): the tick produces it instead.
  state_->start_run("2026-11-26T05:00:00Z", RunKind::scheduled, now_millis() - std::chrono::hours(1));
  const json redirected = tick("2026-11-26T06:00:00Z");
  EXPECT_EQ(redirected["run"], "2026-11-26T05:00:00Z");
  EXPECT_EQ(redirected["status"], "produced");
  EXPECT_FALSE(state_->run("2026-11-26T06:00:00Z").has_value());
  // Redelivered while the older run drains, and again after it finished.
  EXPECT_EQ(tick("2026-11-26T06:00:00Z", "req-2")["status"], "duplicate");
  state_->mark_finished("2026-11-26T05:00:00Z", now_millis());
  const json late = tick("2026-11-26T06:00:00Z", "req-3");
  EXPECT_EQ(late["status"], "duplicate");
  EXPECT_EQ(late["run"], "2026-11-26T06:00:00Z");
  EXPECT_FALSE(state_->run("2026-11-26T06:00:00Z").has_value());
  EXPECT_EQ(state_->run("2026-11-26T05:00:00Z")->counts.sent, 3);  // produced once
}

TEST_F(LambdaTicks, ALateOlderTickIsNotRun) {
  make_pipeline();
  EXPECT_EQ(tick("2026-11-26T07:00:00Z")["status"], "produced");
  state_->mark_finished("2026-11-26T07:00:00Z", now_millis());
  const json late = tick("2026-11-26T06:00:00Z", "req-2");
  EXPECT_EQ(late["status"], "duplicate");
  EXPECT_FALSE(state_->run("2026-11-26T06:00:00Z").has_value());
  EXPECT_EQ(state_->last_tick(), parse_utc("2026-11-26T07:00:00Z"));  // never moved back
}

TEST_F(LambdaTicks, ADuplicateResumesTheTicksOwnRunWhoseProducerDied) {
  make_pipeline();
  // The first delivery claimed the tick and created its run, then died (its lease expired).
  ASSERT_TRUE(state_->claim_tick(parse_utc("2026-11-26T06:00:00Z")));
  state_->start_run("2026-11-26T06:00:00Z", RunKind::scheduled, now_millis());
  ASSERT_TRUE(state_->acquire_producer_lease("2026-11-26T06:00:00Z", "dead", now_millis() - std::chrono::minutes(20),
                                             now_millis() - std::chrono::minutes(5)));
  const json resumed = tick("2026-11-26T06:00:00Z", "req-2");
  EXPECT_EQ(resumed["status"], "produced");
  EXPECT_EQ(resumed["sent"], 3);
  EXPECT_EQ(state_->skipped_ticks(), 0);
}

TEST_F(LambdaTicks, RacingDeliveriesOfOneTickProduceItOnce) {
  make_pipeline();
  // Two warm sandboxes (each its handler and its own connection to the state) take the same
  // tick at once.
  LambdaHandlerOptions options;
  options.create_resources = true;
  ProducerHandler other(config_, std::make_shared<SqliteRunState>(config_.state_dir), options);
  json answers[2];
  std::thread a([&] { answers[0] = json::parse((*producer_)(tick_event("2026-11-26T06:00:00Z"), context("a"))); });
  std::thread b([&] { answers[1] = json::parse(other(tick_event("2026-11-26T06:00:00Z"), context("b"))); });
  a.join();
  b.join();
  std::multiset<std::string> statuses{answers[0]["status"].get<std::string>(), answers[1]["status"].get<std::string>()};
  EXPECT_EQ(statuses, (std::multiset<std::string>{"duplicate", "produced"}));
  EXPECT_EQ(answers[0]["sent"].get<int>() + answers[1]["sent"].get<int>(), 3);
  EXPECT_EQ(state_->run("2026-11-26T06:00:00Z")->counts.sent, 3);
}

TEST_F(LambdaTicks, ARateTicksRunIdIsTheEpochAlignedPeriod) {
  make_pipeline("rate(1 hour)");
  // EventBridge fires a rate rule created at 05:17:23 at 06:17:23, 07:17:23, …
  EXPECT_EQ(tick("2026-11-26T06:17:23Z")["run"], "2026-11-26T06:00:00Z");
  EXPECT_EQ(tick("2026-11-26T07:17:23Z", "r2")["run"], "2026-11-26T07:00:00Z");
  // A duplicate delivery, whatever time it carries within the period, is the same tick.
  EXPECT_EQ(tick("2026-11-26T07:17:23Z", "r3")["status"], "duplicate");
  // Exactly on the period: kept.
  EXPECT_EQ(tick("2026-11-26T08:00:00Z", "r4")["run"], "2026-11-26T08:00:00Z");
}

TEST_F(LambdaTicks, ARateOfMinutesFloorsToItsPeriodAndSchedulerMillisecondsAreDropped) {
  make_pipeline("rate(5 minutes)");
  const json answer = json::parse((*producer_)(R"({"time":"2026-11-26T06:17:42.250Z"})", context("r1")));
  EXPECT_EQ(answer["run"], "2026-11-26T06:15:00Z");
  EXPECT_EQ(answer["status"], "produced");
}

TEST_F(LambdaTicks, ACronTicksRunIdIsItsTime) {
  make_pipeline("cron(17 6 * * ? *)");
  EXPECT_EQ(tick("2026-11-26T06:17:00Z")["run"], "2026-11-26T06:17:00Z");
}

// ---------------------------------------------------------------------------------------------
// consumer

pipeline::SqsEventRecord record(const std::string& id, const std::string& body, int64_t receive_count) {
  pipeline::SqsEventRecord r;
  r.message_id = id;
  r.receipt_handle = "rh-" + id;
  r.body = body;
  r.receive_count = receive_count;
  r.event_source_arn = "arn:aws:sqs:local:000000000000:q";
  r.aws_region = "local";
  return r;
}

// The error records under `sink`'s folder for run `run`, one JSON object each.
std::vector<json> error_records(const std::filesystem::path& out, const std::string& run) {
  std::vector<json> records;
  const auto folder = out / "_errors" / ("run=" + run);
  if (!std::filesystem::exists(folder)) return records;
  for (const auto& file : std::filesystem::directory_iterator(folder)) {
    std::ifstream in(file.path());
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) records.push_back(json::parse(line));
  }
  return records;
}

std::set<std::string> failures_of(const std::string& answer) {
  const json parsed = json::parse(answer);  // kept: the loop must not walk a dead temporary
  std::set<std::string> ids;
  for (const auto& f : parsed.at("batchItemFailures")) ids.insert(f.at("itemIdentifier").get<std::string>());
  return ids;
}

TEST_F(LambdaTicks, RecordsHandedBackAtTheDeadlineOnTheirLastReceiveGetADeadlineErrorRecord) {
  make_pipeline();
  const std::string run = "2026-11-26T06:00:00Z";
  state_->start_run(run, RunKind::scheduled, now_millis());
  pipeline::SqsEvent event;
  const auto body = [&](const char* key) {
    return pipeline::encode_message(run, key, fmt::format(R"({{"name":"{}","text":"a great day"}})", key));
  };
  event.records.push_back(record("m-first", body("k0"), 1));  // comes back
  event.records.push_back(record("m-last", body("k1"), 3));   // max_receive_count: its last
  event.records.push_back(record("m-past", body("k2"), 4));   // past it (a lowered redrive policy)
  event.records.push_back(record("m-junk", "not a message", 3));
  ConsumerHandler consumer(config_, state_);
  const double failed_before = Metrics::global().value("sentiflow_records_failed_total", {{"code", "deadline"}});
  // The deadline is already here: no chunk starts, every record is handed back.
  const std::string answer = consumer(pipeline::to_json(event), InvocationContext{"late", now_millis(), "arn", ""});
  EXPECT_EQ(failures_of(answer), (std::set<std::string>{"m-first", "m-last", "m-past", "m-junk"}));

  const auto records = error_records(config_.sink.store.directory, run);
  std::set<std::string> ids;
  for (const auto& r : records) {
    EXPECT_EQ(r["code"], "deadline");
    EXPECT_EQ(r["run"], run);
    ids.insert(r["message_id"].get<std::string>());
  }
  EXPECT_EQ(ids, (std::set<std::string>{"m-last", "m-past"}));
  const auto unknown = error_records(config_.sink.store.directory, "unknown");
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0]["message_id"], "m-junk");
  EXPECT_EQ(unknown[0]["code"], "deadline");
  EXPECT_EQ(Metrics::global().value("sentiflow_records_failed_total", {{"code", "deadline"}}) - failed_before, 3);

  const RunRecord counted = *state_->run(run);
  EXPECT_EQ(counted.counts.dead_letters, 2);
  EXPECT_EQ(counted.counts.failed, 2);
  EXPECT_EQ(counted.counts.processed, 0);
}

// A RunState whose add_counts throws what a garbled answer throws (a JSON error, not an
// Error); everything else goes to the real SQLite state.
class GarbledAddCounts final : public RunState {
 public:
  explicit GarbledAddCounts(std::shared_ptr<RunState> real) : real_(std::move(real)) {}
  void add_counts(const std::string&, const RunCounts&) override {
    const json garbled = json::parse("{not json");
    ADD_FAILURE() << "parsed: " << garbled.dump();
  }

  RunRecord start_run(const std::string& id, RunKind kind, Millis now, IfFinished f) override {
    return real_->start_run(id, kind, now, f);
  }
  std::optional<RunRecord> run(const std::string& id) override { return real_->run(id); }
  std::optional<RunRecord> newest_unfinished() override { return real_->newest_unfinished(); }
  std::vector<RunRecord> recent_runs(size_t limit) override { return real_->recent_runs(limit); }
  void mark_produced(const std::string& id, Millis now) override { real_->mark_produced(id, now); }
  void mark_finished(const std::string& id, Millis now) override { real_->mark_finished(id, now); }
  bool acquire_producer_lease(const std::string& id, const std::string& owner, Millis now, Millis until) override {
    return real_->acquire_producer_lease(id, owner, now, until);
  }
  void release_producer_lease(const std::string& id, const std::string& owner) override {
    real_->release_producer_lease(id, owner);
  }
  std::vector<ScanCheckpoint> checkpoints(const std::string& id) override { return real_->checkpoints(id); }
  void save_checkpoint(const std::string& id, const ScanCheckpoint& c,
                       const std::optional<std::string>& owner) override {
    real_->save_checkpoint(id, c, owner);
  }
  std::optional<Seconds> last_tick() override { return real_->last_tick(); }
  void set_last_tick(Seconds tick) override { real_->set_last_tick(tick); }
  bool claim_tick(Seconds tick) override { return real_->claim_tick(tick); }
  int64_t skipped_ticks() override { return real_->skipped_ticks(); }
  void add_skipped_tick() override { real_->add_skipped_tick(); }
  void record_timeline(const std::string& id, const TimelinePoint& p) override { real_->record_timeline(id, p); }
  std::vector<TimelinePoint> timeline(const std::string& id) override { return real_->timeline(id); }
  std::map<std::string, std::string> fingerprints(const std::vector<std::string>& keys) override {
    return real_->fingerprints(keys);
  }
  void record_fingerprints(const std::map<std::string, std::string>& fingerprints) override {
    real_->record_fingerprints(fingerprints);
  }

 private:
  std::shared_ptr<RunState> real_;
};

TEST_F(LambdaTicks, ACountsFailureOfAnyTypeDoesNotFailTheStoredBatch) {
  make_pipeline();
  const std::string run = "2026-11-26T06:00:00Z";
  state_->start_run(run, RunKind::scheduled, now_millis());
  pipeline::SqsEvent event;
  event.records.push_back(
      record("m1", pipeline::encode_message(run, "k0", R"({"name":"k0","text":"a great day"})"), 1));
  ConsumerHandler consumer(config_, std::make_shared<GarbledAddCounts>(state_));
  const double before = Metrics::global().value("sentiflow_batch_report_failures_total");
  std::string answer;
  ASSERT_NO_THROW(answer = consumer(pipeline::to_json(event), context("c1")));
  EXPECT_TRUE(failures_of(answer).empty());  // stored: not handed back to be counted twice
  EXPECT_EQ(Metrics::global().value("sentiflow_batch_report_failures_total") - before, 1);
  size_t stored = 0;
  for (const auto& file : std::filesystem::directory_iterator(config_.sink.store.directory / ("run=" + run))) {
    (void)file;
    ++stored;
  }
  EXPECT_EQ(stored, 1u);
}

}  // namespace
}  // namespace sentiflow::lambda
