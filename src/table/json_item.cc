#include "table/json_item.h"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <set>

#include "core/digest.h"
#include "core/error.h"
#include "core/json_text.h"

namespace sentiflow::table_detail {
namespace {

// The key attribute `name` of `item` as a non-empty string of at most `max` bytes. `kind` is
// "key" or "sort key", for the message.
std::string key_value(const JsonObject& item, const std::string& name, std::string_view kind, size_t max) {
  const JsonMember* member = item.find(name);
  if (!member) throw invalid_input(fmt::format("the item is invalid: the {} attribute '{}' is missing", kind, name));
  std::optional<std::string> value = json_string_value(member->value);
  if (!value) throw invalid_input(fmt::format("the item is invalid: the key attribute '{}' must be a string", name));
  if (value->empty()) throw invalid_input(fmt::format("the item is invalid: the key attribute '{}' is empty", name));
  if (value->size() > max)
    throw invalid_input(fmt::format("the item is invalid: the key attribute '{}' is {} bytes; at most {} are allowed",
                                    name, value->size(), max));
  return std::move(*value);
}

struct TagInfo {
  std::string_view name;
  TagType type;
  std::string_view what;  // for messages
};

constexpr TagInfo kTags[] = {
    {"$B", TagType::binary, "a DynamoDB binary (B)"},
    {"$SS", TagType::string_set, "a DynamoDB string set (SS)"},
    {"$NS", TagType::number_set, "a DynamoDB number set (NS)"},
    {"$BS", TagType::binary_set, "a DynamoDB binary set (BS)"},
    {"$M", TagType::map, "the escape of a map whose only attribute has a tag's name"},
};

const TagInfo* tag_info(std::string_view name) {
  for (const TagInfo& t : kTags)
    if (t.name == name) return &t;
  return nullptr;
}

const TagInfo& tag_info(TagType type) {
  for (const TagInfo& t : kTags)
    if (t.type == type) return t;
  return kTags[0];  // unreachable: every TagType is in kTags
}

// A number's value as text, so that two numbers DynamoDB takes for one (1, 1.0, 10e-1; 0, -0)
// compare equal: sign, significant digits, exponent. `n` is a checked JSON number. An exponent
// of more than 15 digits (far outside DynamoDB's range) keeps the number's own text.
std::string number_value_key(std::string_view n) {
  size_t i = 0;
  const bool negative = n[0] == '-';
  if (negative) ++i;
  std::string digits;
  int64_t exponent = 0;
  while (i < n.size() && n[i] >= '0' && n[i] <= '9') digits += n[i++];
  if (i < n.size() && n[i] == '.') {
    for (++i; i < n.size() && n[i] >= '0' && n[i] <= '9'; ++i) {
      digits += n[i];
      --exponent;
    }
  }
  if (i < n.size() && (n[i] == 'e' || n[i] == 'E')) {
    ++i;
    const bool minus = n[i] == '-';
    if (n[i] == '-' || n[i] == '+') ++i;
    const std::string_view e = n.substr(i);
    if (e.size() > 15) return std::string(n);
    const int64_t value = std::stoll(std::string(e));
    exponent += minus ? -value : value;
  }
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  digits.erase(0, first);
  const size_t last = digits.find_last_not_of('0');
  exponent += static_cast<int64_t>(digits.size() - 1 - last);
  digits.erase(last + 1);
  return fmt::format("{}{}e{}", negative ? "-" : "", digits, exponent);
}

bool is_canonical_base64(const std::string& text) {
  try {
    return base64_encode(base64_decode(text)) == text;
  } catch (const Error&) {
    return false;
  }
}

bool is_number(std::string_view value) {
  return !value.empty() && (value[0] == '-' || (value[0] >= '0' && value[0] <= '9'));
}

void check_value(std::string_view value, std::string& path);

// Checks the values of the members of the object `object`, extending `path` with each name.
void check_members(std::string_view object, std::string& path) {
  for_each_member(object, [&](std::string_view literal, std::string_view value) {
    const size_t size = path.size();
    if (!path.empty()) path += '.';
    path += json_string_value(literal).value_or("?");
    check_value(value, path);
    path.resize(size);
  });
}

[[noreturn]] void bad_tag(const TagInfo& tag, const std::string& path, std::string_view rule, bool hint) {
  std::string message =
      fmt::format("the item is invalid: attribute '{}': {{\"{}\": …}} is {} and {}", path, tag.name, tag.what, rule);
  if (hint && tag.type != TagType::map)
    message +=
        fmt::format("; a map whose only attribute is named '{0}' is written {{\"$M\": {{\"{0}\": …}}}}", tag.name);
  throw invalid_input(message);
}

void check_tag(const Tag& tag, const std::string& path) {
  const TagInfo& info = tag_info(tag.type);
  const std::string_view v = tag.value;
  switch (tag.type) {
    case TagType::binary: {
      const auto text = json_string_value(v);
      if (!text) bad_tag(info, path, "needs a base64 string", true);
      if (!is_canonical_base64(*text))
        bad_tag(info, path, "needs canonical base64 (RFC 4648: A-Z a-z 0-9 + /, padded with '=')", true);
      return;
    }
    case TagType::string_set:
    case TagType::binary_set:
    case TagType::number_set: {
      const bool numbers = tag.type == TagType::number_set;
      const bool binary = tag.type == TagType::binary_set;
      const std::string_view element_kind = numbers ? "numbers" : binary ? "base64 strings" : "strings";
      if (v.front() != '[') bad_tag(info, path, fmt::format("needs an array of {}", element_kind), true);
      std::set<std::string> seen;
      for_each_element(v, [&](std::string_view element) {
        std::string key;
        if (numbers) {
          if (!is_number(element)) bad_tag(info, path, "needs an array of numbers", true);
          key = number_value_key(element);
        } else {
          auto text = json_string_value(element);
          if (!text) bad_tag(info, path, fmt::format("needs an array of {}", element_kind), true);
          if (binary && !is_canonical_base64(*text))
            bad_tag(info, path, "needs canonical base64 strings (RFC 4648: A-Z a-z 0-9 + /, padded with '=')", true);
          key = std::move(*text);
        }
        if (!seen.insert(std::move(key)).second)
          bad_tag(info, path, fmt::format("holds {} twice (a set's values are distinct)", element), false);
      });
      if (seen.empty()) bad_tag(info, path, "needs at least one value (DynamoDB has no empty sets)", true);
      return;
    }
    case TagType::map: {
      // Only where it is needed, so that every map has one way to be written: what DynamoDB
      // gives back is what was put.
      if (v.front() != '{' || !find_tag(v))
        bad_tag(info, path,
                "needs an object whose only attribute is named $B, $SS, $NS, $BS or $M (other maps "
                "need no escape)",
                false);
      std::string inner = path;
      check_members(v, inner);
      return;
    }
  }
}

void check_value(std::string_view value, std::string& path) {
  if (value.front() == '{') {
    if (const auto tag = find_tag(value)) {
      check_tag(*tag, path);
    } else {
      check_members(value, path);
    }
  } else if (value.front() == '[') {
    size_t index = 0;
    for_each_element(value, [&](std::string_view element) {
      const size_t size = path.size();
      path += fmt::format("[{}]", index++);
      check_value(element, path);
      path.resize(size);
    });
  }
}

}  // namespace

std::optional<Tag> find_tag(std::string_view value) {
  if (value.size() < 5 || value[0] != '{' || value[1] != '"') return std::nullopt;
  const size_t name_end = json_string_end(value, 1);
  if (name_end + 1 >= value.size()) return std::nullopt;
  const std::string_view literal = value.substr(1, name_end - 1);  // quotes included
  const std::string_view raw = literal.substr(1, literal.size() - 2);
  // Names with escapes are compared decoded, so "\u0024B" cannot pass for a plain map.
  const TagInfo* info = nullptr;
  if (raw.find('\\') == std::string_view::npos) {
    info = tag_info(raw);
  } else if (const auto decoded = json_string_value(literal)) {
    info = tag_info(*decoded);
  }
  if (info == nullptr) return std::nullopt;
  const size_t start = name_end + 1;  // past ':'
  const size_t end = json_value_end(value, start);
  if (end != value.size() - 1) return std::nullopt;  // a second member follows: a plain map
  return Tag{info->type, value.substr(start, end - start)};
}

void check_tags(std::string_view item) {
  // A tag's name comes first in its object: without '{"$' (or an escaped first character) in
  // the text there is none, and the walk is skipped.
  if (item.find("{\"$") == std::string_view::npos && item.find("{\"\\") == std::string_view::npos) return;
  std::string path;
  check_members(item, path);
}

ParsedItem parse_item(std::string_view json, const KeySchema& schema, const TableLimits& limits) {
  JsonObject item = parse_json_object(json, "the item", kMaxItemDepth);
  ParsedItem parsed;
  parsed.key.partition = key_value(item, schema.partition_key, "key", limits.max_partition_key_bytes);
  if (schema.sort_key) parsed.key.sort = key_value(item, *schema.sort_key, "sort key", limits.max_sort_key_bytes);
  if (item.text.size() > limits.max_item_bytes)
    throw invalid_input(fmt::format("the item is {} bytes; the item size limit is {} bytes ({} KiB, DynamoDB's 400 KB)",
                                    item.text.size(), limits.max_item_bytes, limits.max_item_bytes / 1024));
  check_tags(item.text);
  parsed.text = std::move(item.text);
  return parsed;
}

}  // namespace sentiflow::table_detail
