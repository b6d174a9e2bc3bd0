#include "sentiment/python_text.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/utf8.h"

namespace sentiflow::sentiment::python_text {
namespace {

struct Range {
  char32_t first, last;
};

bool in(const Range* begin, const Range* end, char32_t c) {
  const Range* r = std::upper_bound(begin, end, c, [](char32_t x, const Range& range) { return x < range.first; });
  return r != begin && c <= (r - 1)->last;
}

// Unicode's Other_Uppercase and Other_Lowercase (PropList.txt, Unicode 14.0 as in Python 3.11):
// code points that are Uppercase/Lowercase without being Lu/Ll, such as Ⓐ, ª or ʰ. utf8proc
// gives categories only, so these two lists complete them.
constexpr Range kOtherUppercase[] = {
    {0x2160, 0x216F}, {0x24B6, 0x24CF}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189},
};
constexpr Range kOtherLowercase[] = {
    {0x00AA, 0x00AA}, {0x00BA, 0x00BA}, {0x02B0, 0x02B8},   {0x02C0, 0x02C1},   {0x02E0, 0x02E4},   {0x0345, 0x0345},
    {0x037A, 0x037A}, {0x1D2C, 0x1D6A}, {0x1D78, 0x1D78},   {0x1D9B, 0x1DBF},   {0x2071, 0x2071},   {0x207F, 0x207F},
    {0x2090, 0x209C}, {0x2170, 0x217F}, {0x24D0, 0x24E9},   {0x2C7C, 0x2C7D},   {0xA69C, 0xA69D},   {0xA770, 0xA770},
    {0xA7F8, 0xA7F9}, {0xAB5C, 0xAB5F}, {0x10780, 0x10780}, {0x10783, 0x10785}, {0x10787, 0x107B0}, {0x107B2, 0x107BA},
};
// The part of Case_Ignorable that comes from Word_Break (MidLetter, MidNumLet, Single_Quote);
// the rest is the categories Mn, Me, Cf, Lm and Sk.
constexpr Range kWordBreakCaseIgnorable[] = {
    {0x0027, 0x0027}, {0x002E, 0x002E}, {0x003A, 0x003A}, {0x00B7, 0x00B7}, {0x0387, 0x0387}, {0x055F, 0x055F},
    {0x05F4, 0x05F4}, {0x2018, 0x2019}, {0x2024, 0x2024}, {0x2027, 0x2027}, {0xFE13, 0xFE13}, {0xFE52, 0xFE52},
    {0xFE55, 0xFE55}, {0xFF07, 0xFF07}, {0xFF0E, 0xFF0E}, {0xFF1A, 0xFF1A},
};

template <size_t N>
bool in(const Range (&table)[N], char32_t c) {
  return in(table, table + N, c);
}

bool is_cased(char32_t c) { return case_of(c) != Case::uncased; }

bool is_case_ignorable(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK: return true;
    default: return in(kWordBreakCaseIgnorable, c);
  }
}

// The code point that ends just before byte `i` of `s` (i > 0).
char32_t decode_before(std::string_view s, size_t& i) {
  size_t start = i - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t length = 0;
  const char32_t c = decode(p + start, p + s.size(), length);
  i = start;
  return c;
}

// CPython's handle_capital_sigma: U+03A3 lowers to final ς when a cased letter precedes it and
// none follows it, skipping case-ignorable code points on both sides.
bool is_final_sigma(std::string_view s, size_t start, size_t end) {
  size_t i = start;
  bool cased_before = false;
  while (i > 0) {
    const char32_t c = decode_before(s, i);
    if (!is_case_ignorable(c)) {
      cased_before = is_cased(c);
      break;
    }
  }
  if (!cased_before) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t j = end;
  while (j < s.size()) {
    size_t length = 0;
    const char32_t c = decode(p + j, p + s.size(), length);
    if (!is_case_ignorable(c)) return !is_cased(c);
    j += length;
  }
  return true;
}

}  // namespace

bool is_space(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string_view strip(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t first = 0;
  while (first < text.size()) {
    size_t length = 0;
    if (!is_space(decode(p + first, p + text.size(), length))) break;
    first += length;
  }
  size_t last = text.size();
  while (last > first) {
    size_t before = last;
    if (!is_space(decode_before(text, before))) break;
    last = before;
  }
  return text.substr(first, last - first);
}

Case case_of(char32_t c) {
  if (c < 0x80) {
    if (c >= 'a' && c <= 'z') return Case::lower_or_title;
    if (c >= 'A' && c <= 'Z') return Case::upper;
    return Case::uncased;
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT: return Case::lower_or_title;
    case UTF8PROC_CATEGORY_LU: return Case::upper;
    default:
      if (in(kOtherLowercase, c)) return Case::lower_or_title;
      if (in(kOtherUppercase, c)) return Case::upper;
      return Case::uncased;
  }
}

bool is_upper(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  bool cased = false;
  while (p < end) {
    size_t length = 0;
    const Case kind = case_of(decode(p, end, length));
    if (kind == Case::lower_or_title) return false;
    cased = cased || kind == Case::upper;
    p += length;
  }
  return cased;
}

void append_lower(std::string& out, std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    size_t length = 0;
    const char32_t c = decode(p + i, p + text.size(), length);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c));
    } else if (c == 0x130) {  // LATIN CAPITAL LETTER I WITH DOT ABOVE: SpecialCasing gives two code points
      out += "i\xCC\x87";
    } else if (c == 0x3A3) {  // GREEK CAPITAL LETTER SIGMA
      append_utf8(out, is_final_sigma(text, i, i + length) ? 0x3C2 : 0x3C3);
    } else {
      append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
    i += length;
  }
}

double round_near_tie(double x, int digits) {
  // Decide on the exact value: glibc's printf rounds the exact binary value, ties to even, as
  // Python's dtoa does.
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", digits, x);
  return std::strtod(text, nullptr);
}

}  // namespace sentiflow::sentiment::python_text
