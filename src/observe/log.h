// Logging: one process-wide logger writing to stderr (stdout carries command output only).
//
// Messages are short sentences; context goes in fields so that JSON lines stay
// machine-readable: log::info("run started", {{"run", id}, {"items", n}}).
// Text lines read `2026-01-01T10:00:00.123Z info  run started run=... items=3`;
// JSON lines are objects with "ts", "level", "msg" and the fields.
// Lambda lines (the runtime loop switches them on, docs/LAMBDA.md) are JSON objects in the shape
// Lambda's log-level filtering and CloudWatch Logs Insights read: "timestamp" (RFC 3339),
// "level" (TRACE, DEBUG, INFO, WARN, ERROR), "requestId" (of the invocation being handled, set by
// set_request_id), "message", then the fields.
// Thread-safe: any thread may log at any time; configure() is meant for start-up.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace sentiflow::log {

enum class Format { text, json, lambda };
enum class Level { trace, debug, info, warn, error, off };

// Parses "text"/"json" and "trace|debug|info|warn|error|off"; throws Error(invalid_input).
Format parse_format(std::string_view name);
Level parse_level(std::string_view name);

// Sets the format and threshold of the process logger. Default: text, info.
void configure(Format format, Level level);

// The format configured now (a command draws a progress bar only under text logs).
Format format();

// The request id that Format::lambda lines carry from now on, "" for none (between
// invocations). Process-wide, not per thread: a Lambda process handles one invocation at a
// time, and the threads a handler starts log under its request id too.
void set_request_id(std::string_view request_id);

// Context fields, a JSON object; values of any JSON type.
using Fields = nlohmann::json;

void write(Level level, std::string_view message, const Fields& fields = Fields::object());
inline void debug(std::string_view m, const Fields& f = Fields::object()) { write(Level::debug, m, f); }
inline void info(std::string_view m, const Fields& f = Fields::object()) { write(Level::info, m, f); }
inline void warn(std::string_view m, const Fields& f = Fields::object()) { write(Level::warn, m, f); }
inline void error(std::string_view m, const Fields& f = Fields::object()) { write(Level::error, m, f); }

// Renders one line without writing it: what write() would print (minus the newline).
// Exposed so that tests check the exact format. `request_id` is used by Format::lambda only.
std::string render(Format format, Level level, std::string_view timestamp, std::string_view message,
                   const Fields& fields, std::string_view request_id = {});

}  // namespace sentiflow::log
