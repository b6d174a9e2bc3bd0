#include "config/locations.h"

#include <fmt/format.h>

#include <cstdlib>

#include "core/error.h"
#include "core/strings.h"

namespace sentiflow {
namespace {

// "scheme://rest" -> {"scheme", "rest"}; scheme empty when there is none.
std::pair<std::string, std::string_view> split_scheme(std::string_view text) {
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) return {"", text};
  return {to_lower_ascii(text.substr(0, sep)), text.substr(sep + 3)};
}

std::string check_table_name(std::string_view name, size_t min_length, std::string_view uri) {
  // DynamoDB's rule, which SQLite names fit too: 3-255 of A-Z a-z 0-9 _ - .
  const bool ok = name.size() >= min_length && name.size() <= 255 &&
                  name.find_first_not_of(std::string(kNameCharacters) + ".") == std::string_view::npos;
  if (!ok)
    throw invalid_input(
        fmt::format("'{}': table name '{}' must be {}-255 of A-Z a-z 0-9 _ - .", uri, name, min_length));
  return std::string(name);
}

}  // namespace

std::string check_queue_name(std::string_view name) {
  if (name.size() > 5 && name.substr(name.size() - 5) == ".fifo")
    throw invalid_input(
        fmt::format("queue '{}': FIFO queues are not supported; the pipeline uses a standard queue", name));
  if (name.empty() || name.size() > 80 || name.find_first_not_of(kNameCharacters) != std::string_view::npos)
    throw invalid_input(fmt::format("queue name '{}' must be 1-80 of A-Z a-z 0-9 - _", name));
  return std::string(name);
}

TableLocation parse_table_location(std::string_view text) {
  const auto [scheme, rest] = split_scheme(text);
  TableLocation location;
  if (scheme == "local") {
    location.backend = TableLocation::Backend::local;
    location.name = check_table_name(rest, 1, text);
  } else if (scheme == "dynamodb") {
    location.backend = TableLocation::Backend::dynamodb;
    location.name = check_table_name(rest, 3, text);
  } else {
    throw invalid_input(fmt::format("'{}' is not a table URI; expected local://NAME or dynamodb://NAME", text));
  }
  location.uri = scheme + "://" + location.name;
  return location;
}

QueueLocation parse_queue_location(std::string_view text) {
  const auto [scheme, rest] = split_scheme(text);
  QueueLocation location;
  if (scheme == "local") {
    location.backend = QueueLocation::Backend::local;
    location.name = check_queue_name(rest);
  } else if (scheme == "sqs") {
    location.backend = QueueLocation::Backend::sqs;
    if (rest.find("://") != std::string_view::npos) {
      const Url url = parse_http_url(rest);
      // Queue URLs are https://sqs.<region>.amazonaws.com/<account>/<name>; emulators
      // (moto, LocalStack) use other hosts with the same path shape.
      const auto segments = split(std::string_view(url.path), '/');
      if (segments.size() < 3 || !segments[0].empty() || segments.back().empty())
        throw invalid_input(
            fmt::format("'{}': a queue URL ends in /ACCOUNT/NAME, e.g. "
                        "sqs://https://sqs.us-east-1.amazonaws.com/123456789012/producer",
                        text));
      location.name = check_queue_name(segments.back());
      location.queue_url = url.text;
    } else {
      location.name = check_queue_name(rest);
    }
  } else {
    throw invalid_input(
        fmt::format("'{}' is not a queue URI; expected local://NAME, sqs://NAME or sqs://https://…/NAME", text));
  }
  location.uri = location.queue_url.empty() ? scheme + "://" + location.name : "sqs://" + location.queue_url;
  return location;
}

