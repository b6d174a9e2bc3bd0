#include "table/json_item.h"

#include <fmt/format.h>

#include <optional>

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

}  // namespace

ParsedItem parse_item(std::string_view json, const KeySchema& schema, const TableLimits& limits) {
  JsonObject item = parse_json_object(json, "the item", kMaxItemDepth);
  ParsedItem parsed;
  parsed.key.partition = key_value(item, schema.partition_key, "key", limits.max_partition_key_bytes);
  if (schema.sort_key) parsed.key.sort = key_value(item, *schema.sort_key, "sort key", limits.max_sort_key_bytes);
  if (item.text.size() > limits.max_item_bytes)
    throw invalid_input(fmt::format("the item is {} bytes; the item size limit is {} bytes ({} KiB, DynamoDB's 400 KB)",
                                    item.text.size(), limits.max_item_bytes, limits.max_item_bytes / 1024));
  parsed.text = std::move(item.text);
  return parsed;
}

}  // namespace sentiflow::table_detail
