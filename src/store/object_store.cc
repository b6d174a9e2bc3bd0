#include "store/object_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/strings.h"
#include "core/utf8.h"

namespace sentiflow {

void check_object_key(std::string_view key) {
  // Keys can hold anything a user typed; the message shows a printable, bounded form: control
  // characters and bytes that are not part of valid UTF-8 as \xNN.
  const auto shown = [&] {
    const std::string_view head = key.substr(0, 200);
    std::string s;
    for (size_t i = 0; i < head.size();) {
      const auto byte = static_cast<unsigned char>(head[i]);
      size_t length = 1;
      if (byte >= 0xC0 && byte < 0xF8) length = byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4;
      if (byte >= 0x80 &&
          (byte < 0xC0 || byte >= 0xF8 || !is_valid_utf8(head.substr(i, length)) || i + length > head.size()))
        length = 0;  // not the start of a whole, valid sequence
      if (byte < 0x20 || byte == 0x7F || length == 0) {
        s += fmt::format("\\x{:02X}", byte);
        ++i;
      } else {
        s.append(head.substr(i, length));
        i += length;
      }
    }
    return key.size() > 200 ? s + "..." : s;
  };
  const auto refuse = [&](std::string_view why) {
    throw invalid_input(fmt::format("object key '{}' {}", shown(), why));
  };
  if (key.empty()) throw invalid_input("an object key may not be empty");
  if (key.size() > StoreLimits{}.max_key_bytes)
    refuse(fmt::format("is {} bytes long; at most {} are allowed", key.size(), StoreLimits{}.max_key_bytes));
  if (!is_valid_utf8(key)) refuse("is not valid UTF-8");
  if (key.find('\0') != std::string_view::npos) refuse("contains a NUL byte");
  if (key.find('\\') != std::string_view::npos) refuse("contains a backslash; use '/' between segments");
  for (const auto segment : split(key, '/')) {
    if (segment.empty()) refuse("has an empty segment (a leading, trailing or doubled '/')");
    if (segment == "." || segment == "..") refuse("has a '.' or '..' segment");
  }
}

std::string guess_content_type(std::string_view key) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".jsonl", "application/x-ndjson"}, {".json", "application/json"}, {".csv", "text/csv"},
      {".gz", "application/gzip"},        {".txt", "text/plain"},        {".html", "text/html"},
      {".yaml", "application/yaml"},      {".zip", "application/zip"},
  };
  for (const auto& [extension, type] : kTypes)
    if (key.ends_with(extension)) return std::string(type);
  return "application/octet-stream";
}

void check_content_type(std::string_view content_type) {
  const bool printable =
      std::all_of(content_type.begin(), content_type.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (content_type.empty() || content_type.size() > 255 || !printable)
    throw invalid_input(fmt::format("content type '{}' must be 1-255 printable ASCII characters",
                                    printable ? content_type : "(not printable)"));
}

}  // namespace sentiflow
