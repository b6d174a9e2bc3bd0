#include "queue/message_rules.h"

#include <fmt/format.h>

#include <set>

#include "core/strings.h"
#include "core/utf8.h"

namespace sentiflow {
namespace {

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool is_attribute_name_char(char c) { return is_id_char(c) || c == '.'; }

// SQS's Number attribute: a decimal number with up to 38 significant digits.
bool is_sqs_number(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  size_t digits = 0;
  size_t significant = 0;
  bool leading = true;
  auto take_digits = [&] {
    const size_t start = i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (leading && text[i] == '0') continue;
      leading = false;
      ++significant;
    }
    digits += i - start;
  };
  take_digits();
  if (i < text.size() && text[i] == '.') {
    ++i;
    take_digits();
  }
  if (digits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    const size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start) return false;
  }
  return i == text.size() && significant <= 38;
}

std::optional<RuleViolation> check_attribute(const std::string& name, const MessageAttribute& attribute) {
  const auto bad_name = [&](std::string_view why) {
    return RuleViolation{"InvalidParameterValue", fmt::format("message attribute name '{}' {}", name, why)};
  };
  if (name.empty() || name.size() > 256) return bad_name("must be 1-256 characters long");
  for (char c : name)
    if (!is_attribute_name_char(c)) return bad_name("may contain only A-Z a-z 0-9 _ - .");
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos)
    return bad_name("may not start or end with '.' or contain '..'");
  const std::string lower = to_lower_ascii(name);
  if (lower.starts_with("aws.") || lower.starts_with("amazon."))
    return bad_name("may not start with the reserved prefixes 'AWS.' or 'Amazon.'");

  const std::string& type = attribute.data_type;
  const std::string base = type.substr(0, type.find('.'));
  if ((base != "String" && base != "Number" && base != "Binary") || type.size() > 256 ||
      (base.size() < type.size() && base.size() + 1 == type.size()))
    return RuleViolation{"InvalidParameterValue",
                         fmt::format("message attribute '{}' has data type '{}'; expected String, Number or Binary, "
                                     "optionally followed by '.label'",
                                     name, type)};
  if (attribute.value.empty())
    return RuleViolation{"InvalidParameterValue", fmt::format("message attribute '{}' has an empty value", name)};
  if (base == "Number" && !is_sqs_number(attribute.value))
    return RuleViolation{"InvalidParameterValue",
                         fmt::format("message attribute '{}' is a Number but '{}' is not a decimal number of at most "
                                     "38 significant digits",
                                     name, attribute.value)};
  if (base == "String")
    if (auto why = find_invalid_message_text(attribute.value))
      return RuleViolation{"InvalidParameterValue", fmt::format("message attribute '{}': {}", name, *why)};
  return std::nullopt;
}

}  // namespace

uint64_t message_size(std::string_view body, const MessageAttributes& attributes) {
  uint64_t size = body.size();
  for (const auto& [name, attribute] : attributes)
    size += name.size() + attribute.data_type.size() + attribute.value.size();
  return size;
}

std::optional<std::string> find_invalid_message_text(std::string_view text) {
  if (const auto at = find_invalid_utf8(text)) return fmt::format("invalid UTF-8 at byte {}", *at);
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
      return fmt::format("control character U+{:04X} at byte {} is not allowed", c, i);
    // U+FFFE and U+FFFF (EF BF BE, EF BF BF) are the only other characters SQS refuses in
    // valid UTF-8; surrogates are already invalid UTF-8.
    if (c == 0xEF && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xBF &&
        (static_cast<unsigned char>(text[i + 2]) == 0xBE || static_cast<unsigned char>(text[i + 2]) == 0xBF))
      return fmt::format("non-character U+FFF{} at byte {} is not allowed", text[i + 2] == '\xBE' ? 'E' : 'F', i);
  }
  return std::nullopt;
}

std::optional<RuleViolation> check_send_entry(const SendEntry& entry, const QueueLimits& limits) {
  if (entry.body.empty()) return RuleViolation{"InvalidParameterValue", "the message body is empty"};
  const uint64_t size = message_size(entry.body, entry.attributes);
  if (size > limits.max_message_bytes)
    return RuleViolation{"MessageTooLong",
                         fmt::format("the message is {} bytes (body and attributes); the queue's limit is {} bytes",
                                     size, limits.max_message_bytes)};
  if (auto why = find_invalid_message_text(entry.body))
    return RuleViolation{"InvalidMessageContents", fmt::format("the message body: {}", *why)};
  if (entry.delay.count() < 0 || entry.delay > limits.max_delay)
    return RuleViolation{"InvalidParameterValue",
                         fmt::format("delay {} ms is outside 0-{} ms", entry.delay.count(), limits.max_delay.count())};
  if (entry.attributes.size() > limits.max_attributes)
    return RuleViolation{"InvalidParameterValue", fmt::format("{} message attributes; at most {} are allowed",
                                                              entry.attributes.size(), limits.max_attributes)};
  for (const auto& [name, attribute] : entry.attributes)
    if (auto violation = check_attribute(name, attribute)) return violation;
  return std::nullopt;
}

void check_batch_ids(std::span<const std::string_view> ids, size_t max_entries, std::string_view what) {
  if (ids.empty()) throw invalid_input(fmt::format("{}: a batch needs at least one entry", what));
  if (ids.size() > max_entries)
    throw invalid_input(
        fmt::format("{}: {} entries in one batch; at most {} are allowed", what, ids.size(), max_entries));
  std::set<std::string_view> seen;
  for (const auto id : ids) {
    bool ok = !id.empty() && id.size() <= 80;
    for (char c : id) ok = ok && is_id_char(c);
    if (!ok) throw invalid_input(fmt::format("{}: batch entry id '{}' must be 1-80 of A-Z a-z 0-9 - _", what, id));
    if (!seen.insert(id).second)
      throw invalid_input(fmt::format("{}: batch entry id '{}' appears twice; ids must be distinct", what, id));
  }
}

std::chrono::milliseconds check_duration(std::chrono::milliseconds value, std::chrono::milliseconds max,
                                         std::chrono::milliseconds granularity, std::string_view what) {
  if (value.count() < 0 || value > max)
    throw invalid_input(fmt::format("{} {} ms is outside 0-{} ms", what, value.count(), max.count()));
  const auto step = granularity.count() > 0 ? granularity.count() : 1;
  return std::chrono::milliseconds{(value.count() + step - 1) / step * step};
}

}  // namespace sentiflow
