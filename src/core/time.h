// UTC time points and their ISO-8601 text form.
//
// sentiflow reasons in UTC only (schedules, run ids, records). Whole-second times are
// sys_seconds; record timestamps carry milliseconds. All functions are pure and thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace sentiflow {

using Seconds = std::chrono::sys_seconds;
using Millis = std::chrono::sys_time<std::chrono::milliseconds>;

// "2026-01-01T10:00:00Z".
std::string format_utc(Seconds t);
// "2026-01-01T10:00:00.123Z".
std::string format_utc_millis(Millis t);

// Parses "YYYY-MM-DDTHH:MM:SS" with an optional "Z" or "+00:00", or a bare date
// "YYYY-MM-DD" (midnight). Fractions of a second are not accepted: schedules tick on
// whole seconds. Throws Error(invalid_input) naming what is wrong.
Seconds parse_utc(std::string_view text);

// parse_utc's forms with an optional fraction of 1 to 3 digits after the seconds, as
// format_utc_millis writes them: "2026-01-01T10:00:00.123Z", "2026-01-01T10:00:00Z". Throws
// Error(invalid_input) naming what is wrong.
Millis parse_utc_millis(std::string_view text);

// True when y/m/d (and h:m:s) name a real instant, e.g. not February 30th.
bool is_valid_civil(int year, unsigned month, unsigned day);

// The current time, whole seconds and milliseconds.
Seconds now_seconds();
Millis now_millis();

}  // namespace sentiflow
