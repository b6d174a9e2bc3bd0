// A strict parser of the Prometheus text exposition format, version 0.0.4, for tests that
// scrape /metrics: what a Prometheus server would refuse, or silently misread, fails here
// with the line number.
//
// Stricter than the format in one deliberate way: every family must have both `# HELP` and
// `# TYPE`, before its first sample (the format makes them optional; our registry always
// writes them). Otherwise it follows the format's rules:
//   - lines end with '\n', the last one included; empty lines and other `#` comments are
//     ignored; tokens are separated by blanks or tabs;
//   - metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and do
//     not start with "__" (reserved); label values and HELP text are UTF-8, with the escapes
//     \\ \" \n (label values) and \\ \n (HELP) only;
//   - values are floats (NaN, +Inf and -Inf included), timestamps integer milliseconds;
//   - HELP and TYPE appear once per family, before its samples; a family's samples form one
//     group (no interleaving), and no series (name + label set) appears twice;
//   - counter, gauge and untyped samples carry the family's name (counters: not negative);
//     summaries `name{quantile="q"}` (0 <= q <= 1), name_sum and name_count; histograms
//     name_bucket with an `le` label (ascending, counts cumulative, ending with le="+Inf"),
//     name_sum and name_count, with count equal to the +Inf bucket.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sentiflow::testing_support::prometheus {

struct Sample {
  std::string name;  // as written: family name, or with _bucket/_sum/_count
  std::map<std::string, std::string> labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
  size_t line = 0;
};

struct Family {
  std::string name;
  std::string help;  // unescaped
  std::string type;  // counter, gauge, histogram, summary, untyped
  std::vector<Sample> samples;

  // The value of the sample `name` with exactly `labels`, or nullopt.
  std::optional<double> value(std::string_view sample_name,
                              const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples)
      if (s.name == sample_name && s.labels == labels) return s.value;
    return std::nullopt;
  }
};

class ParseError : public std::runtime_error {
 public:
  ParseError(size_t line, const std::string& message)
      : std::runtime_error("line " + std::to_string(line) + ": " + message), line_(line) {}
  size_t line() const { return line_; }

 private:
  size_t line_;
};

namespace detail {

inline bool is_name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
inline bool is_name_char(char c, bool colon) { return is_name_start(c, colon) || (c >= '0' && c <= '9'); }

inline bool is_metric_name(std::string_view s) {
  if (s.empty() || !is_name_start(s[0], true)) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_name_char(c, true); });
}

inline bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else
      return false;
    if (i + extra >= s.size()) return false;  // truncated
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values beyond Unicode are not UTF-8.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return false;
    i += extra + 1;
  }
  return true;
}

