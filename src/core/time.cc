#include "core/time.h"

#include <fmt/format.h>

#include <charconv>

#include "core/error.h"

namespace sentiflow {
namespace {

using namespace std::chrono;

// Splits a time point into its calendar date and time of day.
struct Civil {
  year_month_day date;
  hh_mm_ss<seconds> time;
};

Civil to_civil(Seconds t) {
  const auto day = floor<days>(t);
  return {year_month_day{day}, hh_mm_ss<seconds>{t - day}};
}

// Reads exactly `width` decimal digits at text[pos]; returns -1 when they are not digits.
int read_digits(std::string_view text, size_t pos, size_t width) {
  if (pos + width > text.size()) return -1;
  int value = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::string format_utc(Seconds t) {
  const auto [date, time] = to_civil(t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), time.hours().count(),
                     time.minutes().count(), time.seconds().count());
}

std::string format_utc_millis(Millis t) {
  const auto whole = floor<seconds>(t);
  const auto ms = (t - whole).count();
  std::string text = format_utc(whole);
  text.pop_back();  // the "Z", to insert the fraction before it
  return fmt::format("{}.{:03}Z", text, ms);
}

bool is_valid_civil(int year, unsigned month, unsigned day) {
  return year_month_day{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}}.ok();
}

namespace {

// parse_utc's grammar; with `millis`, also a fraction of 1 to 3 digits after the seconds,
// stored in *millis.
Seconds parse_utc_text(std::string_view text, int* millis) {
  auto fail = [&](std::string_view why) {
    return invalid_input(
        fmt::format("invalid time '{}': {} (expected YYYY-MM-DDTHH:MM:SS{}Z, e.g. 2026-01-01T10:00:00{}Z)", text, why,
                    millis ? "[.mmm]" : "", millis ? ".123" : ""));
  };
  const int y = read_digits(text, 0, 4);
  if (y < 0 || text.size() < 10 || text[4] != '-' || text[7] != '-') throw fail("bad date");
  const int mo = read_digits(text, 5, 2);
  const int d = read_digits(text, 8, 2);
  if (mo < 1 || mo > 12) throw fail("month must be 01-12");
  if (d < 1 || !is_valid_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d))) throw fail("no such day");
  int h = 0, mi = 0, s = 0;
  std::string_view rest = text.substr(10);
  if (!rest.empty()) {
    if (rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ') throw fail("expected 'T' after the date");
    h = read_digits(rest, 1, 2);
    mi = (rest.size() > 3 && rest[3] == ':') ? read_digits(rest, 4, 2) : -1;
    s = (rest.size() > 6 && rest[6] == ':') ? read_digits(rest, 7, 2) : -1;
    if (h < 0 || mi < 0 || s < 0) throw fail("expected HH:MM:SS after 'T'");
    if (h > 23 || mi > 59 || s > 59) throw fail("time of day out of range");
    rest = rest.substr(9);
    if (millis && !rest.empty() && rest[0] == '.') {
      size_t digits = 1;
      int value = 0;
      // Only the first 3 digits add to the value: more are refused below, and counting them
      // into an int overflowed (found by fuzz/results_fuzz.cc under UBSan).
      for (; digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9'; ++digits)
        if (digits < 4) value = value * 10 + (rest[digits] - '0');
      if (digits == 1 || digits > 4) throw fail("a fraction of a second has 1 to 3 digits");
      for (size_t i = digits; i < 4; ++i) value *= 10;  // ".5" is 500 ms
      *millis = value;
      rest = rest.substr(digits);
    }
    if (rest == "Z" || rest == "z" || rest == "+00:00" || rest.empty()) {
      // UTC: the only zone sentiflow uses.
    } else if (!rest.empty() && rest[0] == '.') {
      throw fail("fractions of a second are not supported");
    } else {
      throw fail("only UTC is supported: end with Z");
    }
  }
  const auto day = sys_days{year_month_day{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                           std::chrono::day{static_cast<unsigned>(d)}}};
  return Seconds{day} + hours{h} + minutes{mi} + seconds{s};
}

}  // namespace

Seconds parse_utc(std::string_view text) { return parse_utc_text(text, nullptr); }

Millis parse_utc_millis(std::string_view text) {
  int millis = 0;
  const Seconds whole = parse_utc_text(text, &millis);
  return Millis{whole} + milliseconds{millis};
}

Seconds now_seconds() { return floor<seconds>(system_clock::now()); }
Millis now_millis() { return floor<milliseconds>(system_clock::now()); }

}  // namespace sentiflow
