#include "schedule/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <bitset>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/strings.h"

namespace sentiflow {

namespace {

using namespace std::chrono;

constexpr int kMinYear = 1970;
constexpr int kMaxYear = 2199;
constexpr int kYearCount = kMaxYear - kMinYear + 1;
// A rate longer than this is almost certainly a typo, and keeping periods small
// guarantees that the epoch arithmetic in next_fire_time cannot overflow.
constexpr int64_t kMaxRateDays = 36500;

constexpr std::string_view kRateUsage = "rate(value unit), e.g. rate(5 minutes)";
constexpr std::string_view kCronUsage =
    "cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 10 * * ? *)";
constexpr std::string_view kAtUsage = "at(yyyy-mm-ddThh:mm:ss), e.g. at(2026-01-01T10:00:00)";

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

// Digits only; values too long to matter saturate so callers report "out of range"
// instead of overflowing.
int64_t digits_value(std::string_view text) {
  int64_t value = 0;
  for (char c : text) {
    value = value * 10 + (c - '0');
    if (value > 1'000'000'000) return 1'000'000'000;
  }
  return value;
}

// ---------------------------------------------------------------------------------
// rate(value unit)

std::chrono::seconds parse_rate(std::string_view inner) {
  const auto words = split_whitespace(inner);
  if (words.size() != 2) throw invalid_input(fmt::format("rate: expected {}; got 'rate({})'", kRateUsage, inner));
  const std::string_view value_text = words[0];
  const std::string_view unit = words[1];
  if (!all_digits(value_text))
    throw invalid_input(
        fmt::format("rate: value '{}' must be a positive whole number, as in {}", value_text, kRateUsage));
  const int64_t value = digits_value(value_text);
  if (value == 0) throw invalid_input("rate: value must be at least 1, got '0'");

  struct Unit {
    std::string_view singular, plural;
    int64_t seconds;
  };
  static constexpr std::array<Unit, 3> kUnits{{
      {"minute", "minutes", 60},
      {"hour", "hours", 3600},
      {"day", "days", 86400},
  }};
  for (const Unit& u : kUnits) {
    if (unit != u.singular && unit != u.plural) continue;
    if (value == 1 && unit == u.plural)
      throw invalid_input(
          fmt::format("rate: use the singular '{}' with the value 1: rate(1 {})", u.singular, u.singular));
    if (value != 1 && unit == u.singular)
      throw invalid_input(fmt::format("rate: use the plural '{}' with a value other than 1: rate({} {})", u.plural,
                                      value_text, u.plural));
    if (value > kMaxRateDays * 86400 / u.seconds)
      throw invalid_input(fmt::format("rate: period of {} {} is too long; the longest is 100 years ({} days)",
                                      value_text, unit, kMaxRateDays));
    return std::chrono::seconds{value * u.seconds};
  }
  throw invalid_input(
      fmt::format("rate: unknown unit '{}'; use minute(s), hour(s) or day(s), as in {}", unit, kRateUsage));
}

// ---------------------------------------------------------------------------------
// at(yyyy-mm-ddThh:mm:ss)

Seconds parse_at(std::string_view inner) {
  const std::string_view text = trim(inner);
  // Checked here rather than with parse_utc, which also takes zones and bare dates
  // that AWS does not.
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  bool shaped = text.size() == kShape.size();
  for (size_t i = 0; shaped && i < text.size(); ++i)
    shaped = kShape[i] == 'd' ? (text[i] >= '0' && text[i] <= '9') : text[i] == kShape[i];
  if (!shaped)
    throw invalid_input(fmt::format("at: '{}' is not of the form yyyy-mm-ddThh:mm:ss, as in {}", text, kAtUsage));
  auto number = [&](size_t pos, size_t width) { return static_cast<int>(digits_value(text.substr(pos, width))); };
  const int y = number(0, 4), mo = number(5, 2), d = number(8, 2);
  const int h = number(11, 2), mi = number(14, 2), s = number(17, 2);
  if (mo < 1 || mo > 12) throw invalid_input(fmt::format("at: month '{:02}' in '{}' is out of range 01-12", mo, text));
  if (d < 1 || !is_valid_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d))) {
    const year_month_day_last last{year{y} / month{static_cast<unsigned>(mo)} / std::chrono::last};
    throw invalid_input(fmt::format("at: '{}' is not a real date ({:04}-{:02} has {} days)", text, y, mo,
                                    static_cast<unsigned>(last.day())));
  }
  if (h > 23 || mi > 59 || s > 59)
    throw invalid_input(
        fmt::format("at: time of day '{}' in '{}' is out of range 00:00:00-23:59:59", text.substr(11), text));
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  return Seconds{sys_days{date}} + hours{h} + minutes{mi} + std::chrono::seconds{s};
}

// ---------------------------------------------------------------------------------
// cron(minutes hours day-of-month month day-of-week year)

constexpr std::array<std::string_view, 12> kMonthNames{"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kDayNames{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct Field {
  std::string_view name;
  int min;
  int max;
  const std::string_view* names;  // value min + i is called names[i]; null when unnamed
  size_t name_count;
  std::string_view allowed;  // for "use ..." hints
};

constexpr Field kMinutes{"minutes", 0, 59, nullptr, 0, "0-59"};
constexpr Field kHours{"hours", 0, 23, nullptr, 0, "0-23"};
constexpr Field kDayOfMonth{"day-of-month", 1, 31, nullptr, 0, "1-31"};
constexpr Field kMonth{"month", 1, 12, kMonthNames.data(), kMonthNames.size(), "1-12 or JAN-DEC"};
constexpr Field kDayOfWeek{"day-of-week", 1, 7, kDayNames.data(), kDayNames.size(), "1-7 or SUN-SAT"};
constexpr Field kYear{"year", kMinYear, kMaxYear, nullptr, 0, "1970-2199"};

// Bit (value - field.min) is set for each value the field matches.
using ValueSet = std::bitset<kYearCount>;

// One value of `field`: a number or, where the field has them, a name. `token` is
// upper-case; `item` is the list item it came from, for messages.
int parse_value(const Field& field, std::string_view token, std::string_view item) {
  if (token.empty())
    throw invalid_input(fmt::format("cron: {} '{}' is missing a value; use {}", field.name, item, field.allowed));
  if (all_digits(token)) {
    const int64_t value = digits_value(token);
    if (value < field.min || value > field.max)
      throw invalid_input(fmt::format("cron: {} '{}' is out of range {}", field.name, token, field.allowed));
    return static_cast<int>(value);
  }
  for (size_t i = 0; i < field.name_count; ++i)
    if (token == field.names[i]) return field.min + static_cast<int>(i);
  throw invalid_input(fmt::format("cron: {} '{}' is not a valid value; use {}", field.name, token, field.allowed));
}

// A list of items, each `*`, `v`, `a-b`, with an optional `/step`.
ValueSet parse_list(const Field& field, std::string_view text) {
  ValueSet set;
  const int span = field.max - field.min + 1;
  for (std::string_view item : split(text, ',')) {
    if (item.empty()) throw invalid_input(fmt::format("cron: {} '{}' has an empty list item", field.name, text));
    const size_t slash = item.find('/');
    const std::string_view base = item.substr(0, slash);
    int step = 1;
    if (slash != std::string_view::npos) {
      const std::string_view step_text = item.substr(slash + 1);
      if (!all_digits(step_text))
        throw invalid_input(
            fmt::format("cron: {} step '{}' in '{}' must be a number 1-{}", field.name, step_text, item, span));
      const int64_t value = digits_value(step_text);
      if (value < 1 || value > span)
        throw invalid_input(
            fmt::format("cron: {} step '{}' in '{}' is out of range 1-{}", field.name, step_text, item, span));
      step = static_cast<int>(value);
    }
    int lo = field.min, hi = field.max;
    if (base != "*") {
      const size_t dash = base.find('-');
      lo = parse_value(field, base.substr(0, dash), item);
      if (dash != std::string_view::npos) {
        hi = parse_value(field, base.substr(dash + 1), item);
        if (lo > hi) {
          // AWS does not document wrap-around ranges; say plainly what to write instead.
          const std::string first = field.names ? std::string(field.names[0]) : std::to_string(field.min);
          const std::string final =
              field.names ? std::string(field.names[field.name_count - 1]) : std::to_string(field.max);
          throw invalid_input(fmt::format("cron: {} range '{}' runs backwards; write it as two ranges: '{}-{},{}-{}'",
                                          field.name, base, base.substr(0, dash), final, first, base.substr(dash + 1)));
        }
      } else if (slash == std::string_view::npos) {
        hi = lo;
      }
    }
    for (int v = lo; v <= hi; v += step) set.set(static_cast<size_t>(v - field.min));
  }
  return set;
}

}  // namespace

