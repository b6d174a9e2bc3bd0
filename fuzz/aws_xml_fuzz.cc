// AWS's XML answers (S3's REST-XML protocol and its error bodies) as our S3 store reads them, and
// the XML reader itself (aws/xml.h). The first byte picks the call and the status, the rest is the
// answer's body: each call answers or throws Error — never another exception or a crash.
#include <array>
#include <functional>

#include "aws/errors.h"
#include "aws/xml.h"
#include "fuzz/answer_server.h"
#include "fuzz/fuzz_target.h"
#include "store/s3_store.h"

using namespace sentiflow;

namespace {

struct Backends {
  Backends() {
    server.answer(200, "", "application/xml");
    store = std::make_unique<S3Store>(std::move(*server.client(aws::kS3)), S3StoreOptions{.bucket = "fuzz-bucket"});
  }
  fuzz::AnswerServer server;
  std::unique_ptr<S3Store> store;
};

const std::array<std::function<void(Backends&, std::string_view)>, 7> kCalls{{
    [](Backends& b, std::string_view) { (void)b.store->list({.prefix = "results/", .max_keys = 1000}); },
    [](Backends& b, std::string_view) { (void)b.store->list({.continuation_token = "token"}); },
    [](Backends& b, std::string_view) { (void)b.store->get("results/run=x/part.jsonl"); },
    [](Backends& b, std::string_view) { (void)b.store->head("results/run=x/part.jsonl"); },
    [](Backends& b, std::string_view) { (void)b.store->put("results/run=x/part.jsonl", "{}\n"); },
    [](Backends& b, std::string_view) { b.store->remove("results/run=x/part.jsonl"); },
    [](Backends&, std::string_view body) {  // the reader and the error parser on their own
      for (const auto element : aws::xml_elements(body, "Contents")) (void)aws::xml_value(element, "Key");
      (void)aws::xml_text(body);
      (void)aws::parse_error(HttpResponse{.status = 403, .headers = {}, .body = std::string(body)});
    },
}};
constexpr std::array<int, 5> kStatuses{200, 200, 403, 404, 500};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Backends& backends = fuzz::fixture<Backends>();
  if (size == 0) return 0;
  const std::string_view body = fuzz::as_text(data + 1, size - 1);
  backends.server.answer(kStatuses[(data[0] / kCalls.size()) % kStatuses.size()], body, "application/xml");
  fuzz::answered([&] { kCalls[data[0] % kCalls.size()](backends, body); });
  return 0;
}
