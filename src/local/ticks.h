// When the scheduler fires: a pure function of the schedule, the catch-up policy, the last
// tick handled and the time now (DESIGN.md, "Runs"), so the daemon's decisions are tested
// with any clock, not with real minutes.
#pragma once

#include <chrono>
#include <optional>

#include "config/pipeline_config.h"
#include "core/time.h"
#include "schedule/schedule.h"

namespace sentiflow::local {

struct TickPlan {
  std::optional<Seconds> fire;    // the tick to run now, if any
  std::optional<Seconds> missed;  // a tick to record as handled without running it (catch_up: none)
  std::optional<Seconds> next;    // the first tick after `now`; nullopt when the schedule never fires again
};

// The due tick is the latest fire time t with last_tick < t <= now (any t <= now, looking back
// at most a year, when nothing was handled yet: a first start counts as downtime). It fires
// when catch_up is `latest` or when it is at most `grace` old (the daemon woke a little late);
// with `none` an older one is `missed`. Older due ticks are never fired: one run catches up.
TickPlan plan_tick(const Schedule& schedule, CatchUp catch_up, std::optional<Seconds> last_tick, Seconds now,
                   std::chrono::seconds grace = std::chrono::seconds(60));

}  // namespace sentiflow::local
