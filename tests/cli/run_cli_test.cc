// `sentiflow run|status|results` end to end, as users run them: a whole pipeline on a small
// table, poison messages and a failing enrich step, a process killed at random moments, a
// daemon stopped with SIGTERM, a second process that joins, and bad usage.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "state/scheduler_lock.h"
#include "support/run_binary.h"
#include "support/aws_env.h"
#include "support/local_server.h"
#include "support/poll.h"
#include "support/spawned.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using sentiflow::testing_support::Outcome;
using sentiflow::testing_support::poll_until;
using sentiflow::testing_support::read_whole_file;
using sentiflow::testing_support::Spawned;
using sentiflow::testing_support::TempDir;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// cpp-httplib on a free port of 127.0.0.1: /page/<name> answers {"extract": …}, except a
// 404 for names that start with "Missing".
class PageServer : public sentiflow::testing_support::LocalHttpServer {
 public:
  PageServer() : LocalHttpServer(routes) {}

 private:
  static void routes(httplib::Server& server) {
    // The enricher keeps up to 8 connections per process open: one thread for each (and
    // then some), or a second process waits for the first one's idle connections to time out.
    server.new_task_queue = [] { return new httplib::ThreadPool(48); };
    server.set_keep_alive_max_count(100000);
    server.Get(R"(/page/(.+))", [](const httplib::Request& req, httplib::Response& res) {
      const std::string name = req.matches[1];
      if (name.starts_with("Missing")) {
        res.status = 404;
        res.set_content(R"({"title": "Not found."})", "application/json");
        return;
      }
      res.set_content(nlohmann::json{{"extract", name + " is a wonderful and happy company"}}.dump(),
                      "application/json");
    });
  }
};

// A seed line: an item whose description VADER finds positive, negative or neutral.
std::string seed_item(int i) {
  static const char* const kTexts[] = {"a wonderful, great and happy company", "a terrible, awful and sad failure",
                                       "a company that makes tables", "good products but horrible service"};
  char key[32];
  std::snprintf(key, sizeof key, "item-%06d", i);
  return nlohmann::json{{"name", key}, {"description", kTexts[i % 4]}}.dump() + "\n";
}