// A float as the format writes it: [+-]digits[.digits][e[+-]digits], or NaN, +Inf, -Inf.
inline std::optional<double> parse_float(std::string_view s) {
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "+Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  const std::string_view body = s.substr(i);
  // Check the shape by hand: from_chars would also take "inf", "nan" and hex forms.
  size_t j = 0, digits = 0;
  while (j < body.size() && body[j] >= '0' && body[j] <= '9') ++j, ++digits;
  if (j < body.size() && body[j] == '.') {
    ++j;
    while (j < body.size() && body[j] >= '0' && body[j] <= '9') ++j, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (j < body.size() && (body[j] == 'e' || body[j] == 'E')) {
    ++j;
    if (j < body.size() && (body[j] == '+' || body[j] == '-')) ++j;
    size_t exponent_digits = 0;
    while (j < body.size() && body[j] >= '0' && body[j] <= '9') ++j, ++exponent_digits;
    if (exponent_digits == 0) return std::nullopt;
  }
  if (j != body.size()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (ec != std::errc() || end != body.data() + body.size()) return std::nullopt;  // out of range
  return negative ? -value : value;
}

inline std::optional<int64_t> parse_timestamp(std::string_view s) {
  if (s.empty() || (s[0] == '+')) return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// One line, read left to right.
class Cursor {
 public:
  Cursor(std::string_view text, size_t line) : text_(text), line_(line) {}

  [[noreturn]] void fail(const std::string& message) const { throw ParseError(line_, message); }
  bool done() const { return pos_ == text_.size(); }
  char peek() const { return done() ? '\0' : text_[pos_]; }
  bool blank() const { return peek() == ' ' || peek() == '\t'; }
  void skip_blanks() {
    while (blank()) ++pos_;
  }
  std::string_view rest() const { return text_.substr(pos_); }

  std::string_view token() {  // up to a blank or the end
    const size_t start = pos_;
    while (!done() && !blank()) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  std::string_view name(bool colon) {
    const size_t start = pos_;
    if (!is_name_start(peek(), colon)) return {};
    while (!done() && is_name_char(peek(), colon)) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  void expect(char c, const char* what) {
    if (peek() != c) fail(std::string("expected ") + what);
    ++pos_;
  }
  // A quoted label value, the opening quote already read; escapes \\ \" \n.
  std::string quoted() {
    std::string out;
    while (true) {
      if (done()) fail("unterminated label value");
      const char c = text_[pos_++];
      if (c == '"') break;
      if (c != '\\') {
        out += c;
        continue;
      }
      const char e = peek();
      ++pos_;
      if (e == '\\')
        out += '\\';
      else if (e == '"')
        out += '"';
      else if (e == 'n')
        out += '\n';
      else
        fail(std::string("invalid escape \\") + (e == '\0' ? std::string() : std::string(1, e)) + " in a label value");
    }
    if (!valid_utf8(out)) fail("label value is not UTF-8");
    return out;
  }

 private:
  std::string_view text_;
  size_t line_;
  size_t pos_ = 0;
};

inline std::string unescape_help(std::string_view text, const Cursor& at) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (i + 1 == text.size()) at.fail("HELP text ends with a lone backslash");
    const char e = text[++i];
    if (e == '\\')
      out += '\\';
    else if (e == 'n')
      out += '\n';
    else
      at.fail(std::string("invalid escape \\") + e + " in HELP text");
  }
  if (!valid_utf8(out)) at.fail("HELP text is not UTF-8");
  return out;
}

struct FamilyState {
  bool has_help = false;
  bool has_type = false;
  size_t declared_line = 0;
};

// The checks that need a whole family: histograms' buckets, sums and counts; summaries' parts.
inline void check_family(const Family& f) {
  if (f.type != "histogram" && f.type != "summary") return;
  // Series of the family, keyed by labels without le/quantile.
  struct Series {
    std::vector<std::pair<double, const Sample*>> buckets;
    const Sample* sum = nullptr;
    const Sample* count = nullptr;
    size_t first_line = 0;
  };
  std::map<std::map<std::string, std::string>, Series> series;
  const std::string special = f.type == "histogram" ? "le" : "quantile";
  for (const auto& s : f.samples) {
    auto labels = s.labels;
    labels.erase(special);
    Series& one = series[labels];
    if (one.first_line == 0) one.first_line = s.line;
    if (s.name == f.name + "_sum")
      one.sum = &s;
    else if (s.name == f.name + "_count")
      one.count = &s;
    else
      one.buckets.emplace_back(0, &s);
  }
  for (auto& [labels, one] : series) {
    const size_t line = one.first_line;
    if (one.sum == nullptr) throw ParseError(line, f.type + " " + f.name + " has a series without " + f.name + "_sum");
    if (one.count == nullptr)
      throw ParseError(line, f.type + " " + f.name + " has a series without " + f.name + "_count");
    const double count = one.count->value;
    if (std::isnan(count) || count < 0 || std::floor(count) != count)
      throw ParseError(one.count->line, f.name + "_count must be a whole number, not negative");
    if (f.type == "summary") continue;
    if (one.buckets.empty()) throw ParseError(line, "histogram " + f.name + " has a series without buckets");
    double previous_le = -std::numeric_limits<double>::infinity();
    double previous_count = 0;
    bool first = true;
    for (const auto& [ignored, bucket] : one.buckets) {
      const auto le = parse_float(bucket->labels.at("le"));
      if (!le || std::isnan(*le)) throw ParseError(bucket->line, "le must be a float");
      if (!first && *le <= previous_le)
        throw ParseError(bucket->line, "histogram buckets must be in ascending le order");
      if (std::isnan(bucket->value) || bucket->value < 0 || std::floor(bucket->value) != bucket->value)
        throw ParseError(bucket->line, "a bucket count must be a whole number, not negative");
      if (bucket->value < previous_count) throw ParseError(bucket->line, "histogram buckets must be cumulative");
      previous_le = *le;
      previous_count = bucket->value;
      first = false;
    }
    if (!std::isinf(previous_le) || previous_le < 0)
      throw ParseError(one.buckets.back().second->line, "histogram " + f.name + " must end with le=\"+Inf\"");
    if (count != previous_count) throw ParseError(one.count->line, f.name + "_count must equal the le=\"+Inf\" bucket");
  }
}

}  // namespace detail

// Parses `text`; throws ParseError naming the line of the first violation.
inline std::vector<Family> parse(std::string_view text) {
  std::vector<Family> families;
  std::map<std::string, detail::FamilyState, std::less<>> declared;  // every family seen so far
  std::set<std::pair<std::string, std::map<std::string, std::string>>> series;
  Family* current = nullptr;

  auto finish_current = [&](size_t line) {
    if (current == nullptr) return;
    const auto& state = declared.at(current->name);
    if (!state.has_help) throw ParseError(line, "family " + current->name + " has no # HELP");
    if (!state.has_type) throw ParseError(line, "family " + current->name + " has no # TYPE");
  };

  if (!text.empty() && text.back() != '\n') {
    const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    throw ParseError(lines, "the last line does not end with \\n");
  }
  size_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    detail::Cursor at(line, line_number);
    if (line.empty()) continue;

    if (line[0] == '#') {
      at.expect('#', "#");
      at.skip_blanks();
      const std::string_view keyword = at.token();
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
      if (!at.blank()) at.fail("expected a metric name after # " + std::string(keyword));
      at.skip_blanks();
      const std::string name(at.name(true));
      if (name.empty()) at.fail("expected a metric name after # " + std::string(keyword));
      if (!at.done() && !at.blank()) at.fail("invalid metric name in # " + std::string(keyword));
      if (current == nullptr || current->name != name) {
        if (declared.count(name) != 0) at.fail("family " + name + " is declared again after other families");
        finish_current(line_number);
        families.push_back(Family{name, "", "", {}});
        current = &families.back();
        declared[name].declared_line = line_number;
      }
      auto& state = declared[name];
      if (!current->samples.empty()) at.fail("# " + std::string(keyword) + " for " + name + " after its samples");
      if (keyword == "HELP") {
        if (state.has_help) at.fail("a second # HELP for " + name);
        state.has_help = true;
        // As Prometheus reads it: the blanks after the name go, the rest of the line is the text.
        at.skip_blanks();
        current->help = detail::unescape_help(at.rest(), at);
      } else {
        if (state.has_type) at.fail("a second # TYPE for " + name);
        state.has_type = true;
        at.skip_blanks();
        const std::string type(at.token());
        at.skip_blanks();
        if (!at.done()) at.fail("unexpected text after the type");
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" && type != "untyped")
          at.fail("unknown metric type '" + type + "'");
        current->type = type;
      }
      continue;
    }

    // A sample: name [{labels}] value [timestamp]
    Sample s;
    s.line = line_number;
    s.name = std::string(at.name(true));
    if (s.name.empty()) at.fail("expected a metric name");
    bool blank_before_value = at.blank();
    at.skip_blanks();
    if (at.peek() == '{') {
      at.expect('{', "{");
      while (true) {
        at.skip_blanks();
        if (at.peek() == '}') break;
        const std::string label(at.name(false));
        if (label.empty()) at.fail("expected a label name");
        if (label.starts_with("__")) at.fail("label name " + label + " is reserved");
        at.skip_blanks();
        at.expect('=', "= after a label name");
        at.skip_blanks();
        at.expect('"', "a quoted label value");
        std::string value = at.quoted();
        if (!s.labels.emplace(label, std::move(value)).second) at.fail("label " + label + " appears twice");
        at.skip_blanks();
        if (at.peek() == ',') {
          at.expect(',', ",");
          continue;
        }
        if (at.peek() != '}') at.fail("expected , or } in the labels");
      }
      at.expect('}', "}");
      blank_before_value = at.blank();
    }
    if (!blank_before_value) at.fail("expected a blank before the value");
    at.skip_blanks();
    const std::string_view value_text = at.token();
    const auto value = detail::parse_float(value_text);
    if (!value) at.fail("invalid sample value '" + std::string(value_text) + "'");
    s.value = *value;
    at.skip_blanks();
    if (!at.done()) {
      const std::string_view ts = at.token();
      s.timestamp_ms = detail::parse_timestamp(ts);
      if (!s.timestamp_ms) at.fail("invalid timestamp '" + std::string(ts) + "'");
      at.skip_blanks();
      if (!at.done()) at.fail("unexpected text after the timestamp");
    }

    // Which family it belongs to: only the one declared last, whose group this is.
    if (current == nullptr) at.fail("sample " + s.name + " before any # HELP and # TYPE");
    const auto& state = declared.at(current->name);
    if (!state.has_help || !state.has_type)
      at.fail("sample " + s.name + " before both # HELP and # TYPE of " + current->name);
    const std::string& family = current->name;
    const std::string& type = current->type;
    auto is = [&](const char* suffix) { return s.name == family + suffix; };
    if (type == "histogram") {
      if (is("_bucket")) {
        if (s.labels.count("le") == 0) at.fail(s.name + " has no le label");
      } else if (is("_sum") || is("_count")) {
        if (s.labels.count("le") != 0) at.fail(s.name + " must not have an le label");
      } else {
        at.fail("sample " + s.name + " is not part of histogram " + family);
      }
    } else if (type == "summary") {
      if (s.name == family) {
        const auto q = s.labels.find("quantile");
        if (q == s.labels.end()) at.fail(s.name + " has no quantile label");
        const auto qv = detail::parse_float(q->second);
        if (!qv || std::isnan(*qv) || *qv < 0 || *qv > 1) at.fail("quantile must be a float from 0 to 1");
      } else if (is("_sum") || is("_count")) {
        if (s.labels.count("quantile") != 0) at.fail(s.name + " must not have a quantile label");
      } else {
        at.fail("sample " + s.name + " is not part of summary " + family);
      }
    } else {
      if (s.name != family) at.fail("sample " + s.name + " is not part of " + type + " " + family);
      if (type == "counter" && s.value < 0) at.fail("counter " + s.name + " is negative");
    }
    if (!series.emplace(s.name, s.labels).second) at.fail("duplicate series " + s.name);
    current->samples.push_back(std::move(s));
  }
  finish_current(line_number);
  for (const auto& f : families) detail::check_family(f);
  return families;
}

// The family named `name`, or nullptr.
inline const Family* find(const std::vector<Family>& families, std::string_view name) {
  for (const auto& f : families)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace sentiflow::testing_support::prometheus
