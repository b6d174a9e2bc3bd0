// Python 3 `str` semantics over UTF-8, as far as VADER needs them: str.split() whitespace,
// str.isupper(), str.lower(). Private to the sentiment component.
//
// The reference implementation runs on Python strings, so "a word in capitals" and "the word in
// lower case" mean what Python says, for every script, not only ASCII: 'GRÉAT'.isupper() is
// True, 'İ'.lower() is 'i̇' (two code points), a final capital sigma lowers to 'ς'. Character
// properties come from utf8proc; the few that utf8proc does not expose (Other_Uppercase,
// Other_Lowercase, Case_Ignorable's word-break part) are listed in python_text.cc. Python 3.11
// has Unicode 14, utf8proc 2.8 Unicode 15: only characters new in 15 can differ (six letters
// count as lower case here and are unassigned there).
//
// Every function is pure and thread-safe. Input must be valid UTF-8 (check with
// core/utf8.h first); invalid input gives unspecified, but memory-safe, results.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sentiflow::sentiment::python_text {

// Decodes the code point that starts at `p` (valid UTF-8, at least one byte before `end`) and
// stores its length in bytes in `length`.
inline char32_t decode(const unsigned char* p, const unsigned char* end, size_t& length) {
  const unsigned char b = p[0];
  if (b < 0x80) {
    length = 1;
    return b;
  }
  if (b < 0xE0 && p + 1 < end) {
    length = 2;
    return static_cast<char32_t>(((b & 0x1Fu) << 6) | (p[1] & 0x3Fu));
  }
  if (b < 0xF0 && p + 2 < end) {
    length = 3;
    return static_cast<char32_t>(((b & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu));
  }
  if (p + 3 < end) {
    length = 4;
    return static_cast<char32_t>(((b & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu));
  }
  length = 1;  // truncated input: step over one byte rather than read past the end
  return 0xFFFD;
}

// str.strip(): `text` without the leading and trailing code points that is_space() accepts.
std::string_view strip(std::string_view text);

// Whether str.split() splits at `c` (str.isspace()): the ASCII spaces and controls 0x09-0x0D and
// 0x1C-0x1F, and U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
bool is_space(char32_t c);

// How a code point counts for str.isupper(): a string is upper case when it has at least one
// `upper` code point and no `lower_or_title` one; `uncased` ones do not matter.
enum class Case : uint8_t { uncased, upper, lower_or_title };
Case case_of(char32_t c);

// str.isupper() of a UTF-8 string.
bool is_upper(std::string_view text);

// Appends str.lower() of the UTF-8 string `text` to `out`: full lower-case mapping (U+0130
// becomes "i\u0307") and the Final_Sigma rule for U+03A3, as CPython does.
void append_lower(std::string& out, std::string_view text);

// Python's round(x, digits) for 0 <= digits <= 6 and |x| < 1e9: the double nearest to x rounded
// to `digits` decimals, where the decimal rounding looks at x's exact binary value and breaks
// exact ties to even (so round(0.0625, 3) is 0.062, and round(2.675, 2) is 2.67).
double round_near_tie(double x, int digits);  // round() within 1e-7 of a tie: exact, slow
inline double round(double x, int digits) {
  constexpr double kScale[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};
  const double scale = kScale[digits];
  const double y = std::fabs(x * scale);  // within half an ulp of the exact product
  const double fraction = y - static_cast<double>(static_cast<long long>(y));
  // Far from a tie, the product's rounding error cannot change the outcome, and an integer
  // divided by a power of ten is the double nearest that decimal, as Python's result is.
  // (y + 2^52) - 2^52 rounds to an integer without a libm call.
  if (std::fabs(fraction - 0.5) > 1e-7) return std::copysign((y + 0x1p52) - 0x1p52, x) / scale;
  return round_near_tie(x, digits);
}

}  // namespace sentiflow::sentiment::python_text
