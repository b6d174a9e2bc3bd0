#include "local/ticks.h"

namespace sentiflow::local {

TickPlan plan_tick(const Schedule& schedule, CatchUp catch_up, std::optional<Seconds> last_tick, Seconds now,
                   std::chrono::seconds grace) {
  // Walk the fire times from the last tick (or a year back) to now. next_fire_time takes
  // nanoseconds, so even a year of rate(1 minute) is a few milliseconds; rate() jumps there.
  constexpr auto kLookBack = std::chrono::days(366);
  Seconds from = now - kLookBack;
  if (last_tick && *last_tick > from) from = *last_tick;
  if (schedule.kind() == Schedule::Kind::rate && from < now) {
    const auto period = schedule.period();
    const auto floor = Seconds{(now.time_since_epoch() / period) * period};
    if (floor > from) from = floor - std::chrono::seconds(1);
  }
  std::optional<Seconds> due;
  for (std::optional<Seconds> t = next_fire_time(schedule, from); t && *t <= now; t = next_fire_time(schedule, *t))
    due = t;

  TickPlan plan;
  if (due) {
    if (catch_up == CatchUp::latest || now - *due <= grace)
      plan.fire = due;
    else
      plan.missed = due;
  }
  plan.next = next_fire_time(schedule, now);
  return plan;
}

}  // namespace sentiflow::local
