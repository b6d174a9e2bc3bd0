// JSON kept as text: checking a JSON value and reading an object's members without turning
// numbers into doubles.
//
// nlohmann::json (our JSON library elsewhere) turns numbers into doubles, and its parser
// refuses values such as 1e400 outright ("number overflow"); DESIGN.md wants a DynamoDB N of
// 38 digits to survive from table to result. So items, message bodies and result records are
// checked by the small RFC 8259 scanner here and kept as text: numbers and strings exactly as
// written, only insignificant whitespace removed. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sentiflow {

// One member of a JSON object: its decoded name and its value as compact JSON text.
struct JsonMember {
  std::string name;
  std::string_view value;  // points into JsonObject::text
};

// A checked JSON object. `text` is the object with insignificant whitespace removed; the
// members' values point into it. Copies and moves re-point the views into the new `text`
// (a moved short string may live inside the object itself), so a JsonObject may be copied,
// moved and returned freely; only changing `text` in place invalidates the views.
struct JsonObject {
  std::string text;
  std::vector<JsonMember> members;  // top level only, in the order written

  JsonObject() = default;
  JsonObject(const JsonObject& other);
  JsonObject(JsonObject&& other) noexcept;
  JsonObject& operator=(const JsonObject& other);
  JsonObject& operator=(JsonObject&& other) noexcept;
  ~JsonObject() = default;

  // The member called `name`, or nullptr. A linear scan: objects are small.
  const JsonMember* find(std::string_view name) const;
};

// Checks that `json` is one JSON object (valid UTF-8, at most `max_depth` levels of nesting,
// no attribute name twice in any object, no lone surrogate escapes) and returns it compacted
// with its top-level members. Throws Error(invalid_input) saying what is wrong and where:
// "<what> is not valid JSON: <why> at byte N" (N counts from 1, in `json`), or "<what> must be
// a JSON object, not an array" for JSON of another kind; `what` names the thing ("the item",
// "the message"). A depth of 1 is a flat object.
JsonObject parse_json_object(std::string_view json, std::string_view what = "the value", int max_depth = 32);

// The decoded value when `value` is a JSON string literal (compact text as in JsonMember),
// else nullopt.
std::optional<std::string> json_string_value(std::string_view value);

// An attribute's value as plain text for templates and messages: a string decoded, a number,
// true, false as written; nullopt for null, objects, arrays.
std::optional<std::string> json_scalar_text(std::string_view value);

// Whether `text` is exactly one JSON number (RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?
// [0-9]+)?), with no whitespace around it.
bool is_json_number(std::string_view text);

// Appends `text` as a JSON string literal, quotes included: valid UTF-8 passes through,
// '"', '\\' and control characters are escaped. Throws Error(invalid_input) for invalid UTF-8
// ("invalid UTF-8 at byte N"), leaving `out` as it was.
void append_json_quoted(std::string& out, std::string_view text);

// append_json_quoted without the UTF-8 check, for hot paths whose text is known to be valid
// UTF-8 (invalid bytes would pass through as they are). No allocation beyond growing `out`.
// Escapes '"', '\\' and the control characters below 0x20 only: \n \r \t \b \f, else \u00XX.
void append_json_quoted_unchecked(std::string& out, std::string_view text);

// The value of the top-level member `name` of `object`, which must be the compact text of a
// JSON object already checked by parse_json_object (a table's item, a message's item): a fast
// walk that skips the other values without checking them again. nullopt when there is no such
// member. On text that was not checked the answer is unspecified (but memory-safe).
std::optional<std::string_view> find_member_unchecked(std::string_view object, std::string_view name);

// The walk find_member_unchecked makes, for callers that need every member or element of
// checked compact text: one past the end of the string literal that starts at `pos` (its opening
// quote), and one past the end of the value that starts at `pos`; text.size() when the text
// ends first (unchecked text).
size_t json_string_end(std::string_view text, size_t pos);
size_t json_value_end(std::string_view text, size_t pos);

}  // namespace sentiflow