// A pipeline folder of its own: pipeline.yaml, its seed, its state and out/ beside it.
class RunCli : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_.path() / name, std::ios::binary) << text;
  }
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }
  std::string file() const { return path("pipeline.yaml"); }
  std::string quoted_file() const { return "'" + file() + "'"; }

  // A seed of `n` good items.
  void write_seed(int n, const std::string& name = "seed.jsonl") const {
    std::string text;
    for (int i = 0; i < n; ++i) text += seed_item(i);
    write(name, text);
  }

  // A consumer that fetches each item's text from a PageServer, at most `rate` requests a
  // second. The rate limit gives a run a floor on its length whatever the machine's speed
  // (this pipeline does ~50,000 items/s without it), so that kills, signals and a second
  // process land while the run is still going.
  std::string rate_limited_consumer(const std::string& rest, int rate) {
    if (!server_) server_.emplace();
    return "{" + rest + ", enrich: {url: 'http://127.0.0.1:" + std::to_string(server_->port()) +
           "/page/{name}', text: /extract, rate_limit: " + std::to_string(rate) + ", concurrency: 8}}";
  }

  // A pipeline over local://items with the given extra sections (YAML flow maps).
  void write_pipeline(const std::string& source, const std::string& queue, const std::string& consumer,
                      const std::string& extra = "") const {
    write("pipeline.yaml",
          "name: run-cli-test\n"
          "state_dir: state\n" +
              extra + "source: " + source + "\nqueue: " + queue + "\nconsumer: " + consumer +
              "\nsink: {store: out/}\n");
  }

  Outcome run(const std::string& args) const {
    return sentiflow::testing_support::run_sentiflow(args, {.cwd = dir_.path()});
  }

  Spawned spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
    const int n = spawned_++;
    return Spawned(SENTIFLOW_BINARY, args,
                   {.env = env,
                    .out = dir_.path() / ("p" + std::to_string(n) + ".out"),
                    .err = dir_.path() / ("p" + std::to_string(n) + ".err")});
  }

  // The environment that loads the disk-fault shim (tests/support/fault_shim.c) over the
  // folder `tree` of the test's directory, armed by writing the file `fault` there (arm_fault).
  std::map<std::string, std::string> fault_env(const std::string& tree) const {
    return {{"LD_PRELOAD", SENTIFLOW_FAULT_SHIM},
            {"SENTIFLOW_FAULT_PATH", path(tree)},
            {"SENTIFLOW_FAULT_CONTROL", path("fault")}};
  }
  void arm_fault(const std::string& text) const { write("fault", text); }
  void disarm_fault() const { std::filesystem::remove(dir_.path() / "fault"); }

  // Polls (15 s at most) until the newest run has stored something: what the test does next
  // lands in the middle of it.
  bool storing() const {
    return poll_until(
        [&] {
          const auto s = status();
          return !s["runs"].empty() && s["runs"][0]["processed"].get<int64_t>() > 0;
        },
        seconds(15), milliseconds(50));
  }

  nlohmann::json status() const {
    const Outcome r = run("status " + quoted_file() + " --json");
    EXPECT_EQ(r.status, 0) << r.err;
    return r.status == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  }

  std::vector<nlohmann::json> results(const std::string& args = "") const {
    const Outcome r = run("results " + quoted_file() + " " + args);
    EXPECT_EQ(r.status, 0) << r.err;
    return json_lines(r.out);
  }

  // Every (run, key) of the results; fails the test when one comes twice or out of order.
  static std::map<std::string, std::set<std::string>> keys_by_run(const std::vector<nlohmann::json>& records) {
    std::map<std::string, std::set<std::string>> out;
    std::pair<std::string, std::string> previous;
    for (const auto& r : records) {
      std::pair<std::string, std::string> id{r.at("run").get<std::string>(), r.at("key").get<std::string>()};
      EXPECT_LT(previous, id) << "results not sorted or (run, key) twice: " << id.first << " " << id.second;
      previous = id;
      out[id.first].insert(id.second);
    }
    return out;
  }

  static std::set<std::string> expected_keys(int n) {
    std::set<std::string> keys;
    for (int i = 0; i < n; ++i) keys.insert(nlohmann::json::parse(seed_item(i)).at("name").get<std::string>());
    return keys;
  }

  TempDir dir_{"run-cli"};
  std::optional<PageServer> server_;
  int spawned_ = 0;
};

TEST_F(RunCli, EndToEndOnASmallTable) {
  std::string seed;
  for (int i = 0; i < 40; ++i) {
    if (i == 9) seed += "{\"name\": \"broken\", \"description\": \n";  // line 10: not JSON
    if (i == 20) seed += "{\"name\": \"no-text\"}\n";                  // line 22: no description
    seed += seed_item(i);
  }
  write("seed.jsonl", seed);
  write_pipeline("{table: local://items, key: name, text: description, seed: seed.jsonl, page_size: 7}",
                 "{url: local://producer, visibility_timeout: 5s}", "{batch_size: 4, concurrency: {min: 1, max: 2}}");

  Outcome r = run("run " + quoted_file() + " --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("finished"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("seed.jsonl:10:"), std::string::npos) << r.err;

  auto records = results();
  ASSERT_EQ(records.size(), 40u);
  auto runs = keys_by_run(records);
  ASSERT_EQ(runs.size(), 1u);
  const std::string first_run = runs.begin()->first;
  EXPECT_TRUE(first_run.starts_with("manual-")) << first_run;
  EXPECT_EQ(runs.begin()->second, expected_keys(40));
  for (const auto& record : records) EXPECT_EQ(record.at("schema"), 1);

  auto errors = results("--errors");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].at("code"), "missing_text");
  EXPECT_EQ(errors[0].at("key"), "no-text");
  EXPECT_EQ(errors[0].at("run"), first_run);

  auto s = status();
  ASSERT_EQ(s["runs"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["runs"][0]["id"], first_run);
  EXPECT_EQ(s["runs"][0]["state"], "finished");
  EXPECT_EQ(s["runs"][0]["processed"], 40);
  EXPECT_EQ(s["runs"][0]["producer_errors"], 1);
  EXPECT_EQ(s["dead_letter_queue"]["messages"], 0);

  // The first run is finished: --once starts a new manual run over the same table.
  r = run("run " + quoted_file() + " --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  records = results();
  ASSERT_EQ(records.size(), 80u);
  runs = keys_by_run(records);
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& [run_id, keys] : runs) EXPECT_EQ(keys, expected_keys(40)) << run_id;
  s = status();
  ASSERT_EQ(s["runs"].size(), 2u) << s.dump(2);
  for (const auto& run_record : s["runs"]) EXPECT_EQ(run_record["state"], "finished");
}

