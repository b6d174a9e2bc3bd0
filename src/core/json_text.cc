#include "core/json_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>
#include <utility>

#include "core/error.h"
#include "core/utf8.h"

namespace sentiflow {
namespace {

// The names of one object, to refuse a repeat. Most objects have a handful of members, where a
// linear scan beats hashing; a large one (an item may have thousands of attributes) switches
// to a hash set so that checking stays linear in the input.
class NameSet {
 public:
  // False when `name` is already there.
  bool insert(const std::string& name) {
    if (hashed_.empty()) {
      if (std::find(list_.begin(), list_.end(), name) != list_.end()) return false;
      if (list_.size() < kLinearMax) {
        list_.push_back(name);
        return true;
      }
      hashed_.insert(std::make_move_iterator(list_.begin()), std::make_move_iterator(list_.end()));
      list_.clear();
    }
    return hashed_.insert(name).second;
  }

 private:
  static constexpr size_t kLinearMax = 16;
  std::vector<std::string> list_;
  std::unordered_set<std::string> hashed_;
};

// Scans RFC 8259's number, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, from `pos` of `in`:
// returns one past its end. When the text there is no number, sets `why` and returns where the
// scan stopped.
size_t scan_number(std::string_view in, size_t pos, std::string_view& why) {
  const auto peek = [&] { return pos < in.size() ? in[pos] : '\0'; };
  const auto digits = [&] {
    const size_t from = pos;
    while (pos < in.size() && in[pos] >= '0' && in[pos] <= '9') ++pos;
    return pos - from;
  };
  if (peek() == '-') ++pos;
  if (peek() == '0') {
    ++pos;
  } else if (digits() == 0) {
    why = "a number needs digits";
    return pos;
  }
  if (peek() == '.') {
    ++pos;
    if (digits() == 0) {
      why = "a number needs digits after '.'";
      return pos;
    }
  }
  if (peek() == 'e' || peek() == 'E') {
    ++pos;
    if (peek() == '+' || peek() == '-') ++pos;
    if (digits() == 0) why = "a number needs digits in its exponent";
  }
  return pos;
}

// An RFC 8259 scanner that checks its input and copies it without insignificant whitespace.
// Errors name the byte of the input where the problem is; nothing is converted, so numbers of
// any size or precision pass through as written.
class Scanner {
 public:
  // `emit`: whether to build the compact text (a string read only for its value needs none).
  Scanner(std::string_view in, std::string_view what, int max_depth, bool emit)
      : in_(in), what_(what), max_depth_(max_depth), emit_(emit) {
    if (emit_) out_.reserve(in.size());  // compact text is never longer than its input
  }

  // The whole input as one object, with its top-level members.
  JsonObject whole_object() {
    skip_whitespace();
    if (peek() != '{') refuse_other_value();
    object(1, true);
    skip_whitespace();
    if (pos_ != in_.size()) fail(fmt::format("unexpected text after {}", what_));
    JsonObject result;
    result.text = std::move(out_);
    result.members.reserve(spans_.size());
    for (auto& [name, span] : spans_)
      result.members.push_back(
          JsonMember{std::move(name), std::string_view(result.text).substr(span.first, span.second)});
    return result;
  }

  // The whole input as one string literal, decoded.
  std::string whole_string() {
    if (peek() != '"') fail("expected a string");
    std::string decoded = string(true);
    if (pos_ != in_.size()) fail("unexpected text after the string");
    return decoded;
  }

 private:
  [[noreturn]] void fail(std::string_view why) const {
    throw invalid_input(fmt::format("{} is not valid JSON: {} at byte {}", what_, why, pos_ + 1));
  }

  // The input is not an object: say so when it is some other JSON value, else where its
  // syntax breaks.
  [[noreturn]] void refuse_other_value() {
    const char first = peek();
    value(0);
    skip_whitespace();
    if (pos_ != in_.size()) fail(fmt::format("unexpected text after {}", what_));
    const std::string_view kind = first == '['                   ? "an array"
                                  : first == '"'                 ? "a string"
                                  : first == 'n'                 ? "null"
                                  : first == 't' || first == 'f' ? "a boolean"
                                                                 : "a number";
    throw invalid_input(fmt::format("{} must be a JSON object, not {}", what_, kind));
  }

  char peek() const { return pos_ < in_.size() ? in_[pos_] : '\0'; }

  void emit(char c) {
    if (emit_) out_ += c;
  }
  void emit(std::string_view s) {
    if (emit_) out_.append(s);
  }

  void skip_whitespace() {
    while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r'))
      ++pos_;
  }

  void expect(char c) {
    skip_whitespace();
    if (peek() != c) fail(pos_ == in_.size() ? std::string("unexpected end") : fmt::format("expected '{}'", c));
    emit(c);
    ++pos_;
  }

