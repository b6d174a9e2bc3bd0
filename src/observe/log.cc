#include "observe/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

#include "core/error.h"
#include "core/secrets.h"
#include "core/time.h"

namespace sentiflow::log {
namespace {

constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn", "error", "off"};
// Lambda's own names (its log-level filtering reads these).
constexpr std::string_view kLambdaLevelNames[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};

std::atomic<Format> g_format{Format::text};

std::mutex g_request_mutex;
std::string g_request_id;  // guarded by g_request_mutex

std::string request_id() {
  std::lock_guard lock(g_request_mutex);
  return g_request_id;
}

// spdlog does the locking and the stderr writes; the line itself is ours, so that text
// and JSON carry the same timestamp format and fields.
spdlog::logger& logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto made = std::make_shared<spdlog::logger>("sentiflow", sink);
    made->set_pattern("%v");
    made->set_level(spdlog::level::info);
    made->flush_on(spdlog::level::trace);  // a crash must not swallow the last lines
    return made;
  }();
  return *instance;
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::trace: return spdlog::level::trace;
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::error: return spdlog::level::err;
    case Level::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// A field value as text: strings bare unless they need quotes to stay one token.
std::string text_value(const nlohmann::json& value) {
  // Invalid UTF-8 in a field must not throw out of a log call: replace it.
  constexpr auto replace = nlohmann::json::error_handler_t::replace;
  if (!value.is_string()) return value.dump(-1, ' ', false, replace);
  const auto& s = value.get_ref<const std::string&>();
  const bool plain = !s.empty() && s.find_first_of(" \t\n\"=") == std::string::npos;
  return plain ? s : nlohmann::json(s).dump(-1, ' ', false, replace);
}

}  // namespace

Format parse_format(std::string_view name) {
  if (name == "text") return Format::text;
  if (name == "json") return Format::json;
  throw invalid_input("log format '" + std::string(name) + "' is not one of: text, json");
}

Level parse_level(std::string_view name) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i)
    if (name == kLevelNames[i]) return static_cast<Level>(i);
  throw invalid_input("log level '" + std::string(name) + "' is not one of: trace, debug, info, warn, error, off");
}

Format format() { return g_format; }

void set_request_id(std::string_view id) {
  std::lock_guard lock(g_request_mutex);
  g_request_id = id;
}

void configure(Format format, Level level) {
  g_format = format;
  logger().set_level(to_spdlog(level));
}

std::string render(Format format, Level level, std::string_view timestamp, std::string_view message,
                   const Fields& fields, std::string_view request_id) {
  const std::string_view level_name = kLevelNames[static_cast<size_t>(level)];
  if (format == Format::lambda) {
    nlohmann::ordered_json line;
    line["timestamp"] = timestamp;
    line["level"] = kLambdaLevelNames[static_cast<size_t>(level)];
    line["requestId"] = request_id;
    line["message"] = message;
    if (fields.is_object())
      for (const auto& [key, value] : fields.items())
        if (key != "timestamp" && key != "level" && key != "requestId" && key != "message") line[key] = value;
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (format == Format::json) {
    nlohmann::ordered_json line;
    line["ts"] = timestamp;
    line["level"] = level_name;
    line["msg"] = message;
    if (fields.is_object())
      for (const auto& [key, value] : fields.items())
        if (key != "ts" && key != "level" && key != "msg") line[key] = value;
    // Invalid UTF-8 in a field must not throw out of a log call: replace it.
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line;
  line.reserve(64 + message.size());
  line.append(timestamp).append(" ").append(level_name);
  line.append(6 - level_name.size(), ' ');
  // One event, one line: a newline in a message must not forge a second log line.
  for (const char c : message) {
    if (c == '\n')
      line.append("\\n");
    else if (c == '\r')
      line.append("\\r");
    else
      line.push_back(c);
  }
  if (fields.is_object())
    for (const auto& [key, value] : fields.items())
      line.append(" ").append(text_value(nlohmann::json(key))).append("=").append(text_value(value));
  return line;
}

void write(Level level, std::string_view message, const Fields& fields) {
  auto& sink = logger();
  const auto spd_level = to_spdlog(level);
  if (!sink.should_log(spd_level)) return;
  const Format format = g_format;
  // Redacted last, on the whole line: a secret may be in the message or in any field.
  sink.log(spd_level, "{}",
           redact_secrets(render(format, level, format_utc_millis(now_millis()), message, fields,
                                 format == Format::lambda ? request_id() : std::string())));
}

}  // namespace sentiflow::log