// How the day of a month is chosen: exactly one of day-of-month and day-of-week is
// in use, so the two collapse into one rule.
struct Schedule::Cron {
  enum class Days {
    month_days,       // day-of-month list: month_day_bits
    last,             // L
    last_weekday,     // LW
    nearest_weekday,  // nW: number
    weekdays,         // day-of-week list: weekday_bits
    last_of_weekday,  // nL: wday
    nth_weekday,      // n#k: wday, number
  };

  uint64_t minute_bits = 0;     // bit m for minute m
  uint32_t hour_bits = 0;       // bit h for hour h
  uint32_t month_day_bits = 0;  // bit d for day d
  uint16_t month_bits = 0;      // bit m for month m (1-12)
  uint8_t weekday_bits = 0;     // bit w for weekday w, 0 = Sunday
  Days rule = Days::month_days;
  unsigned wday = 0;                  // 0 = Sunday
  unsigned number = 0;                // the n of nW, the k of n#k
  std::bitset<kYearCount> year_bits;  // bit y - 1970

  // The days of `y`-`m` this schedule fires on: bit d for day d.
  uint32_t day_mask(year_month ym) const;
  // The first time of day at or after h:m; false when none is left in the day.
  bool first_time(unsigned& h, unsigned& m) const;
};

uint32_t Schedule::Cron::day_mask(year_month ym) const {
  const unsigned last = static_cast<unsigned>(year_month_day_last{ym / std::chrono::last}.day());
  const unsigned first_wd = std::chrono::weekday{sys_days{ym / 1}}.c_encoding();
  const unsigned last_wd = (first_wd + last - 1) % 7;
  const uint32_t in_month = static_cast<uint32_t>((uint64_t{2} << last) - 2);
  auto bit = [](unsigned d) { return uint32_t{1} << d; };
  switch (rule) {
    case Days::month_days: return month_day_bits & in_month;
    case Days::last: return bit(last);
    case Days::last_weekday: return bit(last - (last_wd == 6 ? 1 : last_wd == 0 ? 2 : 0));
    case Days::nearest_weekday: {
      if (number > last) return 0;
      const unsigned wd = (first_wd + number - 1) % 7;
      // Never into the neighbouring month: jump over the weekend instead.
      if (wd == 6) return bit(number == 1 ? 3 : number - 1);
      if (wd == 0) return bit(number == last ? number - 2 : number + 1);
      return bit(number);
    }
    case Days::weekdays: {
      // Rotate the weekly pattern so bit 0 is day 1, then repeat it over five weeks.
      const uint32_t week = ((uint32_t{weekday_bits} >> first_wd) | (uint32_t{weekday_bits} << (7 - first_wd))) & 0x7F;
      const uint32_t pattern = week | week << 7 | week << 14 | week << 21 | week << 28;
      return (pattern << 1) & in_month;
    }
    case Days::last_of_weekday: return bit(last - (last_wd + 7 - wday) % 7);
    case Days::nth_weekday: {
      const unsigned d = 1 + (wday + 7 - first_wd) % 7 + 7 * (number - 1);
      return d <= last ? bit(d) : 0;
    }
  }
  return 0;
}

