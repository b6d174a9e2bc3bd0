#include "config/values.h"

#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <limits>
#include <span>

#include "core/error.h"
#include "core/strings.h"

namespace sentiflow {
namespace {

struct Unit {
  std::string_view name;
  uint64_t factor;
};

constexpr Unit kDurationUnits[] = {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}};
constexpr Unit kSizeUnits[] = {{"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}, {"B", 1}};

// A "<whole number><unit>" text, the shape durations and sizes share. `fail` builds the
// error for a reason, so that each kind of quantity says what it expects.
class Quantity {
 public:
  using Fail = std::function<Error(std::string_view why)>;

  Quantity(std::string_view raw, Fail fail) : fail_(std::move(fail)) {
    const std::string_view text = trim(raw);
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, number_);
    if (ec == std::errc::result_out_of_range) throw fail_("it is far too large");
    if (ec != std::errc{} || ptr == text.data())
      throw fail_(text.empty() ? "it is empty" : "it does not start with a number");
    unit_ = trim(std::string_view(ptr, static_cast<size_t>(end - ptr)));
  }

  uint64_t number() const { return number_; }
  std::string_view unit() const { return unit_; }

  // number × the factor of the unit, at most `max`; throws for an unknown unit.
  uint64_t scaled(std::span<const Unit> units, uint64_t max) const {
    for (const auto& u : units) {
      if (unit_ != u.name) continue;
      if (number_ > max / u.factor) throw fail_("it is far too large");
      return number_ * u.factor;
    }
    throw fail_(fmt::format("unknown unit '{}'", unit_));
  }

  Error fail(std::string_view why) const { return fail_(why); }

 private:
  Fail fail_;
  uint64_t number_ = 0;
  std::string_view unit_;
};

}  // namespace

Duration parse_duration(std::string_view raw) {
  const Quantity q(raw, [raw](std::string_view why) {
    return invalid_input(fmt::format(
        "'{}' is not a duration: {}; expected a whole number and a unit, e.g. 250ms, 30s, 5m, 1h, 4d", raw, why));
  });
  if (q.unit().empty()) {
    if (q.number() == 0) return Duration{0};
    throw q.fail("the unit is missing");
  }
  if (q.unit().front() == '.') throw q.fail("fractions are not accepted (write 1500ms, not 1.5s)");
  // Milliseconds fit an int64 with room for the arithmetic callers do on them.
  return Duration{static_cast<int64_t>(q.scaled(kDurationUnits, std::numeric_limits<int64_t>::max() / 1000))};
}

std::string format_duration(Duration d) {
  const auto ms = static_cast<uint64_t>(d.count());
  if (ms == 0) return "0s";
  for (const auto& u : kDurationUnits)
    if (ms % u.factor == 0) return fmt::format("{}{}", ms / u.factor, u.name);
  return fmt::format("{}ms", ms);
}

uint64_t parse_size(std::string_view raw) {
  const Quantity q(raw, [raw](std::string_view why) {
    return invalid_input(
        fmt::format("'{}' is not a size: {}; expected e.g. 256KiB, 1MiB or a number of bytes", raw, why));
  });
  if (q.unit().empty()) return q.number();
  const std::string lower = to_lower_ascii(q.unit());
  if (lower == "kb" || lower == "k") throw q.fail("use KiB (1024 bytes) rather than KB");
  if (lower == "mb" || lower == "m") throw q.fail("use MiB (1048576 bytes) rather than MB");
  if (lower == "gb" || lower == "g") throw q.fail("use GiB rather than GB");
  return q.scaled(kSizeUnits, std::numeric_limits<uint64_t>::max());
}

std::string format_size(uint64_t bytes) {
  for (const auto& u : kSizeUnits)
    if (bytes != 0 && bytes % u.factor == 0 && u.factor > 1) return fmt::format("{}{}", bytes / u.factor, u.name);
  return fmt::format("{}B", bytes);
}

namespace {

uint16_t parse_port(std::string_view digits, std::string_view whole) {
  unsigned port = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() || port > 65535)
    throw invalid_input(fmt::format("'{}': port '{}' must be a number 0-65535", whole, digits));
  return static_cast<uint16_t>(port);
}

// Splits "host:port" or "[v6]:port" (port optional when allowed).
void split_host_port(std::string_view authority, std::string_view whole, bool port_required, std::string& host,
                     uint16_t& port) {
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw invalid_input(fmt::format("'{}': unclosed '[' in the host", whole));
    host = std::string(authority.substr(1, close - 1));
    const auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') throw invalid_input(fmt::format("'{}': expected ':' after ']'", whole));
      port_text = rest.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (host.empty()) throw invalid_input(fmt::format("'{}': the host is missing", whole));
  if (host.find_first_of(" \t/?#@") != std::string::npos)
    throw invalid_input(fmt::format("'{}': the host '{}' has characters a host cannot have", whole, host));
  if (port_text.empty()) {
    if (port_required)
      throw invalid_input(fmt::format("'{}': the port is missing; expected HOST:PORT, e.g. 127.0.0.1:9464", whole));
    port = 0;
  } else {
    port = parse_port(port_text, whole);
  }
}

}  // namespace

