#include "queue/queue.h"

namespace sentiflow {

std::string Queue::send_one(std::string body, std::chrono::milliseconds delay, MessageAttributes attributes) {
  const SendEntry entry{"1", std::move(body), delay, std::move(attributes)};
  auto results = send(std::span(&entry, 1));
  if (results.size() != 1) throw Error(ErrorCode::internal, "send returned no result for its one entry");
  if (results[0].error) throw *results[0].error;
  return results[0].message_id;
}

}  // namespace sentiflow
