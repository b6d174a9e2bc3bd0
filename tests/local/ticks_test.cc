// The scheduler's decisions (runtime/ticks.h) at chosen times: no real minutes pass.
#include "local/ticks.h"

#include <gtest/gtest.h>

namespace sentiflow::local {
namespace {

Seconds at(std::string_view text) { return parse_utc(text); }

TEST(PlanTick, FiresTheTickThatIsDueNow) {
  const Schedule hourly = Schedule::parse("rate(1 hour)");
  const TickPlan plan = plan_tick(hourly, CatchUp::latest, at("2026-11-26T05:00:00Z"), at("2026-11-26T06:00:03Z"));
  ASSERT_TRUE(plan.fire);
  EXPECT_EQ(format_utc(*plan.fire), "2026-11-26T06:00:00Z");
  EXPECT_FALSE(plan.missed);
  EXPECT_EQ(format_utc(*plan.next), "2026-11-26T07:00:00Z");
}

TEST(PlanTick, NothingToDoBetweenTicks) {
  const Schedule hourly = Schedule::parse("rate(1 hour)");
  const TickPlan plan = plan_tick(hourly, CatchUp::latest, at("2026-11-26T06:00:00Z"), at("2026-11-26T06:59:59Z"));
  EXPECT_FALSE(plan.fire);
  EXPECT_FALSE(plan.missed);
  EXPECT_EQ(format_utc(*plan.next), "2026-11-26T07:00:00Z");
}

TEST(PlanTick, CatchUpLatestFiresOnlyTheLatestMissedTick) {
  const Schedule hourly = Schedule::parse("rate(1 hour)");
  // Down from 06:30 to 10:15: 07:00, 08:00, 09:00 and 10:00 were missed; one run catches up.
  const TickPlan plan = plan_tick(hourly, CatchUp::latest, at("2026-11-26T06:00:00Z"), at("2026-11-26T10:15:00Z"));
  ASSERT_TRUE(plan.fire);
  EXPECT_EQ(format_utc(*plan.fire), "2026-11-26T10:00:00Z");
}

TEST(PlanTick, CatchUpNoneSkipsMissedTicksButFiresALateWakeUp) {
  const Schedule hourly = Schedule::parse("rate(1 hour)");
  const TickPlan missed = plan_tick(hourly, CatchUp::none, at("2026-11-26T06:00:00Z"), at("2026-11-26T10:15:00Z"));
  EXPECT_FALSE(missed.fire);
  ASSERT_TRUE(missed.missed);
  EXPECT_EQ(format_utc(*missed.missed), "2026-11-26T10:00:00Z");
  // Waking 30 s after the tick is not downtime.
  const TickPlan late = plan_tick(hourly, CatchUp::none, at("2026-11-26T09:00:00Z"), at("2026-11-26T10:00:30Z"));
  ASSERT_TRUE(late.fire);
  EXPECT_EQ(format_utc(*late.fire), "2026-11-26T10:00:00Z");
}

TEST(PlanTick, FirstStartCountsAsDowntime) {
  const Schedule daily = Schedule::parse("cron(0 6 * * ? *)");
  const TickPlan latest = plan_tick(daily, CatchUp::latest, std::nullopt, at("2026-11-26T07:00:00Z"));
  ASSERT_TRUE(latest.fire);
  EXPECT_EQ(format_utc(*latest.fire), "2026-11-26T06:00:00Z");
  const TickPlan none = plan_tick(daily, CatchUp::none, std::nullopt, at("2026-11-26T07:00:00Z"));
  EXPECT_FALSE(none.fire);
  EXPECT_EQ(format_utc(*none.missed), "2026-11-26T06:00:00Z");
}

TEST(PlanTick, RateTicksAreWholeMultiplesOfThePeriodSinceTheEpoch) {
  const Schedule five = Schedule::parse("rate(5 minutes)");
  const TickPlan plan = plan_tick(five, CatchUp::latest, std::nullopt, at("2026-11-26T06:07:00Z"));
  EXPECT_EQ(format_utc(*plan.fire), "2026-11-26T06:05:00Z");
  EXPECT_EQ(format_utc(*plan.next), "2026-11-26T06:10:00Z");
  // A tick exactly now is due.
  const TickPlan exact = plan_tick(five, CatchUp::latest, at("2026-11-26T06:05:00Z"), at("2026-11-26T06:10:00Z"));
  EXPECT_EQ(format_utc(*exact.fire), "2026-11-26T06:10:00Z");
}

TEST(PlanTick, AtFiresOnceAndNeverAgain) {
  const Schedule once = Schedule::parse("at(2026-11-26T06:00:00)");
  const TickPlan before = plan_tick(once, CatchUp::latest, std::nullopt, at("2026-11-26T05:00:00Z"));
  EXPECT_FALSE(before.fire);
  EXPECT_EQ(format_utc(*before.next), "2026-11-26T06:00:00Z");
  const TickPlan due = plan_tick(once, CatchUp::latest, std::nullopt, at("2026-11-26T06:00:01Z"));
  EXPECT_EQ(format_utc(*due.fire), "2026-11-26T06:00:00Z");
  EXPECT_FALSE(due.next);
  const TickPlan after = plan_tick(once, CatchUp::latest, at("2026-11-26T06:00:00Z"), at("2026-11-27T00:00:00Z"));
  EXPECT_FALSE(after.fire);
  EXPECT_FALSE(after.next);
}

TEST(PlanTick, AYearOfMinuteTicksIsQuick) {
  // The walk from a year-old last tick must not take long (the daemon calls this every 100 ms);
  // a cron every minute is the worst case.
  const Schedule minutely = Schedule::parse("cron(* * * * ? *)");
  const TickPlan plan = plan_tick(minutely, CatchUp::latest, at("2025-11-26T00:00:00Z"), at("2026-11-26T06:07:30Z"));
  EXPECT_EQ(format_utc(*plan.fire), "2026-11-26T06:07:00Z");
}

}  // namespace
}  // namespace sentiflow::local
