// Schedule: parsing of rate/cron/at expressions and their next fire times.
//
// Expected times in kFireCases were computed independently of this implementation, by a
// brute-force Python script (datetime + calendar, day by day) that applies the same
// EventBridge rules, and spot-checked against a calendar.
#include "schedule/schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace sentiflow {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kNever = "never";

struct FireCase {
  std::string_view expression;
  std::string_view after;
  // Successive fire times, each found from the previous one; "never" ends the list.
  std::vector<std::string_view> expected;
};

// clang-format off
const std::vector<FireCase> kFireCases = {
    {"rate(1 minute)", "2026-01-01T00:00:00Z", {"2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"}},
    {"rate(1 minute)", "2026-01-01T00:00:30Z", {"2026-01-01T00:01:00Z"}},
    {"rate(5 minutes)", "2026-01-01T10:02:00Z", {"2026-01-01T10:05:00Z", "2026-01-01T10:10:00Z"}},
    {"rate(5 minutes)", "2026-01-01T10:05:00Z", {"2026-01-01T10:10:00Z"}},
    {"rate(90 minutes)", "2026-01-01T00:00:00Z", {"2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z", "2026-01-01T04:30:00Z"}},
    {"rate(1 hour)", "2026-03-04T10:59:59Z", {"2026-03-04T11:00:00Z", "2026-03-04T12:00:00Z"}},
    {"rate(2 hours)", "2026-01-01T01:00:00Z", {"2026-01-01T02:00:00Z"}},
    {"rate(1 day)", "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"}},
    {"rate(7 days)", "2026-01-01T00:00:00Z", {"2026-01-08T00:00:00Z", "2026-01-15T00:00:00Z"}},
    {"rate(7 days)", "2025-12-31T23:59:59Z", {"2026-01-01T00:00:00Z"}},
    {"rate(05 minutes)", "2026-01-01T10:04:59Z", {"2026-01-01T10:05:00Z"}},
    {"rate(36500 days)", "2026-01-01T00:00:00Z", {"2069-12-07T00:00:00Z"}},
    {"rate(1 minute)", "1969-12-31T23:59:30Z", {"1970-01-01T00:00:00Z"}},
    {"cron(0 10 * * ? *)", "2026-01-01T00:00:00Z", {"2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z"}},
    {"cron(0 10 * * ? *)", "2026-01-01T10:00:00Z", {"2026-01-02T10:00:00Z"}},
    {"cron(* * * * ? *)", "2026-01-01T10:00:59Z", {"2026-01-01T10:01:00Z", "2026-01-01T10:02:00Z"}},
    {"cron(*/15 * * * ? *)", "2026-01-01T10:07:30Z", {"2026-01-01T10:15:00Z", "2026-01-01T10:30:00Z", "2026-01-01T10:45:00Z"}},
    {"cron(0/15 * * * ? *)", "2026-01-01T10:45:00Z", {"2026-01-01T11:00:00Z"}},
    {"cron(10-40/10 8 * * ? *)", "2026-01-01T08:35:00Z", {"2026-01-01T08:40:00Z", "2026-01-02T08:10:00Z"}},
    {"cron(5,10,50-55/5 * * * ? *)", "2026-01-01T10:10:00Z", {"2026-01-01T10:50:00Z", "2026-01-01T10:55:00Z", "2026-01-01T11:05:00Z", "2026-01-01T11:10:00Z"}},
    {"cron(0 0-23/6 * * ? *)", "2026-01-01T13:00:00Z", {"2026-01-01T18:00:00Z", "2026-01-02T00:00:00Z"}},
    {"cron(30 9,17 * * ? *)", "2026-01-01T09:30:00Z", {"2026-01-01T17:30:00Z", "2026-01-02T09:30:00Z"}},
    {"cron(0 9 ? * MON-FRI *)", "2026-01-02T09:00:00Z", {"2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z"}},
    {"cron(0 9 ? * 2-6 *)", "2026-01-02T09:00:00Z", {"2026-01-05T09:00:00Z"}},
    {"cron(0 0 ? * sun,sat *)", "2026-01-01T00:00:00Z", {"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"}},
    {"cron(0 0 ? * MON/2 *)", "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-07T00:00:00Z", "2026-01-09T00:00:00Z"}},
    {"cron(0 12 1 JAN,jul ? *)", "2026-01-01T12:00:00Z", {"2026-07-01T12:00:00Z", "2027-01-01T12:00:00Z"}},
    {"cron(0 8 1 */3 ? *)", "2026-01-01T08:00:00Z", {"2026-04-01T08:00:00Z", "2026-07-01T08:00:00Z"}},
    {"cron(0 0 31 * ? *)", "2026-01-31T00:00:00Z", {"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"}},
    {"cron(30 23 31 12 ? *)", "2026-12-31T23:30:00Z", {"2027-12-31T23:30:00Z"}},
    {"cron(0 0 * * ? *)", "2026-12-31T12:00:00Z", {"2027-01-01T00:00:00Z"}},
    {"cron(0 0 29 2 ? *)", "2026-01-01T00:00:00Z", {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
    {"cron(0 0 29 2 ? *)", "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00Z"}},
    {"cron(0 0 L 2 ? *)", "2027-01-01T00:00:00Z", {"2027-02-28T00:00:00Z"}},
    {"cron(0 0 L 2 ? *)", "2028-01-01T00:00:00Z", {"2028-02-29T00:00:00Z"}},
    {"cron(0 0 L 2 ? *)", "2100-01-01T00:00:00Z", {"2100-02-28T00:00:00Z"}},
    {"cron(0 0 L * ? *)", "2026-04-30T00:00:00Z", {"2026-05-31T00:00:00Z", "2026-06-30T00:00:00Z"}},
    {"cron(0 0 1W * ? *)", "2026-07-15T00:00:00Z", {"2026-08-03T00:00:00Z", "2026-09-01T00:00:00Z"}},
    {"cron(0 0 31W * ? *)", "2026-05-01T00:00:00Z", {"2026-05-29T00:00:00Z", "2026-07-31T00:00:00Z"}},
    {"cron(0 0 15W * ? *)", "2026-02-01T00:00:00Z", {"2026-02-16T00:00:00Z", "2026-03-16T00:00:00Z", "2026-04-15T00:00:00Z"}},
    {"cron(0 0 LW * ? *)", "2026-01-01T00:00:00Z", {"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z"}},
    {"cron(0 0 LW 5 ? *)", "2026-01-01T00:00:00Z", {"2026-05-29T00:00:00Z"}},
    {"cron(0 0 30W 2 ? *)", "2026-01-01T00:00:00Z", {"never"}},
    {"cron(15 10 ? * 6L *)", "2026-01-01T00:00:00Z", {"2026-01-30T10:15:00Z", "2026-02-27T10:15:00Z", "2026-03-27T10:15:00Z"}},
    {"cron(0 0 ? * FRIL *)", "2026-02-01T00:00:00Z", {"2026-02-27T00:00:00Z"}},
    {"cron(0 0 ? * L *)", "2026-01-01T00:00:00Z", {"2026-01-03T00:00:00Z", "2026-01-10T00:00:00Z"}},
    {"cron(0 0 ? * 2#3 *)", "2026-01-01T00:00:00Z", {"2026-01-19T00:00:00Z", "2026-02-16T00:00:00Z"}},
    {"cron(0 0 ? * mon#1 *)", "2026-01-01T00:00:00Z", {"2026-01-05T00:00:00Z"}},
    {"cron(0 0 ? * 1#5 *)", "2026-01-01T00:00:00Z", {"2026-03-29T00:00:00Z", "2026-05-31T00:00:00Z", "2026-08-30T00:00:00Z"}},
    {"cron(0 0 ? 2 1#5 *)", "2026-01-01T00:00:00Z", {"2032-02-29T00:00:00Z"}},
    {"cron(0 0 ? 2 1#5 2027)", "2026-01-01T00:00:00Z", {"never"}},
    {"cron(0 0 1 1 ? 2020)", "2026-01-01T00:00:00Z", {"never"}},
    {"cron(0 0 1 1 ? 2020-2030)", "2026-01-01T00:00:00Z", {"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
    {"cron(0 0 1 1 ? 2199)", "2026-01-01T00:00:00Z", {"2199-01-01T00:00:00Z"}},
    {"cron(59 23 31 12 ? 2199)", "2199-12-31T23:58:59Z", {"2199-12-31T23:59:00Z", "never"}},
    {"cron(0 0 1 1 ? 1970)", "1960-01-01T00:00:00Z", {"1970-01-01T00:00:00Z"}},
    {"cron(0 0 30 2 ? *)", "2026-01-01T00:00:00Z", {"never"}},
    {"cron(0 0 29 2 ? 2100)", "2026-01-01T00:00:00Z", {"never"}},
    {"cron(0 0 31 4,6,9,11 ? *)", "2026-01-01T00:00:00Z", {"never"}},
    {"at(2026-06-01T12:30:00)", "2026-01-01T00:00:00Z", {"2026-06-01T12:30:00Z", "never"}},
    {"at(2026-06-01T12:30:00)", "2026-06-01T12:30:00Z", {"never"}},
    {"at(2028-02-29T00:00:00)", "2028-02-28T23:59:59Z", {"2028-02-29T00:00:00Z"}},
};
// clang-format on

std::string describe(const std::optional<Seconds>& t) { return t ? format_utc(*t) : std::string(kNever); }

TEST(ScheduleTest, NextFireTimesMatchTheReference) {
  for (const FireCase& c : kFireCases) {
    SCOPED_TRACE(std::string(c.expression) + " after " + std::string(c.after));
    const Schedule schedule = Schedule::parse(c.expression);
    std::optional<Seconds> t = parse_utc(c.after);
    for (std::string_view expected : c.expected) {
      ASSERT_TRUE(t.has_value());
      t = next_fire_time(schedule, *t);
      EXPECT_EQ(describe(t), expected);
      if (t) {
        EXPECT_EQ(schedule.next_fire_time(*t - std::chrono::seconds{1}), t);
      }
    }
  }
}

TEST(ScheduleTest, DailyExampleFromTheDocs) {
  const Schedule s = Schedule::parse("cron(0 10 * * ? *)");
  Seconds t = parse_utc("2026-01-01T00:00:00Z");
  std::vector<std::string> fires;
  for (int i = 0; i < 3; ++i) {
    t = next_fire_time(s, t).value();
    fires.push_back(format_utc(t));
  }
  EXPECT_THAT(fires, ::testing::ElementsAre("2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z"));
}

TEST(ScheduleTest, KindExpressionAndPeriod) {
  const Schedule rate = Schedule::parse("  rate(5 minutes)\n");
  EXPECT_EQ(rate.kind(), Schedule::Kind::rate);
  EXPECT_EQ(rate.expression(), "rate(5 minutes)");
  EXPECT_EQ(rate.period(), std::chrono::minutes{5});
  EXPECT_EQ(Schedule::parse("rate(1 hour)").period(), std::chrono::hours{1});
  EXPECT_EQ(Schedule::parse("rate(3 days)").period(), std::chrono::hours{72});

  const Schedule cron = Schedule::parse("cron(0 10 * * ? *)");
  EXPECT_EQ(cron.kind(), Schedule::Kind::cron);
  EXPECT_EQ(cron.expression(), "cron(0 10 * * ? *)");

  const Schedule at = Schedule::parse("at(2026-06-01T12:30:00)");
  EXPECT_EQ(at.kind(), Schedule::Kind::at);
  EXPECT_EQ(at.expression(), "at(2026-06-01T12:30:00)");
}

TEST(ScheduleTest, CopiesBehaveLikeTheOriginal) {
  const Schedule original = Schedule::parse("cron(15 10 ? * 6L *)");
  Schedule copy = original;
  copy = Schedule::parse("rate(1 day)");
  const Schedule again = original;
  const Seconds t = parse_utc("2026-01-01T00:00:00Z");
  EXPECT_EQ(describe(again.next_fire_time(t)), "2026-01-30T10:15:00Z");
  EXPECT_EQ(describe(copy.next_fire_time(t)), "2026-01-02T00:00:00Z");
}

TEST(ScheduleTest, SharedBetweenThreads) {
  const Schedule s = Schedule::parse("cron(0/5 * ? * 2#2 *)");
  const Seconds start = parse_utc("2026-01-01T00:00:00Z");
  const auto expected = s.next_fire_time(start);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (size_t i = 0; i < mismatches.size(); ++i)
    threads.emplace_back([&, i] {
      for (int n = 0; n < 1000; ++n)
        if (s.next_fire_time(start) != expected) ++mismatches[i];
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(describe(expected), "2026-01-12T00:00:00Z");
  EXPECT_THAT(mismatches, ::testing::Each(0));
}

TEST(ScheduleTest, TimesOutsideTheCronYearsNeverFire) {
  const Schedule every_minute = Schedule::parse("cron(* * * * ? *)");
  EXPECT_EQ(every_minute.next_fire_time(parse_utc("2200-01-01T00:00:00Z")), std::nullopt);
  EXPECT_EQ(every_minute.next_fire_time(parse_utc("2199-12-31T23:59:00Z")), std::nullopt);
  EXPECT_EQ(every_minute.next_fire_time(Seconds::max()), std::nullopt);
  EXPECT_EQ(describe(every_minute.next_fire_time(Seconds::min())), "1970-01-01T00:00:00Z");
  const Schedule rate = Schedule::parse("rate(1 minute)");
  EXPECT_EQ(rate.next_fire_time(Seconds::max()), std::nullopt);
}

TEST(ScheduleTest, NeverCasesAreFast) {
  // The search is bounded by months up to 2199, so even a schedule that never fires
  // answers in microseconds; 5 ms per call leaves room for slow, shared machines.
  const std::vector<Schedule> never = {Schedule::parse("cron(0 0 30 2 ? *)"), Schedule::parse("cron(0 0 ? 2 1#5 2027)"),
                                       Schedule::parse("cron(0 0 31W 2,4,6,9,11 ? *)"),
                                       Schedule::parse("cron(0 0 29 2 ? 2100)")};
  const Seconds start = parse_utc("1970-01-01T00:00:00Z");
  const auto begin = std::chrono::steady_clock::now();
  constexpr int kRounds = 100;
  for (int i = 0; i < kRounds; ++i)
    for (const Schedule& s : never) EXPECT_EQ(s.next_fire_time(start), std::nullopt);
  const auto per_call = (std::chrono::steady_clock::now() - begin) / (kRounds * static_cast<int>(never.size()));
  EXPECT_LT(per_call, std::chrono::milliseconds{5});
}

struct InvalidCase {
  std::string_view expression;
  std::string_view message;  // a substring of the error message
};

// clang-format off
const std::vector<InvalidCase> kInvalidCases = {
    // The kind.
    {"", "unknown schedule expression '': use rate(value unit)"},
    {"every 5 minutes", "unknown schedule expression 'every 5 minutes': use rate(value unit)"},
    {"RATE(5 minutes)", "write the keyword in lowercase"},
    {"cron (0 10 * * ? *)", "write the keyword in lowercase, directly followed by '('"},
    {"rate 5 minutes", "rate: missing parentheses"},
    {"rate(5 minutes", "rate: missing closing ')'"},
    {"rate(5 minutes) now", "rate: unexpected text ' now' after ')'"},
    {"cron(0 10 * * ? *))", "cron: unexpected text ')' after ')'"},
    {"rate((5 minutes)", "rate: unexpected '(' inside the parentheses"},
    // rate()
    {"rate()", "rate: expected rate(value unit)"},
    {"rate(5)", "rate: expected rate(value unit)"},
    {"rate(5 minutes please)", "rate: expected rate(value unit)"},
    {"rate(0 minutes)", "rate: value must be at least 1, got '0'"},
    {"rate(-5 minutes)", "rate: value '-5' must be a positive whole number"},
    {"rate(+5 minutes)", "rate: value '+5' must be a positive whole number"},
    {"rate(1.5 hours)", "rate: value '1.5' must be a positive whole number"},
    {"rate(1 minutes)", "rate: use the singular 'minute' with the value 1: rate(1 minute)"},
    {"rate(1 days)", "rate: use the singular 'day'"},
    {"rate(5 minute)", "rate: use the plural 'minutes' with a value other than 1: rate(5 minutes)"},
    {"rate(2 hour)", "rate: use the plural 'hours'"},
    {"rate(5 seconds)", "rate: unknown unit 'seconds'; use minute(s), hour(s) or day(s)"},
    {"rate(5 Minutes)", "rate: unknown unit 'Minutes'"},
    {"rate(36501 days)", "rate: period of 36501 days is too long; the longest is 100 years"},
    {"rate(99999999999999999999 minutes)", "rate: period of 99999999999999999999 minutes is too long"},
    // cron(): shape.
    {"cron(0 10 * * ?)", "cron: expected 6 fields (minutes hours day-of-month month day-of-week year), got 5"},
    {"cron(0 10 * * ? * *)", "cron: expected 6 fields"},
    {"cron()", "cron: expected 6 fields"},
    // cron(): the day-of-month / day-of-week rule.
    {"cron(0 10 * * * *)", "cron: day-of-month and day-of-week cannot both be set; use ? in one of them"},
    {"cron(0 10 1 * MON *)", "cron: day-of-month and day-of-week cannot both be set; use ? in one of them"},
    {"cron(0 10 ? * ? *)", "cron: day-of-month and day-of-week cannot both be ?"},
    // cron(): values out of range.
    {"cron(60 10 * * ? *)", "cron: minutes '60' is out of range 0-59"},
    {"cron(0 24 * * ? *)", "cron: hours '24' is out of range 0-23"},
    {"cron(0 0 32 * ? *)", "cron: day-of-month '32' is out of range 1-31"},
    {"cron(0 0 0 * ? *)", "cron: day-of-month '0' is out of range 1-31"},
    {"cron(0 0 1 13 ? *)", "cron: month '13' is out of range 1-12 or JAN-DEC"},
    {"cron(0 0 ? * 8 *)", "cron: day-of-week '8' is out of range 1-7 or SUN-SAT"},
    {"cron(0 0 ? * 0 *)", "cron: day-of-week '0' is out of range 1-7"},
    {"cron(0 0 1 1 ? 2200)", "cron: year '2200' is out of range 1970-2199"},
    {"cron(0 0 1 1 ? 1969)", "cron: year '1969' is out of range 1970-2199"},
    {"cron(0 0-30 * * ? *)", "cron: hours '30' is out of range 0-23"},
    // cron(): syntax within a field.
    {"cron(*/0 * * * ? *)", "cron: minutes step '0' in '*/0' is out of range 1-60"},
    {"cron(0/61 * * * ? *)", "cron: minutes step '61' in '0/61' is out of range 1-60"},
    {"cron(0/x * * * ? *)", "cron: minutes step 'X' in '0/X' must be a number 1-60"},
    {"cron(1,,2 * * * ? *)", "cron: minutes '1,,2' has an empty list item"},
    {"cron(1, * * * ? *)", "cron: minutes '1,' has an empty list item"},
    {"cron(5- * * * ? *)", "cron: minutes '5-' is missing a value"},
    {"cron(a * * * ? *)", "cron: minutes 'A' is not a valid value; use 0-59"},
    {"cron(0 0 ? FOO * *)", "cron: month 'FOO' is not a valid value; use 1-12 or JAN-DEC"},
    {"cron(0 0 ? * MONDAY *)", "cron: day-of-week 'MONDAY' is not a valid value; use 1-7 or SUN-SAT"},
    {"cron(0 0 1 MON ? *)", "cron: month 'MON' is not a valid value"},
    {"cron(0 0 ? * FRI-MON *)", "cron: day-of-week range 'FRI-MON' runs backwards; write it as two ranges: 'FRI-SAT,SUN-MON'"},
    {"cron(0 22-2 * * ? *)", "cron: hours range '22-2' runs backwards; write it as two ranges: '22-23,0-2'"},
    {"cron(0 ? * * ? *)", "cron: '?' is only allowed in day-of-month and day-of-week, not in hours '?'"},
    {"cron(0 0 1,? * ? *)", "cron: '?' must stand alone in day-of-month"},
    // cron(): L, W and #.
    {"cron(0 0 L,15 * ? *)", "cron: day-of-month 'L,15': L and W cannot be combined with other values"},
    {"cron(0 0 32W * ? *)", "cron: day-of-month '32' is out of range 1-31"},
    {"cron(0 0 W * ? *)", "cron: day-of-month 'W' is not valid; L and W are used as L, LW or nW"},
    {"cron(0 0 L-2 * ? *)", "cron: day-of-month 'L-2' is not valid"},
    {"cron(0 0 1#2 * ? *)", "cron: '#' is only allowed in day-of-week"},
    {"cron(0 0 ? * 2#1,3#2 *)", "cron: day-of-week '2#1,3#2': only one # expression is allowed"},
    {"cron(0 0 ? * 2#1,4 *)", "cron: day-of-week '2#1,4': only one # expression is allowed"},
    {"cron(0 0 ? * 2#6 *)", "cron: day-of-week occurrence '6' in '2#6' is out of range 1-5"},
    {"cron(0 0 ? * 2#0 *)", "cron: day-of-week occurrence '0' in '2#0' is out of range 1-5"},
    {"cron(0 0 ? * 8#1 *)", "cron: day-of-week '8' is out of range 1-7"},
    {"cron(0 0 ? * 8L *)", "cron: day-of-week '8' is out of range 1-7"},
    {"cron(0 0 ? * 6L,2 *)", "cron: day-of-week '6L,2': L cannot be combined with other values"},
    {"cron(0 0 ? * L6 *)", "cron: day-of-week 'L6' is not valid; L is used as L or nL"},
    {"cron(0 L * * ? *)", "cron: hours 'L' is not a valid value; use 0-23"},
    // at()
    {"at(2026-02-30T00:00:00)", "at: '2026-02-30T00:00:00' is not a real date (2026-02 has 28 days)"},
    {"at(2100-02-29T00:00:00)", "at: '2100-02-29T00:00:00' is not a real date"},
    {"at(2026-13-01T00:00:00)", "at: month '13' in '2026-13-01T00:00:00' is out of range 01-12"},
    {"at(2026-01-01T24:00:00)", "at: time of day '24:00:00' in '2026-01-01T24:00:00' is out of range"},
    {"at(2026-01-01 10:00:00)", "at: '2026-01-01 10:00:00' is not of the form yyyy-mm-ddThh:mm:ss"},
    {"at(2026-01-01T10:00:00Z)", "at: '2026-01-01T10:00:00Z' is not of the form yyyy-mm-ddThh:mm:ss"},
    {"at(2026-01-01)", "at: '2026-01-01' is not of the form"},
    {"at()", "at: '' is not of the form"},
};
// clang-format on

TEST(ScheduleTest, InvalidExpressionsAreRejectedWithPreciseMessages) {
  for (const InvalidCase& c : kInvalidCases) {
    SCOPED_TRACE(std::string(c.expression));
    try {
      (void)Schedule::parse(c.expression);
      ADD_FAILURE() << "parsed without error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input);
      EXPECT_THAT(e.what(), HasSubstr(std::string(c.message)));
    }
  }
}

TEST(ScheduleTest, ErrorsStartWithTheKind) {
  for (const InvalidCase& c : kInvalidCases) {
    const std::string_view expression = c.expression;
    std::string prefix = "unknown schedule expression";
    if (expression.starts_with("rate(") || expression.starts_with("rate ")) prefix = "rate: ";
    if (expression.starts_with("cron(")) prefix = "cron: ";
    if (expression.starts_with("at(")) prefix = "at: ";
    try {
      (void)Schedule::parse(expression);
      ADD_FAILURE() << "accepted " << expression;
    } catch (const Error& e) {
      EXPECT_TRUE(std::string_view(e.what()).starts_with(prefix)) << expression << " -> " << e.what();
    }
  }
}

TEST(ScheduleTest, BothDaysSetIsReportedExactly) {
  try {
    (void)Schedule::parse("cron(0 10 * * MON-FRI *)");
    FAIL() << "parsed without error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cron: day-of-month and day-of-week cannot both be set; use ? in one of them");
  }
}

TEST(ScheduleTest, NamesAndLettersAreCaseInsensitive) {
  const Seconds t = parse_utc("2026-01-01T00:00:00Z");
  EXPECT_EQ(Schedule::parse("cron(0 0 ? jan-Mar fri#2 *)").next_fire_time(t),
            Schedule::parse("cron(0 0 ? 1-3 6#2 *)").next_fire_time(t));
  EXPECT_EQ(Schedule::parse("cron(0 0 lw * ? *)").next_fire_time(t),
            Schedule::parse("cron(0 0 LW * ? *)").next_fire_time(t));
  EXPECT_EQ(Schedule::parse("cron(0 0 15w * ? *)").next_fire_time(t),
            Schedule::parse("cron(0 0 15W * ? *)").next_fire_time(t));
}

}  // namespace
}  // namespace sentiflow
