#include "table/json_item.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <set>

#include "core/error.h"
#include "core/utf8.h"

namespace sentiflow::table_detail {
namespace {

// DynamoDB's limit on nested maps and lists.
constexpr int kMaxDepth = 32;

class Scanner {
 public:
  Scanner(std::string_view in, const KeySchema& schema) : in_(in), schema_(schema) { out_.reserve(in.size()); }

  ParsedItem item() {
    skip_whitespace();
    if (peek() != '{') fail("an item must be a JSON object");
    object(1, true);
    skip_whitespace();
    if (pos_ != in_.size()) fail("unexpected text after the item");
    if (!partition_) fail(fmt::format("the key attribute '{}' is missing", schema_.partition_key), false);
    if (schema_.sort_key && !sort_)
      fail(fmt::format("the sort key attribute '{}' is missing", *schema_.sort_key), false);
    return ParsedItem{std::move(out_), ItemKey{std::move(*partition_), std::move(sort_)}};
  }

 private:
  [[noreturn]] void fail(std::string_view what, bool at = true) const {
    if (at) throw invalid_input(fmt::format("the item is not valid JSON: {} at byte {}", what, pos_ + 1));
    throw invalid_input(fmt::format("the item is invalid: {}", what));
  }

  char peek() const { return pos_ < in_.size() ? in_[pos_] : '\0'; }

  void skip_whitespace() {
    while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r'))
      ++pos_;
  }

  void expect(char c) {
    skip_whitespace();
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    out_ += c;
    ++pos_;
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
        out_ += word;
        pos_ += word.size();
        return;
      }
    fail(pos_ == in_.size() ? "unexpected end" : "expected a value");
  }

  void object(int depth, bool top) {
    if (depth > kMaxDepth) fail(fmt::format("nested deeper than {} levels", kMaxDepth));
    expect('{');
    std::set<std::string> names;
    skip_whitespace();
    if (peek() == '}') {
      out_ += '}';
      ++pos_;
      return;
    }
    while (true) {
      skip_whitespace();
      if (peek() != '"') fail("expected an attribute name");
      std::string name = string(true);
      if (!names.insert(name).second) fail(fmt::format("the attribute '{}' appears twice", name));
      expect(':');
      skip_whitespace();
      const bool is_partition = top && name == schema_.partition_key;
      const bool is_sort = top && schema_.sort_key && name == *schema_.sort_key;
      if (is_partition || is_sort) {
        if (peek() != '"')
          fail(fmt::format("the key attribute '{}' must be a string", name), false);
        (is_partition ? partition_ : sort_) = string(true);
      } else {
        value(depth);
      }
      skip_whitespace();
      if (peek() == ',') {
        out_ += ',';
        ++pos_;
        continue;
      }
      expect('}');
      return;
    }
  }

  void array(int depth) {
    if (depth > kMaxDepth) fail(fmt::format("nested deeper than {} levels", kMaxDepth));
    expect('[');
    skip_whitespace();
    if (peek() == ']') {
      out_ += ']';
      ++pos_;
      return;
    }
    while (true) {
      value(depth);
      skip_whitespace();
      if (peek() == ',') {
        out_ += ',';
        ++pos_;
        continue;
      }
      expect(']');
      return;
    }
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, copied as written.
  void number() {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (digits() == 0) {
      fail("a number needs digits");
    }
    if (peek() == '.') {
      ++pos_;
      if (digits() == 0) fail("a number needs digits after '.'");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (digits() == 0) fail("a number needs digits in its exponent");
    }
    out_.append(in_.substr(start, pos_ - start));
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
    for (int i = 0; i < 4; ++i) {
      const int d = hex_digit(in_[pos_ + static_cast<size_t>(i)]);
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
      const char e = peek();
      ++pos_;
      switch (e) {
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
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail("a lone low surrogate escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (in_.substr(pos_, 2) != "\\u") fail("a high surrogate escape without its low half");
            pos_ += 2;
            const unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("a high surrogate escape without its low half");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(decoded, static_cast<char32_t>(cp));
          break;
        }
        default:
          --pos_;
          fail("an invalid escape in a string");
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
    out_.append(raw);
    return decoded;
  }

  std::string_view in_;
  const KeySchema& schema_;
  size_t pos_ = 0;
  std::string out_;
  std::optional<std::string> partition_;
  std::optional<std::string> sort_;
};

}  // namespace

ParsedItem parse_item(std::string_view json, const KeySchema& schema, const TableLimits& limits) {
  ParsedItem item = Scanner(json, schema).item();
  const auto check_key = [](const std::string& name, const std::string& value, size_t max) {
    if (value.empty()) throw invalid_input(fmt::format("the item is invalid: the key attribute '{}' is empty", name));
    if (value.size() > max)
      throw invalid_input(fmt::format("the item is invalid: the key attribute '{}' is {} bytes; at most {} are allowed",
                                      name, value.size(), max));
  };
  check_key(schema.partition_key, item.key.partition, limits.max_partition_key_bytes);
  if (schema.sort_key) check_key(*schema.sort_key, *item.key.sort, limits.max_sort_key_bytes);
  if (item.text.size() > limits.max_item_bytes)
    throw invalid_input(fmt::format("the item is {} bytes; the item size limit is {} bytes ({} KiB, DynamoDB's 400 KB)",
                                    item.text.size(), limits.max_item_bytes, limits.max_item_bytes / 1024));
  return item;
}

std::string quote_json_string(std::string_view text) {
  if (const auto bad = find_invalid_utf8(text)) throw invalid_input(fmt::format("invalid UTF-8 at byte {}", *bad + 1));
  return nlohmann::json(std::string(text)).dump();
}

}  // namespace sentiflow::table_detail
