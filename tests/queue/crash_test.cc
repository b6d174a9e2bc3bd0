// The crash test: a child process (queue_helper crash-loop) sends, receives and deletes in a
// loop, journaling what the queue acknowledged, and is killed with SIGKILL at random moments.
// After each kill the queue must hold every acknowledged send that was not deleted (messages
// in flight at the kill come back after their visibility timeout), and no message whose
// delete was acknowledged may come back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "queue/local_queue.h"
#include "support/spawned.h"

namespace sentiflow::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Journal {
  std::set<std::string> sent;            // S: acknowledged sends
  std::set<std::string> delete_started;  // d: deletes asked for (maybe done, maybe not)
  std::set<std::string> deleted;         // D: acknowledged deletes
};

// Reads the journal; a last line without its newline (killed mid-write) does not count.
Journal read_journal(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  Journal j;
  std::string all = text.str();
  size_t start = 0;
  for (size_t end; (end = all.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = all.substr(start, end - start);
    if (line.size() < 3) continue;
    const std::string body = line.substr(2);
    if (line[0] == 'S') j.sent.insert(body);
    if (line[0] == 'd') j.delete_started.insert(body);
    if (line[0] == 'D') j.deleted.insert(body);
  }
  return j;
}

TEST(QueueCrash, NoAcknowledgedWorkIsLostAcrossKills) {
  const fs::path dir = fs::temp_directory_path() / ("sentiflow-crash-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = LocalQueue::file_in(dir);
  const fs::path journal = dir / "journal.txt";
  constexpr int kKills = 16;
  constexpr auto kChildVisibility = 300ms;
  std::mt19937 random(std::random_device{}());
  size_t came_back_in_flight = 0;

  for (int round = 0; round < kKills; ++round) {
    const std::string durability = round % 4 == 3 ? "full" : "normal";
    {
      testing_support::Spawned child(
          QUEUE_HELPER, {"crash-loop", file.string(), "crash", journal.string(), std::to_string(round * 1'000'000LL),
                         std::to_string(kChildVisibility.count()), durability});
      // A random moment: sometimes while the child is still opening the queue.
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + random() % 250));
      child.signal(SIGKILL);
      ASSERT_TRUE(child.wait_for_end(60s)) << "round " << round << ": SIGKILL did not end the child";
      const int status = child.status();
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "round " << round << ": the child ended by itself (status " << status << ")";
    }

    const Journal j = read_journal(journal);
    std::set<std::string> must_be_there;
    for (const auto& body : j.sent)
      if (!j.delete_started.contains(body)) must_be_there.insert(body);

    LocalQueueOptions options;
    options.file = file;
    options.name = "crash";
    options.visibility_timeout = 60s;  // the check holds what it receives until it releases it
    LocalQueue queue(options);
    const int64_t in_flight_at_kill = queue.counts().in_flight;

    // Receive until every expected message is back: in-flight ones after the child's
    // visibility timeout. Long polls, bounded by a deadline.
    std::set<std::string> seen;
    std::vector<std::string> handles;
    const auto deadline = std::chrono::steady_clock::now() + kChildVisibility + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      const bool all_there = std::includes(seen.begin(), seen.end(), must_be_there.begin(), must_be_there.end());
      const auto counts = queue.counts();  // what we hold ourselves is in flight too
      if (all_there && counts.in_flight == static_cast<int64_t>(handles.size()) && counts.delayed == 0) break;
      for (const auto& m : queue.receive({1000, std::nullopt, 100ms})) {
        EXPECT_FALSE(j.deleted.contains(m.body)) << "round " << round << ": deleted message " << m.body << " came back";
        EXPECT_TRUE(seen.insert(m.body).second) << "round " << round << ": " << m.body << " received twice";
        handles.push_back(m.receipt_handle);
      }
    }
    for (const auto& body : must_be_there)
      EXPECT_TRUE(seen.contains(body)) << "round " << round << ": acknowledged send " << body << " is missing";
    came_back_in_flight += static_cast<size_t>(in_flight_at_kill);

    // Release everything for the next child: the journal is cumulative, so later rounds
    // check these messages again.
    for (size_t i = 0; i < handles.size(); i += 1000) {
      std::vector<VisibilityChange> changes;
      for (size_t k = i; k < std::min(handles.size(), i + 1000); ++k)
        changes.push_back({"c" + std::to_string(k - i), handles[k], 0ms});
      for (const auto& r : queue.change_visibility(changes)) EXPECT_TRUE(r.ok()) << r.error->what();
    }
    if (HasFailure()) break;
  }
  const Journal j = read_journal(journal);
  RecordProperty("acknowledged_sends", static_cast<int>(j.sent.size()));
  RecordProperty("acknowledged_deletes", static_cast<int>(j.deleted.size()));
  RecordProperty("in_flight_at_kills", static_cast<int>(came_back_in_flight));
  std::printf(
      "crash test: %d kills, %zu acknowledged sends, %zu acknowledged deletes, %zu messages in flight at a kill\n",
      kKills, j.sent.size(), j.deleted.size(), came_back_in_flight);
  EXPECT_GT(j.sent.size(), 100u) << "the child did too little work between kills for the test to mean much";
  EXPECT_GT(j.deleted.size(), 50u);
  EXPECT_GT(came_back_in_flight, 0u) << "no kill caught a message in flight";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sentiflow::testing
