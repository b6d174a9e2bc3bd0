// LocalQueue: a Queue (queue/queue.h) in a SQLite file, with the semantics of an SQS standard
// queue, for running the pipeline on one machine.
//
// Every queue of a state directory lives in one file, `<state_dir>/queues.sqlite`, so that
// moving a message between a queue and its dead-letter queue is one transaction. Several
// processes may open the same queues at once: writers take the file's write lock in turn
// (WAL journal, BEGIN IMMEDIATE, a short-sleep busy handler). Each commit is durable against
// a crash of the process; with Durability::full it is also fsynced, and so durable against a
// crash of the machine.
//
// A LocalQueue is safe to share between threads, and one object per queue per process is the
// intended use: a send wakes the object's waiting receives at once (a condition variable);
// sends through other objects or processes are noticed within `poll_interval` (SQLite's
// data_version, read without taking a lock). Calls of several threads that arrive together
// share one transaction and one commit (group commit); each still returns only after the
// commit that holds its work.
//
// Unlike SQS, durations may have milliseconds (tests use sub-second visibility timeouts) and
// batches may hold up to 10,000 entries (the consumer's batch_size goes that high);
// limits() says so. docs/EMBEDDED.md lists every difference.
//
// Its implementation is the largest of the backends (local_queue.cc, some 600 lines of the
// class and its State): SQS's semantics (visibility, receive counts, dead-lettering,
// retention, long polls) written in SQL over one connection, which the group commit shares
// between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "queue/queue.h"

namespace sentiflow {

struct LocalQueueOptions {
  enum class Durability {
    normal,  // synchronous=NORMAL: a commit survives a crash of the process, not of the machine
    full,    // synchronous=FULL: every commit is fsynced
  };

  std::filesystem::path file;                            // usually LocalQueue::file_in(state_dir); created when missing
  std::string name;                                      // 1-80 of A-Z a-z 0-9 - _
  std::chrono::milliseconds visibility_timeout{30'000};  // default of receive(); 0 to 12 h
  // The queue's retention, counted from the send; > 0, at most 14 days. Like SQS's
  // MessageRetentionPeriod it is an attribute of the queue, stored in the file and shared by
  // every process: a value here sets it (the last one configured wins, as SetQueueAttributes);
  // nullopt keeps the stored one (4 days for a queue created now). Open with nullopt to only
  // inspect a queue (the CLI does); a change made by another process is seen within a
  // second. Messages older than the stored retention are neither
  // delivered nor counted, and receives delete them, but only messages visible at that moment:
  // a message in flight (held by a consumer) is deleted when it next becomes visible.
  std::optional<std::chrono::milliseconds> retention{};
  uint64_t message_size_limit = 256 * 1024;  // 1 B to 1 MiB
  // The dead-letter queue's name (in the same file), or empty for none. A message is moved
  // there by the receive that would be its (max_receive_count + 1)th.
  std::string dead_letter_queue{};
  int max_receive_count = 5;  // 1 to 1000
  Durability durability = Durability::normal;
  // How often a waiting receive looks for sends by other processes.
  std::chrono::milliseconds poll_interval{20};
  // How long an operation waits for another process's write lock before Error(transient).
  std::chrono::milliseconds busy_timeout{10'000};
  // The clocks the queue's time is made of (docs/EMBEDDED.md, "The queue's clock"): the wall
  // clock, read when the file's clock is anchored, and the machine's boot clock, which no step
  // of the wall clock moves, with the id of the boot it counts from. Empty: the system's
  // (now_millis, CLOCK_BOOTTIME, /proc/sys/kernel/random/boot_id). Tests step them; boot_id is
  // read only with a boot_clock given.
  std::function<Millis()> wall_clock{};
  std::function<std::chrono::milliseconds()> boot_clock{};
  std::string boot_id{};
};

class LocalQueue final : public Queue {
 public:
  // Opens the queue, creating the file, its directory and the queue (and its dead-letter
  // queue) when missing. Throws Error(invalid_input) for bad options or a file that is not a
  // queue file (or one written by a newer sentiflow); Error(transient) when the file stays busy.
  explicit LocalQueue(LocalQueueOptions options);
  ~LocalQueue() override;
  LocalQueue(const LocalQueue&) = delete;
  LocalQueue& operator=(const LocalQueue&) = delete;

  // The queue file of a state directory: `<state_dir>/queues.sqlite`.
  static std::filesystem::path file_in(const std::filesystem::path& state_dir);
  // The names of the queues in `file`, sorted; empty when the file does not exist.
  static std::vector<std::string> list(const std::filesystem::path& file);

  // How many receive calls are waiting (long-polling) on this object now: for tests and
  // metrics only (a test sends once a receive waits, instead of sleeping and hoping).
  int64_t waiting_receivers() const;

  // The queue's retention as stored in the file now (another process may have set it since).
  std::chrono::milliseconds retention() const;

  const std::string& name() const override;
  QueueLimits limits() const override;
  std::vector<SendResult> send(std::span<const SendEntry> entries) override;
  std::vector<ReceivedMessage> receive(const ReceiveRequest& request) override;
  std::vector<EntryResult> delete_messages(std::span<const DeleteEntry> entries) override;
  std::vector<EntryResult> change_visibility(std::span<const VisibilityChange> entries) override;
  QueueCounts counts() override;
  std::optional<int64_t> expired_total() override;
  void purge() override;
  int64_t redrive_dead_letters(int64_t max_messages) override;

 private:
  // The connection and its statements, the group commit, and the wake-ups of long polls.
  struct State;

  const LocalQueueOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace sentiflow
