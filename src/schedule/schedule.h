// AWS EventBridge schedule expressions: rate(...), cron(...) and at(...), in UTC.
//
// A Schedule is parsed once from its text and then answers "when does it fire next?".
// It follows EventBridge's rules so that a schedule that works here also works when
// deployed, and the other way round. Where AWS leaves a detail open, the choice made
// here is the stricter one, so that nothing accepted locally is rejected by AWS:
//
//   * A cron range must not run backwards: `FRI-MON` or `22-2` is an error (write
//     `FRI-SAT,SUN-MON` instead). Quartz would wrap around; rejecting is unambiguous.
//   * A step must be between 1 and the size of its field (60 minutes, 24 hours,
//     31 days, 12 months, 7 weekdays, 230 years), as in Quartz.
//   * `L`, `LW`, `nW` (day-of-month) and `L`, `nL`, `n#k` (day-of-week) stand alone in
//     their field: they cannot be combined in a list with other values, so only one
//     `#` expression is ever allowed. `L-n` offsets are not supported.
//   * `nW` never leaves the month: 1W on a Saturday fires on Monday the 3rd, 31W on a
//     Sunday the 31st fires on Friday the 29th. In a month shorter than n days, nW
//     does not fire at all (like a plain `31` in a 30-day month).
//   * Plain `L` in day-of-week means Saturday (day 7), as in Quartz; `nL` is the last
//     weekday n of the month; `n#k` the k-th (1-5) weekday n, skipped in months
//     without one.
//   * Keywords (rate, cron, at) and rate units are lowercase; month and weekday names
//     and the letters L, W are case-insensitive.
//
// Cron and rate schedules fire on whole minutes (second 0). A rate fires at every
// whole multiple of its period since the Unix epoch, so rate(1 hour) fires on the hour
// wherever it was created, and a period is at most 100 years (36500 days). A cron
// never fires after 2199, the end of AWS's cron year range.
//
// Thread-safety: a Schedule is immutable after parse(); copies and concurrent calls
// on one instance are safe without synchronisation.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"

namespace sentiflow {

class Schedule {
 public:
  enum class Kind { rate, cron, at };

  // Parses `expression` (surrounding whitespace is ignored), e.g. "rate(5 minutes)",
  // "cron(0 10 * * ? *)" or "at(2026-01-01T10:00:00)".
  // Throws Error(invalid_input) whose message starts with the kind ("rate: ",
  // "cron: ", "at: ") and, for cron, names the offending field; for an unknown kind
  // the message lists the accepted forms.
  static Schedule parse(std::string_view expression);

  Kind kind() const { return kind_; }

  // The expression as given, without surrounding whitespace.
  const std::string& expression() const { return expression_; }

  // Returns the first fire time strictly after `after` (so a time that is itself a
  // fire time yields the following one), or std::nullopt when the schedule never
  // fires again: an at() in the past, a cron whose years have passed or whose days
  // never exist (e.g. February 30th). Never throws. Cron searches skip whole years,
  // months and days that cannot match, so even "never" answers are quick.
  std::optional<Seconds> next_fire_time(Seconds after) const;

  // Returns the period of a rate() schedule; zero for the other kinds, which have none.
  std::chrono::seconds period() const { return period_; }

 private:
  struct Cron;  // the parsed cron fields, defined in schedule.cc

  Schedule() = default;

  // The fields inside "cron(...)"; throws as parse() does.
  static std::shared_ptr<const Cron> parse_cron(std::string_view inner);

  std::optional<Seconds> next_cron(Seconds after) const;

  Kind kind_ = Kind::rate;
  std::string expression_;
  std::chrono::seconds period_{0};  // rate
  Seconds at_{};                    // at
  // Shared because it is immutable: copies stay cheap and thread-safe.
  std::shared_ptr<const Cron> cron_;
};

// Same as schedule.next_fire_time(after); the form the rest of sentiflow calls.
std::optional<Seconds> next_fire_time(const Schedule& schedule, Seconds after);

}  // namespace sentiflow