// The pipeline with the fastText engine: every item analysed by the built-in model, the records
// naming their engine, no VADER numbers.
TEST_F(RunCli, TheFastTextEngineAnalysesEveryItem) {
  std::string seed;
  for (int i = 0; i < 30; ++i) seed += seed_item(i);
  write("seed.jsonl", seed);
  write_pipeline("{table: local://items, key: name, text: description, seed: seed.jsonl}",
                 "{url: local://producer, visibility_timeout: 5s}", "{batch_size: 4, concurrency: {min: 1, max: 2}}",
                 "sentiment: {engine: fasttext}\n");
  const Outcome r = run("run " + quoted_file() + " --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto records = results();
  ASSERT_EQ(records.size(), 30u);
  EXPECT_EQ(keys_by_run(records).begin()->second, expected_keys(30));
  for (const auto& record : records) {
    EXPECT_EQ(record.at("engine"), "fasttext");
    EXPECT_TRUE(record.at("vader").is_null());
    const auto& scores = record.at("scores");
    EXPECT_NEAR(scores.at("Positive").get<double>() + scores.at("Negative").get<double>(), 1.0, 2e-4);
  }
}

TEST_F(RunCli, PoisonMessagesAndAFailingEnrichBecomeErrorRecordsAndDeadLetters) {
  PageServer server;
  constexpr int kGood = 12;
  const std::vector<std::string> missing{"Missing-1", "Missing-2", "Missing-3"};
  std::string seed;
  std::set<std::string> good;
  for (int i = 0; i < kGood; ++i) {
    const std::string name = "Company-" + std::to_string(i);
    good.insert(name);
    seed += nlohmann::json{{"name", name}}.dump() + "\n";
    if (i % 4 == 0) seed += nlohmann::json{{"name", missing[static_cast<size_t>(i / 4)]}}.dump() + "\n";
  }
  write("seed.jsonl", seed);
  write_pipeline("{table: local://items, key: name, seed: seed.jsonl}",
                 "{url: local://producer, visibility_timeout: 300ms, max_receive_count: 2}",
                 "{batch_size: 5, concurrency: {min: 1, max: 2}, enrich: {url: 'http://127.0.0.1:" +
                     std::to_string(server.port()) + "/page/{name}', text: /extract, retries: 0, timeout: 5s}}");

  Outcome r = run("queue send --pipeline " + quoted_file() + " 'not json' '{\"v\":1}'");
  ASSERT_EQ(r.status, 0) << r.err;

  r = run("run " + quoted_file() + " --once --no-progress");
  EXPECT_EQ(r.status, 1) << "dead letters make the exit status 1\n" << r.err;

  const auto runs = keys_by_run(results());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs.begin()->second, good);

  std::map<std::string, int> enrich_failures;
  int bad_messages = 0;
  for (const auto& e : results("--errors")) {
    if (e.at("code") == "enrich_failed")
      ++enrich_failures[e.at("key").get<std::string>()];
    else if (e.at("code") == "bad_message")
      ++bad_messages;
    else
      ADD_FAILURE() << "unexpected error record " << e.dump();
  }
  for (const auto& name : missing) EXPECT_EQ(enrich_failures[name], 2) << name << ": one record per receive";
  EXPECT_EQ(enrich_failures.size(), missing.size());
  EXPECT_EQ(bad_messages, 4) << "two poison messages, received twice each";

  const auto s = status();
  EXPECT_EQ(s["dead_letter_queue"]["messages"], 2 + static_cast<int>(missing.size())) << s.dump(2);
  ASSERT_EQ(s["runs"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["runs"][0]["state"], "finished");
  EXPECT_EQ(s["runs"][0]["processed"], kGood);
  EXPECT_EQ(s["queue"]["counts"]["visible"], 0);
  EXPECT_EQ(s["queue"]["counts"]["in_flight"], 0);
}

TEST_F(RunCli, KilledAtRandomMomentsAndRestartedEndsAsOneCompleteRun) {
  constexpr int kItems = 50'000;
  write_seed(kItems);
  // max_receive_count is high: a message in flight at every kill is received again each time,
  // which is how crashes look to a queue, not a poison message.
  // 8,000 fetches a second: a run takes at least 6.25 s of work, more than the five kills'
  // delays add up to, so every kill lands on the same run.
  write_pipeline("{table: local://items, key: name, seed: seed.jsonl, page_size: 1000}",
                 "{url: local://producer, visibility_timeout: 1s, max_receive_count: 1000}",
                 rate_limited_consumer("batch_size: 500, concurrency: {min: 1, max: 2}", 8000));
  const std::vector<std::string> args{"--log-level", "warn", "run", file(), "--once", "--no-progress"};

  std::mt19937 random(20261126);
  int kills = 0;
  int starts = 0;
  bool finished = false;
  while (kills < 5 && !finished && starts < 30) {
    const int delay = kills == 0 ? std::uniform_int_distribution<int>(20, 80)(random)
                                 : std::uniform_int_distribution<int>(100, 1500)(random);
    Spawned p = spawn(args);
    ++starts;
    if (p.wait_for_end(milliseconds(delay))) {
      // It ended before the kill: that is only fine when the run is complete.
      ASSERT_EQ(p.exit_code(), 0) << p.err();
      finished = true;
      break;
    }
    p.signal(SIGKILL);
    ASSERT_TRUE(p.wait_for_end(seconds(10)));
    if (!p.killed_by(SIGKILL)) {  // it exited on its own in the last instant
      ASSERT_EQ(p.exit_code(), 0) << p.err();
      finished = true;
      break;
    }
    ++kills;
    const auto s = status();
    if (!s["runs"].empty() && s["runs"][0]["state"] == "finished") {
      // The kill came after the run was marked finished, before the process ended.
      finished = true;
      break;
    }
    if (kills == 1) {
      // The seed loads in one transaction: after a kill the table is empty (or not there
      // yet) or whole, never half-loaded.
      const Outcome count = run("table count --pipeline " + quoted_file());
      if (count.status == 0)
        EXPECT_TRUE(count.out == "0\n" || count.out == "50000\n") << count.out;
      else
        EXPECT_NE(count.err.find("does not exist yet"), std::string::npos) << count.err;
    }
  }
  EXPECT_GE(kills, 5) << "the run finished before five kills landed; it should take longer";

  for (int attempt = 0; !finished && attempt < 10; ++attempt) {
    const Outcome r = run("--log-level warn run " + quoted_file() + " --once --no-progress");
    ASSERT_NE(r.status, 2) << r.err;
    finished = r.status == 0;
  }
  ASSERT_TRUE(finished);

  const Outcome count = run("table count --pipeline " + quoted_file());
  EXPECT_EQ(count.out, "50000\n") << count.err;
  const auto runs = keys_by_run(results());
  ASSERT_EQ(runs.size(), 1u) << "one complete run, resumed after each kill";
  EXPECT_EQ(runs.begin()->second.size(), static_cast<size_t>(kItems));
  EXPECT_EQ(runs.begin()->second, expected_keys(kItems));
  const auto s = status();
  ASSERT_EQ(s["runs"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["runs"][0]["id"], runs.begin()->first);
  EXPECT_EQ(s["runs"][0]["state"], "finished");
  EXPECT_EQ(s["dead_letter_queue"]["messages"], 0);
}

// Fault 5 of issue 14 at the pipeline's level: 600 clients of the --listen server that never
// finish a request (each one dropped by the server's read timeout is opened again at once) while
// a run goes on in a process limited to 200 descriptors. The server holds a bounded number of
// them; the run, its queue, table and sink keep their descriptors and store every item.
TEST_F(RunCli, SixHundredSlowClientsOfTheListenServerDoNotStarveTheRun) {
  constexpr int kItems = 6'000;
  write_seed(kItems);
  // 3,000 fetches a second: the run lasts about 2 s with the clients on it.
  write_pipeline("{table: local://items, key: name, seed: seed.jsonl, page_size: 500}",
                 "{url: local://producer, visibility_timeout: 30s}",
                 rate_limited_consumer("batch_size: 100, concurrency: {min: 1, max: 2}", 3000));
  const int port = sentiflow::testing_support::free_port();
  Spawned runner("/bin/sh",
                 {"-c", "ulimit -n 200 && exec '" + std::string(SENTIFLOW_BINARY) + "' run '" + file() +
                            "' --once --no-progress --listen 127.0.0.1:" + std::to_string(port)},
                 {.out = dir_.path() / "runner.out", .err = dir_.path() / "runner.err"});
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto open_client = [&] {
    // Non-blocking: once the server's bounded queue and the kernel's listen queue are full, a
    // connect stays in progress, which is what a slow client is to the server too.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 && errno != EINPROGRESS) {
      ::close(fd);
      return -1;
    }
    // A request that never ends: the header's last line is never sent (nothing when not yet connected).
    constexpr std::string_view kStart = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    (void)!::send(fd, kStart.data(), kStart.size(), MSG_NOSIGNAL);
    return fd;
  };
  ASSERT_TRUE(sentiflow::testing_support::poll_until(
      [&] {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        const bool listening = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        if (fd >= 0) ::close(fd);
        return listening || !runner.running();
      },
      seconds(10), std::chrono::milliseconds(20)))
      << runner.err();
  std::vector<int> clients;
  while (clients.size() < 600 && runner.running()) {
    const int fd = open_client();
    if (fd >= 0) clients.push_back(fd);
  }
  EXPECT_EQ(clients.size(), 600u) << "the run ended before its 600 clients were connected: make it longer";
  // Keep 600 open until the run ends: one the server dropped is opened again.
  const bool ended = sentiflow::testing_support::poll_until(
      [&] {
        for (int& fd : clients) {
          char byte = 0;
          const auto n = ::recv(fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)) {
            ::close(fd);
            fd = open_client();
          }
        }
        return !runner.running();
      },
      seconds(90), std::chrono::milliseconds(100));
  for (const int fd : clients)
    if (fd >= 0) ::close(fd);
  ASSERT_TRUE(ended) << runner.err();
  EXPECT_EQ(runner.exit_code(), 0) << runner.err();
  const auto runs = keys_by_run(results());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs.begin()->second, expected_keys(kItems));
  EXPECT_EQ(runner.err().find("Too many open files"), std::string::npos) << runner.err();
}

