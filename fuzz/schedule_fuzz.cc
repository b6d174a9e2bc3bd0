// Schedule expressions (schedule/schedule.h): rate(), cron() and at(), as the pipeline file's
// `schedule` and `sentiflow schedule` read them. parse() answers or throws Error(invalid_input);
// a schedule that parses answers next_fire_time() without throwing, each fire time strictly
// after the instant asked about, and its expression parses again to the same schedule.
#include <array>

#include "fuzz/fuzz_target.h"
#include "schedule/schedule.h"

using namespace sentiflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)fuzz::fixture<bool>();  // the log silenced
  std::optional<Schedule> schedule;
  try {
    schedule = Schedule::parse(fuzz::as_text(data, size));
  } catch (const Error& e) {
    fuzz::require(e.code() == ErrorCode::invalid_input, "a bad expression is invalid_input");
    return 0;
  }
  const Schedule again = Schedule::parse(schedule->expression());
  // Around now, the Unix epoch's start, a leap day and the far end of the years cron names.
  constexpr std::array<int64_t, 4> kInstants{1'765'000'000, 0, 951'782'400, 4'102'444'799};
  for (const int64_t instant : kInstants) {
    Seconds after{std::chrono::seconds(instant)};
    for (int i = 0; i < 3; ++i) {
      const auto next = schedule->next_fire_time(after);
      fuzz::require(next == again.next_fire_time(after), "the expression parses again to the same schedule");
      if (!next) break;
      fuzz::require(*next > after, "a fire time is strictly after the instant asked about");
      after = *next;
    }
  }
  return 0;
}
