// The SQLite wrapper's promises that the state, the local table and the local queue rely on.
#include "sqlite/sqlite.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.h"

namespace sentiflow {
namespace {

// Several processes (a scheduler and consumers) open a state file that does not exist yet at
// the same moment. Switching the new file to WAL can deadlock between two connections, and
// SQLite then answers "database is locked" at once, without waiting: the open must retry.
TEST(SqliteDatabase, ConnectionsOpeningAFreshFileAtOnceAllSucceedInWalMode) {
  testing_support::TempDir dir("sqlite-open");
  for (int round = 0; round < 40; ++round) {
    const auto file = dir.path() / ("fresh-" + std::to_string(round) + ".sqlite");
    std::atomic<int> opened{0};
    std::atomic<bool> go{false};
    std::vector<std::string> failures(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        while (!go) std::this_thread::yield();
        try {
          sqlite::Database db(file, std::chrono::seconds(10));
          sqlite::WriteTransaction write(db);
          db.exec("CREATE TABLE IF NOT EXISTS t (x INTEGER)");
          write.commit();
          ++opened;
        } catch (const std::exception& e) {
          failures[t] = e.what();
        }
      });
    }
    go = true;
    for (auto& thread : threads) thread.join();
    for (const auto& failure : failures) EXPECT_EQ(failure, "") << "round " << round;
    ASSERT_EQ(opened.load(), 4);
  }
}

}  // namespace
}  // namespace sentiflow