TEST_F(RunCli, SigtermInDaemonModeLosesNothing) {
  constexpr int kItems = 20'000;
  write_seed(kItems);
  // 10,000 fetches a second: the run needs at least 2 s, so SIGTERM comes while it goes on.
  write_pipeline("{table: local://items, key: name, seed: seed.jsonl, page_size: 500}",
                 "{url: local://producer, visibility_timeout: 30s}",
                 rate_limited_consumer("batch_size: 100, concurrency: {min: 1, max: 1}", 10000),
                 "schedule: rate(1 hour)\ncatch_up: latest\n");

  Spawned daemon = spawn({"run", file(), "--no-progress"});
  // A first start counts as downtime: catch_up latest fires the latest tick at once.
  ASSERT_TRUE(storing()) << daemon.err();
  daemon.signal(SIGTERM);
  ASSERT_TRUE(daemon.wait_for_end(seconds(15))) << "the daemon did not stop within 15 s";
  EXPECT_EQ(daemon.exit_code(), 0) << daemon.err();
  EXPECT_NE(daemon.err().find("stopping"), std::string::npos) << daemon.err();

  auto s = status();
  ASSERT_EQ(s["runs"].size(), 1u) << s.dump(2);
  const std::string tick = s["runs"][0]["id"];
  EXPECT_EQ(s["runs"][0]["kind"], "scheduled");
  EXPECT_TRUE(tick.ends_with(":00:00Z")) << tick;
  ASSERT_NE(s["runs"][0]["state"], "finished") << "the run must still be unfinished after SIGTERM: make it longer";
  EXPECT_EQ(s["queue"]["counts"]["in_flight"], 0) << "a graceful stop acknowledges the batches in hand";

  const Outcome r = run("run " + quoted_file() + " --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("resuming"), std::string::npos) << r.err;
  const auto runs = keys_by_run(results());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs.begin()->first, tick);
  EXPECT_EQ(runs.begin()->second, expected_keys(kItems));
  s = status();
  ASSERT_EQ(s["runs"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["runs"][0]["state"], "finished");
}

TEST_F(RunCli, ASecondProcessOnlyConsumes) {
  constexpr int kItems = 5'000;
  write_seed(kItems);
  // 2,000 fetches a second for each process: A alone would need 2.5 s.
  write_pipeline("{table: local://items, key: name, seed: seed.jsonl, page_size: 500}",
                 "{url: local://producer, visibility_timeout: 30s}",
                 rate_limited_consumer("batch_size: 100, concurrency: {min: 1, max: 1}", 2000));

  Spawned a = spawn({"run", file(), "--once", "--no-progress"});
  ASSERT_TRUE(poll_until([&] { return !status()["runs"].empty(); }, seconds(15), milliseconds(50))) << a.err();
  Spawned b = spawn({"run", file(), "--once", "--no-progress"});
  ASSERT_TRUE(a.wait_for_end(seconds(30))) << a.err();
  ASSERT_TRUE(b.wait_for_end(seconds(30))) << b.err();
  EXPECT_EQ(a.exit_code(), 0) << a.err();
  EXPECT_EQ(b.exit_code(), 0) << b.err();
  EXPECT_NE(b.err().find("only consumes"), std::string::npos) << b.err();
  EXPECT_NE(a.out().find("finished"), std::string::npos) << a.out();

  const auto runs = keys_by_run(results());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs.begin()->second, expected_keys(kItems));
  const auto s = status();
  ASSERT_EQ(s["runs"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["runs"][0]["state"], "finished");
}

// `run --run ID` while another process schedules the state directory: the backfill cannot
// happen here (only the scheduler produces), so it is refused, exit status 2, with nothing
// recorded; before, the process only consumed and exited 0 without the run (issue 14, fault 10).
TEST_F(RunCli, ABackfillWhileAnotherProcessSchedulesIsRefused) {
  write_seed(3);
  write_pipeline("{table: local://items, key: name, text: description, seed: seed.jsonl}", "{url: local://producer}",
                 "{batch_size: 10}");
  const auto lock =
      sentiflow::SchedulerLock::try_acquire(dir_.path() / "state" / "pipelines" / "run-cli-test");  // a daemon's
  ASSERT_NE(lock, nullptr);
  const Outcome r = run("run " + quoted_file() + " --run backfill-1 --no-progress");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("cannot run backfill-1: another sentiflow process schedules"), std::string::npos) << r.err;
  EXPECT_TRUE(status()["runs"].empty()) << status().dump();
}

