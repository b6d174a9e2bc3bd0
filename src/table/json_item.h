// Checking an item's JSON text for a table; private to table/.
//
// Items are kept as text, numbers and strings exactly as written (core/json_text.h says why);
// only insignificant whitespace is removed. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "table/table.h"

namespace sentiflow::table_detail {

// DynamoDB's limit on nested maps and lists.
inline constexpr int kMaxItemDepth = 32;

struct ParsedItem {
  std::string text;  // the item with insignificant whitespace removed
  ItemKey key;
};

// Checks that `json` is one JSON object (valid UTF-8, at most 32 levels of nesting, no
// repeated attribute names) whose key attributes per `schema` are non-empty strings within
// `limits`, and that its text fits limits.max_item_bytes. Throws Error(invalid_input) saying
// what is wrong and where.
ParsedItem parse_item(std::string_view json, const KeySchema& schema, const TableLimits& limits);

}  // namespace sentiflow::table_detail