bool Schedule::Cron::first_time(unsigned& h, unsigned& m) const {
  if ((hour_bits >> h) & 1) {
    const uint64_t later = minute_bits & (~uint64_t{0} << m);
    if (later != 0) {
      m = static_cast<unsigned>(std::countr_zero(later));
      return true;
    }
  }
  const uint32_t later_hours = h + 1 < 24 ? hour_bits & (~uint32_t{0} << (h + 1)) : 0;
  if (later_hours == 0) return false;
  h = static_cast<unsigned>(std::countr_zero(later_hours));
  m = static_cast<unsigned>(std::countr_zero(minute_bits));
  return true;
}

std::shared_ptr<const Schedule::Cron> Schedule::parse_cron(std::string_view inner) {
  const auto fields = split_whitespace(inner);
  if (fields.size() != 6)
    throw invalid_input(
        fmt::format("cron: expected 6 fields (minutes hours day-of-month month day-of-week year), got {} "
                    "in 'cron({})'",
                    fields.size(), inner));
  std::array<std::string, 6> upper;
  for (size_t i = 0; i < 6; ++i) upper[i] = to_upper_ascii(fields[i]);

  const Field* const plain[] = {&kMinutes, &kHours, nullptr, &kMonth, nullptr, &kYear};
  for (size_t i = 0; i < 6; ++i)
    if (plain[i] != nullptr && upper[i].find('?') != std::string::npos)
      throw invalid_input(fmt::format("cron: '?' is only allowed in day-of-month and day-of-week, not in {} '{}'",
                                      plain[i]->name, fields[i]));

  auto cron = std::make_shared<Cron>();
  const auto to_mask = [](const ValueSet& set, int offset) {
    uint64_t mask = 0;
    for (size_t i = 0; i < 64 && i < set.size(); ++i)
      if (set.test(i)) mask |= uint64_t{1} << (i + static_cast<size_t>(offset));
    return mask;
  };
  cron->minute_bits = to_mask(parse_list(kMinutes, upper[0]), 0);
  cron->hour_bits = static_cast<uint32_t>(to_mask(parse_list(kHours, upper[1]), 0));
  cron->month_bits = static_cast<uint16_t>(to_mask(parse_list(kMonth, upper[3]), 1));
  cron->year_bits = parse_list(kYear, upper[5]);

  // day-of-month
  const std::string& dom = upper[2];
  const bool dom_unused = dom == "?";
  if (!dom_unused) {
    if (dom.find('?') != std::string::npos)
      throw invalid_input(fmt::format("cron: '?' must stand alone in day-of-month, got '{}'", fields[2]));
    if (dom.find('#') != std::string::npos)
      throw invalid_input(fmt::format("cron: '#' is only allowed in day-of-week, not in day-of-month '{}'", fields[2]));
    if (dom.find_first_of("LW") != std::string::npos) {
      if (dom.find(',') != std::string::npos)
        throw invalid_input(
            fmt::format("cron: day-of-month '{}': L and W cannot be combined with other values", fields[2]));
      if (dom == "L") {
        cron->rule = Cron::Days::last;
      } else if (dom == "LW") {
        cron->rule = Cron::Days::last_weekday;
      } else if (dom.size() >= 2 && dom.back() == 'W' && all_digits(std::string_view(dom).substr(0, dom.size() - 1))) {
        cron->rule = Cron::Days::nearest_weekday;
        cron->number =
            static_cast<unsigned>(parse_value(kDayOfMonth, std::string_view(dom).substr(0, dom.size() - 1), fields[2]));
      } else {
        throw invalid_input(
            fmt::format("cron: day-of-month '{}' is not valid; L and W are used as L, LW or nW (e.g. "
                        "15W)",
                        fields[2]));
      }
    } else {
      cron->rule = Cron::Days::month_days;
      cron->month_day_bits = static_cast<uint32_t>(to_mask(parse_list(kDayOfMonth, dom), 1));
    }
  }

  // day-of-week
  const std::string& dow = upper[4];
  const bool dow_unused = dow == "?";
  if (!dow_unused) {
    if (dow.find('?') != std::string::npos)
      throw invalid_input(fmt::format("cron: '?' must stand alone in day-of-week, got '{}'", fields[4]));
    const size_t hashes = static_cast<size_t>(std::count(dow.begin(), dow.end(), '#'));
    const auto weekday_of = [&](std::string_view token) {
      return static_cast<unsigned>(parse_value(kDayOfWeek, token, fields[4]) - 1);
    };
    if (hashes > 1 || (hashes == 1 && dow.find(',') != std::string::npos)) {
      throw invalid_input(
          fmt::format("cron: day-of-week '{}': only one # expression is allowed, on its own", fields[4]));
    } else if (hashes == 1) {
      const size_t hash = dow.find('#');
      const std::string_view nth = std::string_view(dow).substr(hash + 1);
      if (!all_digits(nth) || digits_value(nth) < 1 || digits_value(nth) > 5)
        throw invalid_input(
            fmt::format("cron: day-of-week occurrence '{}' in '{}' is out of range 1-5", nth, fields[4]));
      cron->rule = Cron::Days::nth_weekday;
      cron->wday = weekday_of(std::string_view(dow).substr(0, hash));
      cron->number = static_cast<unsigned>(digits_value(nth));
    } else if (dow.find('L') != std::string::npos) {
      if (dow.find(',') != std::string::npos)
        throw invalid_input(fmt::format("cron: day-of-week '{}': L cannot be combined with other values", fields[4]));
      if (dow == "L") {
        // Quartz reads a bare L here as the last day of the week: Saturday.
        cron->rule = Cron::Days::weekdays;
        cron->weekday_bits = uint8_t{1} << 6;
      } else if (dow.back() == 'L' && dow.find('L') == dow.size() - 1) {
        cron->rule = Cron::Days::last_of_weekday;
        cron->wday = weekday_of(std::string_view(dow).substr(0, dow.size() - 1));
      } else {
        throw invalid_input(
            fmt::format("cron: day-of-week '{}' is not valid; L is used as L or nL (e.g. 6L, the last "
                        "Friday)",
                        fields[4]));
      }
    } else {
      cron->rule = Cron::Days::weekdays;
      cron->weekday_bits = static_cast<uint8_t>(to_mask(parse_list(kDayOfWeek, dow), 0));
    }
  }

  if (!dom_unused && !dow_unused)
    throw invalid_input("cron: day-of-month and day-of-week cannot both be set; use ? in one of them");
  if (dom_unused && dow_unused)
    throw invalid_input(
        "cron: day-of-month and day-of-week cannot both be ?; set one of them (e.g. * in "
        "day-of-month for every day)");
  return cron;
}