// Two pipeline files in one folder share its state_dir (issue 14, fault 1): pipeline A is
// stopped in the middle of its run; pipeline B's `run --once` must run B (its own table, its own
// run), never report, resume or finish A's; A then resumes its own run. Before, B adopted A's
// unfinished run: it reported A's counts, exited 0 and never scanned its own table.
TEST_F(RunCli, TwoPipelinesOfOneStateFolderKeepTheirRunsApart) {
  constexpr int kItems = 20'000;
  write_seed(kItems);
  write_pipeline("{table: local://items, key: name, seed: seed.jsonl, page_size: 500}",
                 "{url: local://producer, visibility_timeout: 30s}",
                 rate_limited_consumer("batch_size: 100, concurrency: {min: 1, max: 1}", 10000));
  write_seed(7, "b-seed.jsonl");
  write("b.yaml",
        "name: other\nstate_dir: state\n"
        "source: {table: local://b-items, key: name, text: description, seed: b-seed.jsonl}\n"
        "consumer: {batch_size: 10}\nsink: {store: out-b/}\n");

  Spawned a = spawn({"run", file(), "--once", "--no-progress"});
  ASSERT_TRUE(storing()) << a.err();
  a.signal(SIGKILL);
  ASSERT_TRUE(a.wait_for_end(seconds(15)));
  const std::string a_run = status()["runs"][0]["id"];
  ASSERT_NE(status()["runs"][0]["state"], "finished") << "A must still be unfinished: make it longer";

  const std::string b_file = "'" + path("b.yaml") + "'";
  Outcome r = run("run " + b_file + " --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("resuming"), std::string::npos) << r.err;
  r = run("status " + b_file + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto b = nlohmann::json::parse(r.out);
  ASSERT_EQ(b["runs"].size(), 1u) << b.dump(2);
  EXPECT_NE(b["runs"][0]["id"], a_run);
  EXPECT_EQ(b["runs"][0]["scanned"], 7);
  EXPECT_EQ(b["runs"][0]["state"], "finished");
  r = run("results " + b_file);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto b_runs = keys_by_run(json_lines(r.out));
  ASSERT_EQ(b_runs.size(), 1u);
  EXPECT_EQ(b_runs.begin()->second, expected_keys(7));

  auto s = status();  // A's run is untouched, and A resumes it
  ASSERT_EQ(s["runs"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["runs"][0]["id"], a_run);
  EXPECT_NE(s["runs"][0]["state"], "finished");
  r = run("run " + quoted_file() + " --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("resuming"), std::string::npos) << r.err;
  const auto runs = keys_by_run(results());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs.begin()->first, a_run);
  EXPECT_EQ(runs.begin()->second, expected_keys(kItems));
}

// A sink that cannot be written for 30 s in the middle of a run (issue 14, fault 2): every
// write under out/ fails with EIO (the disk-fault shim). The consumers hold their batches and
// take no new ones until the sink stores again; the run ends with every item stored once and no
// dead letter. Before, each batch was let go and the next taken at once, so that with two
// receives every message of the backlog became a dead letter without an error record.
TEST_F(RunCli, ASinkDownForThirtySecondsLosesNothingAndDeadLettersNothing) {
  constexpr int kItems = 3'000;
  write_seed(kItems);
  // 500 fetches a second: the run needs 6 s of work, so the outage lands in its middle.
  write_pipeline("{table: local://items, key: name, seed: seed.jsonl, page_size: 500}",
                 "{url: local://producer, visibility_timeout: 10s, max_receive_count: 2}",
                 rate_limited_consumer("batch_size: 50, concurrency: {min: 2, max: 2}", 500));
  Spawned p = spawn({"run", file(), "--once", "--no-progress"}, fault_env("out"));
  ASSERT_TRUE(storing()) << p.err();
  arm_fault("EIO");
  const auto down_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(poll_until([&] { return p.err().find("the sink cannot store results") != std::string::npos; },
                         seconds(15), milliseconds(50)))
      << p.err();
  const int64_t processed_when_down = status()["runs"][0]["processed"];
  std::this_thread::sleep_until(down_at + seconds(30));  // the outage's length is the test's point
  EXPECT_EQ(status()["runs"][0]["processed"], processed_when_down) << "nothing can be stored while the sink is down";
  EXPECT_EQ(status()["dead_letter_queue"]["messages"], 0);
  disarm_fault();
  ASSERT_TRUE(p.wait_for_end(seconds(60))) << p.err();
  EXPECT_EQ(p.exit_code(), 0) << p.err();
  EXPECT_NE(p.err().find("the sink stores results again"), std::string::npos) << p.err();

  const auto runs = keys_by_run(results());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs.begin()->second, expected_keys(kItems));
  const auto s = status();
  EXPECT_EQ(s["runs"][0]["state"], "finished");
  EXPECT_EQ(s["runs"][0]["dead_letters"], 0);
  EXPECT_EQ(s["runs"][0]["failed"], 0);
  EXPECT_EQ(s["dead_letter_queue"]["messages"], 0);
  EXPECT_EQ(s["error_records"]["total"], 0);
}

// A sink that cannot be written when a run starts (a read-only disk here) is the user's to fix:
// exit status 2 naming the sink and the reason, before any message is taken or run recorded.
TEST_F(RunCli, ASinkThatCannotBeWrittenAtStartIsRefused) {
  write_seed(3);
  write_pipeline("{table: local://items, key: name, text: description, seed: seed.jsonl}", "{url: local://producer}",
                 "{batch_size: 10}");
  arm_fault("EROFS");
  const Outcome r = sentiflow::testing_support::run_sentiflow("run " + quoted_file() + " --once --no-progress",
                                                              {.cwd = dir_.path(), .env = fault_env("out")});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("cannot be written"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(path("out")), std::string::npos) << r.err;
  EXPECT_TRUE(status()["runs"].empty()) << status().dump();
  disarm_fault();
  EXPECT_EQ(run("run " + quoted_file() + " --once --no-progress").status, 0);
}

// Disk faults on the SQLite files (issue 14, "Disk faults"): 40 writes to the state folder's
// files (queue, run state, table) fail with EIO in the middle of a run. Whatever the process
// does then, a `run --once` after the fault resumes the run, and it ends with every item stored
// once and no message a dead letter for a fault of ours.
TEST_F(RunCli, WriteFaultsOnTheSqliteFilesLoseNothing) {
  constexpr int kItems = 2'000;
  write_seed(kItems);
  write_pipeline("{table: local://items, key: name, seed: seed.jsonl, page_size: 200}",
                 "{url: local://producer, visibility_timeout: 5s, max_receive_count: 3}",
                 rate_limited_consumer("batch_size: 50, concurrency: {min: 2, max: 2}", 1000));
  Spawned p = spawn({"run", file(), "--once", "--no-progress"}, fault_env("state"));
  ASSERT_TRUE(storing()) << p.err();
  arm_fault("EIO write 1 40");
  ASSERT_TRUE(poll_until([&] { return p.err().find("I/O error") != std::string::npos; }, seconds(15), milliseconds(20)))
      << "the faults did not reach the process: " << p.err();
  ASSERT_TRUE(p.wait_for_end(seconds(60))) << p.err();
  disarm_fault();
  for (int i = 0; i < 3 && status()["runs"][0]["state"] != "finished"; ++i) {
    const Outcome r = run("run " + quoted_file() + " --once --no-progress");
    EXPECT_NE(r.status, 2) << r.err;
  }
  const auto s = status();
  ASSERT_EQ(s["runs"].size(), 1u) << s.dump(2) << p.err();
  EXPECT_EQ(s["runs"][0]["state"], "finished") << p.err();
  EXPECT_EQ(s["dead_letter_queue"]["messages"], 0) << p.err();
  const auto runs = keys_by_run(results());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs.begin()->second, expected_keys(kItems));
}

TEST_F(RunCli, RunRefusesBadUsage) {
  write_seed(3);
  write_pipeline("{table: local://items, key: name, text: description, seed: seed.jsonl}", "{url: local://producer}",
                 "{batch_size: 10}");
  Outcome r = run("run " + quoted_file() + " --once --run X");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--once"), std::string::npos) << r.err;

  // A run id names a folder of the sink: one with '/' is refused before anything is created.
  r = run("run " + quoted_file() + " --run 'x/y' --no-progress");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("run id 'x/y'"), std::string::npos) << r.err;
  EXPECT_TRUE(status()["runs"].empty()) << status().dump();

  write_pipeline("{table: dynamodb://items, key: name, text: description}", "{url: local://producer}",
                 "{batch_size: 10}");
  sentiflow::testing_support::hide_aws_settings();  // a DynamoDB table without a region: usage error
  r = run("run " + quoted_file() + " --once --no-progress");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no AWS region"), std::string::npos) << r.err;
  EXPECT_TRUE(status()["runs"].empty()) << "a pipeline that cannot start recorded a run: " << status().dump();

  write_pipeline("{table: local://items, key: name, text: description, seed: no-such-seed.jsonl}",
                 "{url: local://producer}", "{batch_size: 10}");
  r = run("run " + quoted_file() + " --once --no-progress");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no-such-seed.jsonl"), std::string::npos) << r.err;
}

}  // namespace