  // Consumes `c` (after whitespace) when it is next.
  bool take(char c) {
    skip_whitespace();
    if (peek() != c) return false;
    emit(c);
    ++pos_;
    return true;
  }

  void value(int depth) {
    skip_whitespace();
    const char c = peek();
    if (c == '{') return object(depth + 1, false);
    if (c == '[') return array(depth + 1);
    if (c == '"') return void(string(false));
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    for (std::string_view word : {"true", "false", "null"})
      if (in_.substr(pos_, word.size()) == word) {
        emit(word);
        pos_ += word.size();
        return;
      }
    fail(pos_ == in_.size() ? "unexpected end" : "expected a value");
  }

  void check_depth(int depth) const {
    if (depth > max_depth_) fail(fmt::format("nested deeper than {} levels", max_depth_));
  }

  // `top`: the outermost object, whose members are recorded.
  void object(int depth, bool top) {
    check_depth(depth);
    expect('{');
    if (take('}')) return;
    NameSet names;
    do {
      skip_whitespace();
      if (peek() != '"') fail("expected an attribute name");
      const size_t name_at = pos_;
      std::string name = string(true);
      if (!names.insert(name)) {
        pos_ = name_at;
        fail(fmt::format("the attribute '{}' appears twice", name));
      }
      expect(':');
      skip_whitespace();
      const size_t value_at = out_.size();
      value(depth);
      if (top) spans_.emplace_back(std::move(name), std::pair(value_at, out_.size() - value_at));
    } while (take(','));
    expect('}');
  }

  void array(int depth) {
    check_depth(depth);
    expect('[');
    if (take(']')) return;
    do value(depth);
    while (take(','));
    expect(']');
  }

  // A number (scan_number), copied as written.
  void number() {
    const size_t start = pos_;
    std::string_view why;
    pos_ = scan_number(in_, pos_, why);
    if (!why.empty()) fail(why);
    emit(in_.substr(start, pos_ - start));
  }

  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  unsigned hex4() {
    if (pos_ + 4 > in_.size()) fail("a \\u escape needs four hex digits");
    unsigned value = 0;
    for (size_t i = 0; i < 4; ++i) {
      const int d = hex_digit(in_[pos_ + i]);
      if (d < 0) fail("a \\u escape needs four hex digits");
      value = value * 16 + static_cast<unsigned>(d);
    }
    pos_ += 4;
    return value;
  }

  // A string literal, copied as written; returns its decoded value when `decode` is set.
  // Lone surrogate escapes are refused: the text must stay readable by any JSON parser.
  std::string string(bool decode) {
    const size_t start = pos_;
    ++pos_;  // the opening quote
    std::string decoded;
    size_t plain_from = pos_;
    auto flush_plain = [&] {
      if (decode) decoded.append(in_.substr(plain_from, pos_ - plain_from));
    };
    while (true) {
      if (pos_ >= in_.size()) fail("a string is not closed");
      const auto c = static_cast<unsigned char>(in_[pos_]);
      if (c == '"') break;
      if (c < 0x20) fail("a control character must be escaped in a string");
      if (c != '\\') {
        ++pos_;
        continue;
      }
      flush_plain();
      ++pos_;
      if (pos_ >= in_.size()) fail("a string is not closed");
      switch (in_[pos_++]) {
        case '"': decoded += '"'; break;
        case '\\': decoded += '\\'; break;
        case '/': decoded += '/'; break;
        case 'b': decoded += '\b'; break;
        case 'f': decoded += '\f'; break;
        case 'n': decoded += '\n'; break;
        case 'r': decoded += '\r'; break;
        case 't': decoded += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            pos_ -= 6;
            fail("a lone low surrogate escape");
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (in_.substr(pos_, 2) != "\\u") fail("a high surrogate escape without its low half");
            pos_ += 2;
            const unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) {
              pos_ -= 6;
              fail("a high surrogate escape without its low half");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          if (decode) append_utf8(decoded, static_cast<char32_t>(cp));
          break;
        }
        default: pos_ -= 2; fail("an invalid escape in a string");
      }
      plain_from = pos_;
    }
    flush_plain();
    const std::string_view raw = in_.substr(start, pos_ + 1 - start);
    if (const auto bad = find_invalid_utf8(raw)) {
      pos_ = start + *bad;
      fail("invalid UTF-8 in a string");
    }
    ++pos_;  // the closing quote
    emit(raw);
    return decoded;
  }

  std::string_view in_;
  std::string_view what_;
  int max_depth_;
  bool emit_;
  size_t pos_ = 0;
  std::string out_;
  // The top-level members: name, then the offset and length of the value in out_ (views are
  // made once out_ has its final place).
  std::vector<std::pair<std::string, std::pair<size_t, size_t>>> spans_;
};

void repoint(std::vector<JsonMember>& members, const char* from, const std::string& to) {
  for (auto& m : members) m.value = std::string_view(to.data() + (m.value.data() - from), m.value.size());
}

}  // namespace

