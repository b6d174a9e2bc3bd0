// Reading an item's JSON text without losing its numbers; private to table/.
//
// nlohmann::json (our JSON library elsewhere) turns numbers into doubles, and its parser
// refuses values such as 1e400 outright ("number overflow"); DESIGN.md wants a DynamoDB N of
// 38 digits to survive from table to result. So items are checked by the small RFC 8259
// scanner here and kept as text: numbers and strings exactly as written, only insignificant
// whitespace removed. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "table/table.h"

namespace sentiflow::table_detail {

struct ParsedItem {
  std::string text;  // the item with insignificant whitespace removed
  ItemKey key;
};

// Checks that `json` is one JSON object (valid UTF-8, at most 32 levels of nesting, no
// repeated attribute names) whose key attributes per `schema` are non-empty strings within
// `limits`, and that its text fits limits.max_item_bytes. Throws Error(invalid_input) saying
// what is wrong and where.
ParsedItem parse_item(std::string_view json, const KeySchema& schema, const TableLimits& limits);

// `text` as a JSON string literal, quotes included. Throws Error(invalid_input) for invalid UTF-8.
std::string quote_json_string(std::string_view text);

}  // namespace sentiflow::table_detail
