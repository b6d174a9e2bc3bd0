// Schedule: cost of parsing an expression and of finding its next fire time.
//
// next_fire_time runs once per schedule per tick of the runner, so it should stay well
// under 10 µs for ordinary expressions; a "never" expression walks every month up to
// 2199 and should still finish in microseconds.
#include <benchmark/benchmark.h>

#include <string>

#include "core/time.h"
#include "schedule/schedule.h"

namespace sentiflow {
namespace {

constexpr const char* kExpressions[] = {
    "rate(5 minutes)",                // 0: rate
    "cron(0 10 * * ? *)",             // 1: simple cron
    "cron(0/15 8-18 ? * MON-FRI *)",  // 2: weekday business hours
    "cron(15 10 LW * ? *)",           // 3: L and W
    "cron(0 9 ? * 6L *)",             // 4: last Friday
    "cron(0 9 ? * 2#3 *)",            // 5: third Monday
    "cron(0 0 30 2 ? *)",             // 6: never (February 30th)
    "cron(0 0 ? 2 1#5 2027)",         // 7: never (no fifth Sunday in February 2027)
};

void BM_Parse(benchmark::State& state) {
  const std::string expression = kExpressions[state.range(0)];
  state.SetLabel(expression);
  for (auto _ : state) benchmark::DoNotOptimize(Schedule::parse(expression));
}
BENCHMARK(BM_Parse)->DenseRange(0, 7);

void BM_NextFireTime(benchmark::State& state) {
  const Schedule schedule = Schedule::parse(kExpressions[state.range(0)]);
  state.SetLabel(schedule.expression());
  // Walk forward so each call starts from a different point in the calendar.
  const Seconds start = parse_utc("2026-01-01T00:00:00Z");
  const Seconds wrap = parse_utc("2190-01-01T00:00:00Z");
  Seconds t = start;
  for (auto _ : state) {
    const auto next = schedule.next_fire_time(t);
    benchmark::DoNotOptimize(next);
    t = next && *next < wrap ? *next : start;
  }
}
BENCHMARK(BM_NextFireTime)->DenseRange(0, 7);

}  // namespace
}  // namespace sentiflow
