#include "sentiment/format.h"

#include <charconv>
#include <cmath>

#include "core/json_text.h"

namespace sentiflow::sentiment {

void append_decimal(std::string& out, double x) {
  const double scaled = std::fabs(x) * 1e4;
  if (scaled < 1e15) {
    // The nearest integer, without a libm call: adding 2^52 leaves no fraction bits.
    const auto k = static_cast<unsigned long long>((scaled + 0x1p52) - 0x1p52);
    // x has at most 4 decimals when it is the double nearest k / 10^4: then those digits,
    // trailing zeros dropped, are its shortest round-trip form.
    if (static_cast<double>(k) / 1e4 == std::fabs(x)) {
      char text[32];
      char* end = text + sizeof text;
      char* p = end;
      unsigned long long fraction = k % 10000;
      int decimals = 4;
      while (decimals > 1 && fraction % 10 == 0) fraction /= 10, --decimals;
      for (int i = 0; i < decimals; ++i, fraction /= 10) *--p = static_cast<char>('0' + fraction % 10);
      *--p = '.';
      unsigned long long whole = k / 10000;
      do {
        *--p = static_cast<char>('0' + whole % 10);
        whole /= 10;
      } while (whole != 0);
      if (std::signbit(x)) *--p = '-';
      out.append(p, static_cast<size_t>(end - p));
      return;
    }
  }
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, x);
  const std::string_view written(text, static_cast<size_t>(end - text));
  out += written;
  if (written.find_first_of(".eEn") == std::string_view::npos) out += ".0";
}

// One escaper for the whole program (core/json_text.h), so every output spells strings alike.
void append_json_string(std::string& out, std::string_view text) { append_json_quoted_unchecked(out, text); }

void append_json_fields(std::string& out, const Sentiment& s) {
  out += "\"sentiment\":\"";
  out += to_string(s.label);
  out += "\",\"scores\":{\"Positive\":";
  append_decimal(out, s.scores.positive);
  out += ",\"Negative\":";
  append_decimal(out, s.scores.negative);
  out += ",\"Neutral\":";
  append_decimal(out, s.scores.neutral);
  out += ",\"Mixed\":";
  append_decimal(out, s.scores.mixed);
  out += "},\"vader\":";
  if (!s.vader) {
    out += "null";
    return;
  }
  out += "{\"neg\":";
  append_decimal(out, s.vader->neg);
  out += ",\"neu\":";
  append_decimal(out, s.vader->neu);
  out += ",\"pos\":";
  append_decimal(out, s.vader->pos);
  out += ",\"compound\":";
  append_decimal(out, s.vader->compound);
  out += "}";
}

}  // namespace sentiflow::sentiment
