// A second process for the queue tests (not a test itself):
//
//   queue_helper send FILE QUEUE BODY
//       sends one message and exits: the other process of the long-poll test.
//   queue_helper send-many FILE QUEUE PREFIX COUNT
//       sends PREFIX-0 ... PREFIX-(COUNT-1), one at a time, and exits: a competing writer.
//   queue_helper crash-loop FILE QUEUE JOURNAL FIRST_NUMBER VISIBILITY_MS normal|full
//       sends, receives and deletes in a loop until it is killed, journaling to JOURNAL,
//       fsynced, every acknowledged send ("S body"), every delete it is about to make
//       ("d body") and every acknowledged delete ("D body"). The crash test kills it with
//       SIGKILL and checks the queue against the journal.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "queue/local_queue.h"

namespace {

using namespace sentiflow;

// Appends `text` and fsyncs: after this returns, the journal holds it even if we are killed.
void journal(int fd, const std::string& text) {
  if (text.empty()) return;
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      std::perror("journal write");
      std::exit(3);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    std::perror("journal fsync");
    std::exit(3);
  }
}

int crash_loop(char** argv) {
  LocalQueueOptions options;
  options.file = argv[2];
  options.name = argv[3];
  options.visibility_timeout = std::chrono::milliseconds(std::stoll(argv[6]));
  options.durability =
      std::string(argv[7]) == "full" ? LocalQueueOptions::Durability::full : LocalQueueOptions::Durability::normal;
  LocalQueue queue(options);
  const int fd = ::open(argv[4], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror("journal open");
    return 3;
  }
  long long number = std::stoll(argv[5]);
  std::mt19937 random(static_cast<unsigned>(::getpid()) ^ static_cast<unsigned>(std::random_device{}()));
  while (true) {
    std::vector<SendEntry> entries;
    const size_t batch = 1 + random() % 20;
    for (size_t i = 0; i < batch; ++i) entries.push_back({"e" + std::to_string(i), "m" + std::to_string(number++)});
    const auto sent = queue.send(entries);
    std::string lines;
    for (size_t i = 0; i < sent.size(); ++i) {
      if (!sent[i].ok()) {
        std::fprintf(stderr, "send failed: %s\n", sent[i].error->what());
        return 4;
      }
      lines += "S " + entries[i].body + "\n";
    }
    journal(fd, lines);

    const auto got = queue.receive({1 + random() % 20, std::nullopt, std::chrono::milliseconds(0)});
    std::vector<DeleteEntry> deletes;
    std::vector<std::string> bodies;
    lines.clear();
    for (const auto& m : got) {
      if (random() % 10 < 3) continue;  // left in flight: must come back after the visibility timeout
      deletes.push_back({"d" + std::to_string(deletes.size()), m.receipt_handle});
      bodies.push_back(m.body);
      lines += "d " + m.body + "\n";
    }
    if (deletes.empty()) continue;
    journal(fd, lines);
    const auto deleted = queue.delete_messages(deletes);
    lines.clear();
    for (size_t i = 0; i < deleted.size(); ++i)
      if (deleted[i].ok()) lines += "D " + bodies[i] + "\n";
    journal(fd, lines);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "send" && argc == 5) {
      LocalQueueOptions options;
      options.file = argv[2];
      options.name = argv[3];
      LocalQueue queue(options);
      queue.send_one(argv[4]);
      return 0;
    }
    if (mode == "send-many" && argc == 6) {
      LocalQueueOptions options;
      options.file = argv[2];
      options.name = argv[3];
      LocalQueue queue(options);
      for (long long i = 0, count = std::stoll(argv[5]); i < count; ++i)
        queue.send_one(std::string(argv[4]) + "-" + std::to_string(i));
      return 0;
    }
    if (mode == "crash-loop" && argc == 8) return crash_loop(argv);
    std::fprintf(stderr,
                 "usage: queue_helper send FILE QUEUE BODY\n"
                 "       queue_helper send-many FILE QUEUE PREFIX COUNT\n"
                 "       queue_helper crash-loop FILE QUEUE JOURNAL FIRST_NUMBER VISIBILITY_MS normal|full\n");
    return 2;
  } catch (const sentiflow::Error& e) {
    std::fprintf(stderr, "queue_helper: %s\n", e.what());
    return 1;
  }
}