StoreLocation parse_store_location(std::string_view text, const std::filesystem::path& base_dir) {
  const auto [scheme, rest] = split_scheme(text);
  StoreLocation location;
  if (scheme == "s3") {
    location.backend = StoreLocation::Backend::s3;
    const auto slash = rest.find('/');
    location.bucket = std::string(rest.substr(0, slash));
    const auto& b = location.bucket;
    const bool bucket_ok = b.size() >= 3 && b.size() <= 63 &&
                           b.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") == std::string::npos &&
                           b.front() != '.' && b.front() != '-' && b.back() != '.' && b.back() != '-' &&
                           b.find("..") == std::string::npos;
    if (!bucket_ok)
      throw invalid_input(
          fmt::format("'{}': bucket '{}' must be 3-63 of a-z 0-9 . -, starting and ending with a "
                      "letter or digit",
                      text, b));
    if (slash != std::string_view::npos) location.prefix = std::string(rest.substr(slash + 1));
    // The prefix is a folder: keys are <prefix>run=<run>/..., so "results" means "results/".
    if (!location.prefix.empty() && location.prefix.back() != '/') location.prefix += '/';
    if (location.prefix.find("//") != std::string::npos || location.prefix.starts_with("/"))
      throw invalid_input(fmt::format("'{}': the prefix has an empty path segment", text));
    location.uri = "s3://" + location.bucket + "/" + location.prefix;
    return location;
  }
  std::string_view path_text = text;
  if (scheme == "file") {
    if (!rest.starts_with("/"))
      throw invalid_input(
          fmt::format("'{}': a file URI names an absolute path, e.g. file:///var/lib/sentiflow/out/", text));
    path_text = rest;
  } else if (!scheme.empty()) {
    throw invalid_input(
        fmt::format("'{}': unknown scheme '{}'; expected a path, file:///absolute/path/ or "
                    "s3://BUCKET/PREFIX/",
                    text, scheme));
  }
  if (path_text.empty()) throw invalid_input("the store path is empty");
  location.backend = StoreLocation::Backend::file;
  location.directory = resolve_path(path_text, base_dir);
  std::string dir = location.directory.string();
  if (dir.back() != '/') dir += '/';
  location.uri = "file://" + dir;
  return location;
}

std::string check_url_template(std::string_view text) {
  // Placeholders are checked before the URL: "{name}" is not a valid host character.
  std::string probe;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '}') throw invalid_input(fmt::format("'{}': '}}' at offset {} closes no placeholder", text, i));
    if (text[i] != '{') {
      probe += text[i];
      continue;
    }
    const auto close = text.find('}', i);
    if (close == std::string_view::npos)
      throw invalid_input(fmt::format("'{}': placeholder at offset {} is not closed with '}}'", text, i));
    const auto attribute = text.substr(i + 1, close - i - 1);
    if (attribute.empty() || attribute.find_first_of("{ ") != std::string_view::npos)
      throw invalid_input(
          fmt::format("'{}': placeholder '{{{}}}' must name an attribute, e.g. {{name}}", text, attribute));
    probe += "x";
    i = close;
  }
  const auto scheme_end = text.find("://");
  const auto authority_end = text.find_first_of("/?#", scheme_end == std::string_view::npos ? 0 : scheme_end + 3);
  if (text.substr(0, authority_end).find('{') != std::string_view::npos)
    throw invalid_input(fmt::format("'{}': the host must be fixed, not a placeholder", text));
  parse_http_url(probe);
  return std::string(text);
}

std::string check_json_pointer(std::string_view text) {
  if (!text.empty() && text.front() != '/')
    throw invalid_input(
        fmt::format("'{}' is not a JSON pointer: it must be empty or start with '/', e.g. /extract", text));
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '~' && (i + 1 == text.size() || (text[i + 1] != '0' && text[i + 1] != '1')))
      throw invalid_input(fmt::format("'{}': '~' must be followed by 0 or 1 (RFC 6901)", text));
  return std::string(text);
}

std::filesystem::path resolve_path(std::string_view text, const std::filesystem::path& base_dir) {
  std::filesystem::path path(text);
  if (text.starts_with("~/")) {
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0') throw invalid_input(fmt::format("'{}': HOME is not set to expand '~'", text));
    path = std::filesystem::path(home) / std::string(text.substr(2));
  } else if (path.is_relative()) {
    path = base_dir / path;
  }
  return path.lexically_normal();
}

}  // namespace sentiflow