Schedule Schedule::parse(std::string_view expression) {
  const std::string_view text = trim(expression);
  Schedule schedule;
  schedule.expression_ = std::string(text);

  const size_t open = text.find('(');
  std::string_view keyword = text.substr(0, open);
  if (open == std::string_view::npos) {
    const auto words = split_whitespace(text);  // "rate 5 minutes": name the kind anyway
    keyword = words.empty() ? std::string_view{} : words[0];
  }
  std::string_view usage;
  if (keyword == "rate") {
    schedule.kind_ = Kind::rate;
    usage = kRateUsage;
  } else if (keyword == "cron") {
    schedule.kind_ = Kind::cron;
    usage = kCronUsage;
  } else if (keyword == "at") {
    schedule.kind_ = Kind::at;
    usage = kAtUsage;
  } else {
    const std::string lowered = to_lower_ascii(trim(keyword));
    const bool known = lowered == "rate" || lowered == "cron" || lowered == "at";
    throw invalid_input(fmt::format("unknown schedule expression '{}'{}: use {}, {} or {}", text,
                                    known ? " (write the keyword in lowercase, directly followed by '(')" : "",
                                    kRateUsage, kCronUsage, kAtUsage));
  }
  if (open == std::string_view::npos)
    throw invalid_input(fmt::format("{}: missing parentheses; expected {}", keyword, usage));
  const size_t close = text.find(')', open);
  if (close == std::string_view::npos)
    throw invalid_input(fmt::format("{}: missing closing ')'; expected {}", keyword, usage));
  if (close + 1 != text.size())
    throw invalid_input(fmt::format("{}: unexpected text '{}' after ')'", keyword, text.substr(close + 1)));
  const std::string_view inner = text.substr(open + 1, close - open - 1);
  if (inner.find('(') != std::string_view::npos)
    throw invalid_input(fmt::format("{}: unexpected '(' inside the parentheses", keyword));

  switch (schedule.kind_) {
    case Kind::rate: schedule.period_ = parse_rate(inner); break;
    case Kind::at: schedule.at_ = parse_at(inner); break;
    case Kind::cron: schedule.cron_ = parse_cron(inner); break;
  }
  return schedule;
}

