// The message body, read by the consumer (pipeline/message.h). A fuzzed body sits between two
// good messages in one batch: the body is read or refused with Error alone, the batch never
// throws (the sink works), the good messages are never failed and their results are stored —
// one bad record never fails the batch (issue 14, fault 3).
#include <algorithm>

#include "fuzz/consumer_fixture.h"
#include "fuzz/fuzz_target.h"

using namespace sentiflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ConsumerFixture& fixture = fuzz::fixture<fuzz::ConsumerFixture>();
  const std::string body(fuzz::as_text(data, size));
  fuzz::answered([&] { (void)pipeline::decode_message(body); });

  pipeline::SqsEvent event;
  event.records.push_back(fuzz::ConsumerFixture::record("good-1", fuzz::ConsumerFixture::good_body("good-1")));
  event.records.push_back(fuzz::ConsumerFixture::record("fuzzed", body));
  event.records.push_back(fuzz::ConsumerFixture::record("good-2", fuzz::ConsumerFixture::good_body("good-2")));
  const pipeline::BatchOutcome outcome = fixture.consumer().handle(event);

  for (const auto& id : outcome.failures) fuzz::require(id == "fuzzed", "only the fuzzed record fails");
  const auto keys = fixture.stored_keys();
  fuzz::require(keys.contains("good-1") && keys.contains("good-2"), "both good records are stored");
  fixture.clear();
  return 0;
}