bool is_json_number(std::string_view text) {
  std::string_view why;
  return scan_number(text, 0, why) == text.size() && why.empty();
}

JsonObject::JsonObject(const JsonObject& other) : text(other.text), members(other.members) {
  repoint(members, other.text.data(), text);
}

JsonObject::JsonObject(JsonObject&& other) noexcept { *this = std::move(other); }

JsonObject& JsonObject::operator=(const JsonObject& other) {
  if (this != &other) {
    text = other.text;
    members = other.members;
    repoint(members, other.text.data(), text);
  }
  return *this;
}

JsonObject& JsonObject::operator=(JsonObject&& other) noexcept {
  if (this != &other) {
    const char* from = other.text.data();  // a short string's bytes move with it: re-point
    text = std::move(other.text);
    members = std::move(other.members);
    repoint(members, from, text);
    other.text.clear();
    other.members.clear();
  }
  return *this;
}

const JsonMember* JsonObject::find(std::string_view name) const {
  for (const auto& m : members)
    if (m.name == name) return &m;
  return nullptr;
}

JsonObject parse_json_object(std::string_view json, std::string_view what, int max_depth) {
  return Scanner(json, what, max_depth, true).whole_object();
}

std::optional<std::string> json_string_value(std::string_view value) {
  if (value.size() < 2 || value.front() != '"') return std::nullopt;
  const std::string_view inner = value.substr(1, value.size() - 2);
  // The common case, a string without escapes, needs no decoding; it was checked when its
  // object was parsed, but the view may come from elsewhere, so check it again cheaply.
  if (value.back() == '"' && inner.find_first_of("\"\\") == std::string_view::npos &&
      std::none_of(inner.begin(), inner.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }) &&
      is_valid_utf8(inner))
    return std::string(inner);
  try {
    return Scanner(value, "the value", 1, false).whole_string();
  } catch (const Error&) {
    return std::nullopt;  // not a string literal after all
  }
}

std::optional<std::string> json_scalar_text(std::string_view value) {
  if (value.empty()) return std::nullopt;
  switch (value.front()) {
    case '"': return json_string_value(value);
    case '{':
    case '[':
    case 'n': return std::nullopt;
    default: return std::string(value);  // a number, true or false, as written
  }
}

void append_json_quoted(std::string& out, std::string_view text) {
  if (const auto bad = find_invalid_utf8(text)) throw invalid_input(fmt::format("invalid UTF-8 at byte {}", *bad + 1));
  append_json_quoted_unchecked(out, text);
}

void append_json_quoted_unchecked(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t plain = 0;  // start of the run of characters copied as they are
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(text.data() + plain, text.size() - plain);
  out.push_back('"');
}

// The end of the string literal that starts at `pos` (its opening quote), one past the closing
// quote; text.size() when it is not closed.
size_t json_string_end(std::string_view text, size_t pos) {
  for (++pos; pos < text.size(); ++pos) {
    if (text[pos] == '\\') {
      ++pos;
    } else if (text[pos] == '"') {
      return pos + 1;
    }
  }
  return text.size();
}

// One past the end of the compact value that starts at `pos`.
size_t json_value_end(std::string_view text, size_t pos) {
  if (pos >= text.size()) return text.size();
  if (text[pos] == '"') return json_string_end(text, pos);
  if (text[pos] != '{' && text[pos] != '[') {
    while (pos < text.size() && text[pos] != ',' && text[pos] != '}' && text[pos] != ']') ++pos;
    return pos;
  }
  int depth = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '"') {
      pos = json_string_end(text, pos);
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') {
      if (--depth == 0) return pos + 1;
    }
    ++pos;
  }
  return pos;
}

std::optional<std::string_view> find_member_unchecked(std::string_view object, std::string_view name) {
  if (object.size() < 2 || object.front() != '{') return std::nullopt;
  size_t pos = 1;
  while (pos < object.size() && object[pos] == '"') {
    const size_t name_end = json_string_end(object, pos);
    if (name_end >= object.size()) break;
    const std::string_view literal = object.substr(pos, name_end - pos);  // quotes included
    const std::string_view raw_name = literal.substr(1, literal.size() - 2);
    // Names with escapes are compared decoded; plain names (the usual case) directly.
    const bool match =
        raw_name.find('\\') == std::string_view::npos ? raw_name == name : json_string_value(literal) == name;
    pos = name_end + 1;  // past ':'
    const size_t value_end = json_value_end(object, pos);
    if (match) return object.substr(pos, value_end - pos);
    pos = value_end;
    if (pos >= object.size() || object[pos] != ',') break;
    ++pos;
  }
  return std::nullopt;
}

}  // namespace sentiflow