Url parse_http_url(std::string_view raw) {
  const std::string_view text = trim(raw);
  Url url;
  url.text = std::string(text);
  const auto sep = text.find("://");
  if (sep == std::string_view::npos)
    throw invalid_input(fmt::format("'{}' is not a URL; expected http://HOST[:PORT]/PATH or https://...", raw));
  url.scheme = to_lower_ascii(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https")
    throw invalid_input(fmt::format("'{}': scheme '{}' is not http or https", raw, url.scheme));
  std::string_view rest = text.substr(sep + 3);
  const auto path_start = rest.find_first_of("/?#");
  const auto authority = rest.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos)
    throw invalid_input(fmt::format("'{}': credentials in URLs are not accepted (they would end up in logs)", raw));
  split_host_port(authority, raw, false, url.host, url.port);
  if (path_start != std::string_view::npos) url.path = std::string(rest.substr(path_start));
  if (url.text.find_first_of(" \t\r\n") != std::string::npos)
    throw invalid_input(fmt::format("'{}': a URL cannot contain whitespace; encode it as %20", raw));
  return url;
}

std::string ListenAddress::text() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

ListenAddress parse_listen_address(std::string_view raw) {
  ListenAddress address;
  split_host_port(trim(raw), raw, true, address.host, address.port);
  return address;
}

std::map<std::string, std::string> parse_label_map(std::string_view text) {
  std::map<std::string, std::string> labels;
  for (const std::string_view part : split(text, ',')) {
    const std::string_view item = trim(part);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const std::string_view label = trim(item.substr(0, eq));
    const std::string value = to_upper_ascii(eq == std::string_view::npos ? "" : trim(item.substr(eq + 1)));
    if (label.empty() || label.find_first_of(" \t") != std::string_view::npos ||
        (value != "POSITIVE" && value != "NEGATIVE" && value != "NEUTRAL" && value != "MIXED"))
      throw invalid_input(
          fmt::format("'{}': expected LABEL=CLASS, CLASS one of POSITIVE, NEGATIVE, NEUTRAL, MIXED", item));
    if (!labels.emplace(std::string(label), value).second)
      throw invalid_input(fmt::format("the label '{}' is mapped twice", label));
  }
  if (labels.empty()) throw invalid_input("expected LABEL=CLASS, ... (e.g. __label__1=NEGATIVE, __label__2=POSITIVE)");
  return labels;
}

std::string format_label_map(const std::map<std::string, std::string>& labels) {
  std::string text;
  for (const auto& [label, value] : labels) text += fmt::format("{}{}={}", text.empty() ? "" : ", ", label, value);
  return text;
}

}  // namespace sentiflow
