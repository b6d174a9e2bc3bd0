// Checking an item's JSON text for a table, and walking it; private to table/.
//
// Items are kept as text, numbers and strings exactly as written (core/json_text.h says why);
// only insignificant whitespace is removed. Pure functions, thread-safe.
//
// DynamoDB's types that JSON lacks are tagged objects: a one-member object whose name is the
// type's descriptor with a '$' in front, so that every table holds the same item text and an
// item copied from DynamoDB through any table goes back with its types:
//
//   {"$B": "aGk="}             binary: canonical base64 (RFC 4648, padded); "" is empty binary
//   {"$SS": ["a", "b"]}        string set: at least one string, none twice
//   {"$NS": [1, 2.50]}         number set: at least one number (exact text), no value twice
//                              (1 and 1.0 are one value, as in DynamoDB)
//   {"$BS": ["AAE=", "/w=="]}  binary set: at least one canonical base64 string, none twice
//   {"$M": {"$B": 1}}          the escape: a plain map whose only attribute has a tag's name
//
// An object value with exactly one member named $B, $SS, $NS, $BS or $M (compared decoded:
// "\u0024B" is "$B") is a tag and must be well-formed; every other object is a plain map. So
// a user's map that happens to look like a tag cannot be mistaken for one: it is either
// refused with a message naming the escape, or written with it. Canonical base64 and the
// set rules are required so that what DynamoDB gives back is what was put (sets in an order
// of DynamoDB's own). The item itself (the top level) is never a tag.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/json_text.h"
#include "table/table.h"

namespace sentiflow::table_detail {

// DynamoDB's limit on nested maps and lists.
inline constexpr int kMaxItemDepth = 32;

struct ParsedItem {
  std::string text;  // the item with insignificant whitespace removed
  ItemKey key;
};

// Checks that `json` is one JSON object (valid UTF-8, at most 32 levels of nesting, no
// repeated attribute names, well-formed tags) whose key attributes per `schema` are non-empty
// strings within `limits`, and that its text fits limits.max_item_bytes. Throws
// Error(invalid_input) saying what is wrong and where.
ParsedItem parse_item(std::string_view json, const KeySchema& schema, const TableLimits& limits);

enum class TagType { binary, string_set, number_set, binary_set, map };

struct Tag {
  TagType type;
  std::string_view value;  // the member's value, compact text
};

// The tag that the compact value `value` is, or nullopt for a plain map or a value that is not
// an object. Does not check the tag's value (check_tags does). A map read from DynamoDB needs
// the $M escape exactly when this finds a tag in it.
std::optional<Tag> find_tag(std::string_view value);

// Checks every tag in `item`, the compact text of an object that parse_json_object checked:
// each well-formed per the table above. Throws Error(invalid_input) naming the attribute
// (a.b[2]) and the rule, and for a malformed tag how to write a plain map of that name.
void check_tags(std::string_view item);

// Calls f(name literal, value) for each member of `object`, and f(element) for each element
// of `array`: compact text already checked by parse_json_object (literals as written).
template <typename F>
void for_each_member(std::string_view object, F&& f) {
  size_t pos = 1;
  while (pos < object.size() && object[pos] == '"') {
    const size_t name_end = json_string_end(object, pos);
    const std::string_view name = object.substr(pos, name_end - pos);
    pos = name_end + 1;  // past ':'
    const size_t end = json_value_end(object, pos);
    f(name, object.substr(pos, end - pos));
    pos = end;
    if (pos >= object.size() || object[pos] != ',') break;
    ++pos;
  }
}

template <typename F>
void for_each_element(std::string_view array, F&& f) {
  size_t pos = 1;
  while (pos < array.size() && array[pos] != ']') {
    const size_t end = json_value_end(array, pos);
    f(array.substr(pos, end - pos));
    pos = end;
    if (pos >= array.size() || array[pos] != ',') break;
    ++pos;
  }
}

}  // namespace sentiflow::table_detail
