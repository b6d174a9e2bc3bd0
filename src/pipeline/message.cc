#include "pipeline/message.h"

#include <charconv>

#include <fmt/format.h>

#include "core/error.h"
#include "core/json_text.h"
#include "core/utf8.h"
#include "state/run_state.h"

namespace sentiflow::pipeline {
namespace {

static_assert(kMessageVersion == 1, "encode_message and decode_message spell the version as \"1\"");

// An item may nest 32 levels (DynamoDB's limit); the message around it adds one.
constexpr int kMaxMessageDepth = 33;

void check_utf8(std::string_view what, std::string_view text) {
  if (const auto bad = find_invalid_utf8(text))
    throw invalid_input(fmt::format("the message's {} is not valid UTF-8 (at byte {})", what, *bad + 1));
}

std::string required_string(const JsonObject& message, std::string_view name) {
  const JsonMember* m = message.find(name);
  std::optional<std::string> value = m ? json_string_value(m->value) : std::nullopt;
  if (!value) throw invalid_input(fmt::format("the message has no \"{}\" string", name));
  if (value->empty()) throw invalid_input(fmt::format("the message's \"{}\" is empty", name));
  return std::move(*value);
}

}  // namespace

// Runs for every item of a scan (hundreds of thousands a second): one allocation, no parsing.
std::string encode_message(std::string_view run, std::string_view key, std::string_view item, int attempt,
                           std::string_view fingerprint) {
  check_utf8("run", run);
  check_utf8("key", key);
  constexpr std::string_view kHead = "{\"v\":1,\"run\":";
  std::string body;
  // Quotes and a little escaping room; keys and run ids rarely need any.
  body.reserve(kHead.size() + run.size() + key.size() + item.size() + fingerprint.size() + 40);
  body += kHead;
  append_json_quoted_unchecked(body, run);
  if (attempt > 1) {
    body += ",\"attempt\":";
    body += std::to_string(attempt);
  }
  body += ",\"key\":";
  append_json_quoted_unchecked(body, key);
  if (!fingerprint.empty()) {
    body += ",\"fp\":";
    append_json_quoted_unchecked(body, fingerprint);
  }
  body += ",\"item\":";
  body += item;
  body += '}';
  return body;
}

Message decode_message(std::string_view body) {
  const JsonObject message = parse_json_object(body, "the message", kMaxMessageDepth);
  const JsonMember* v = message.find("v");
  if (!v)
    throw invalid_input(fmt::format("the message has no \"v\"; this sentiflow reads version {}", kMessageVersion));
  if (v->value != "1")
    throw invalid_input(
        fmt::format("the message's \"v\" is {}; this sentiflow reads version {}", v->value, kMessageVersion));
  Message out;
  out.run = required_string(message, "run");
  // Checked as the producer's run ids are: a run names a folder of the sink (run=<id>/), so one
  // that cannot (`x/y`) would fail the whole batch's put instead of this message alone.
  try {
    check_run_id(out.run);
  } catch (const Error& e) {
    throw invalid_input(fmt::format("the message's \"run\": {}", e.what()));
  }
  if (const JsonMember* fp = message.find("fp")) {
    const auto value = json_string_value(fp->value);
    if (value && !value->empty() && value->size() <= 64 &&
        value->find_first_not_of("0123456789abcdef") == std::string::npos)
      out.fingerprint = *value;
  }
  if (const JsonMember* attempt = message.find("attempt")) {
    const std::string_view text = attempt->value;
    int value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 1)
      throw invalid_input(fmt::format("the message's \"attempt\" is {}, not a whole number from 1", text));
    out.attempt = value;
  }
  out.key = required_string(message, "key");
  const JsonMember* item = message.find("item");
  if (!item || item->value.front() != '{') throw invalid_input("the message has no \"item\" object");
  out.item.assign(item->value);
  return out;
}

}  // namespace sentiflow::pipeline