std::optional<Seconds> Schedule::next_fire_time(Seconds after) const {
  switch (kind_) {
    case Kind::at:
      if (at_ > after) return at_;
      return std::nullopt;
    case Kind::rate: {
      const int64_t p = period_.count();
      const int64_t t = after.time_since_epoch().count();
      if (t > std::numeric_limits<int64_t>::max() - p) return std::nullopt;
      int64_t q = t / p;
      if (t % p < 0) --q;  // floor, for times before the epoch
      return Seconds{std::chrono::seconds{(q + 1) * p}};
    }
    case Kind::cron: return next_cron(after);
  }
  return std::nullopt;
}

std::optional<Seconds> Schedule::next_cron(Seconds after) const {
  const Cron& c = *cron_;
  constexpr Seconds kFirst{sys_days{year{kMinYear} / 1 / 1}};
  constexpr Seconds kEnd{sys_days{year{kMaxYear + 1} / 1 / 1}};
  if (after >= kEnd) return std::nullopt;
  // Cron fires on whole minutes, so "strictly after" starts at the next minute.
  const Seconds start = after < kFirst ? kFirst : floor<minutes>(after) + minutes{1};
  const sys_days start_day = floor<days>(start);
  const year_month_day ymd{start_day};
  int y = static_cast<int>(ymd.year());
  unsigned m = static_cast<unsigned>(ymd.month());
  unsigned d = static_cast<unsigned>(ymd.day());
  const auto minute_of_day = duration_cast<minutes>(start - start_day).count();
  unsigned h0 = static_cast<unsigned>(minute_of_day / 60);
  unsigned m0 = static_cast<unsigned>(minute_of_day % 60);

  // Each month is looked at once at most: 230 years x 12 months bounds the search.
  while (y <= kMaxYear) {
    if (!c.year_bits.test(static_cast<size_t>(y - kMinYear))) {
      do ++y;
      while (y <= kMaxYear && !c.year_bits.test(static_cast<size_t>(y - kMinYear)));
      m = 1, d = 1, h0 = 0, m0 = 0;
      continue;
    }
    if (((c.month_bits >> m) & 1) == 0) {
      const uint32_t later = c.month_bits & (~uint32_t{0} << (m + 1));
      if (later == 0) {
        ++y, m = 1;
      } else {
        m = static_cast<unsigned>(std::countr_zero(later));
      }
      d = 1, h0 = 0, m0 = 0;
      continue;
    }
    const year_month ym{year{y}, month{m}};
    uint32_t candidates = c.day_mask(ym) & (~uint32_t{0} << d);
    while (candidates != 0) {
      const unsigned dd = static_cast<unsigned>(std::countr_zero(candidates));
      unsigned h = dd == d ? h0 : 0, mi = dd == d ? m0 : 0;
      if (c.first_time(h, mi)) return Seconds{sys_days{ym / day{dd}}} + hours{h} + minutes{mi};
      candidates &= candidates - 1;
    }
    if (m == 12) {
      ++y, m = 1;
    } else {
      ++m;
    }
    d = 1, h0 = 0, m0 = 0;
  }
  return std::nullopt;
}

std::optional<Seconds> next_fire_time(const Schedule& schedule, Seconds after) {
  return schedule.next_fire_time(after);
}

}  // namespace sentiflow
