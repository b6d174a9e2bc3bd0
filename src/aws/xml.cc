#include "aws/xml.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <utility>

#include "core/error.h"
#include "core/utf8.h"

namespace sentiflow::aws {

// Replaces the five named entities and numeric references (&#38; &#x26;).
std::string xml_text(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, char>, 5> kEntities = {
      {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}}};
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    const auto rest = text.substr(i + 1);
    const auto semicolon = rest.find(';');
    if (semicolon == std::string_view::npos)
      throw Error(ErrorCode::internal, "an AWS answer that sentiflow cannot read: an unterminated XML entity");
    bool named = false;
    for (const auto& [entity, c] : kEntities) {
      if (rest.starts_with(entity)) {
        out += c;
        i += entity.size();
        named = true;
        break;
      }
    }
    if (named) continue;
    if (!rest.starts_with('#') || semicolon < 2)
      throw Error(ErrorCode::internal, "an AWS answer that sentiflow cannot read: an unknown XML entity");
    const bool hex = rest[1] == 'x' || rest[1] == 'X';
    const auto digits = rest.substr(hex ? 2 : 1, semicolon - (hex ? 2 : 1));
    uint32_t code = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), code, hex ? 16 : 10);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF))
      throw Error(ErrorCode::internal, "an AWS answer that sentiflow cannot read: a bad XML character reference");
    append_utf8(out, static_cast<char32_t>(code));
    i += semicolon + 1;
  }
  return out;
}

// The raw contents of every <tag>...</tag> in `body`, in order; <tag/> counts as empty.
std::vector<std::string_view> xml_elements(std::string_view body, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string empty = "<" + std::string(tag) + "/>";
  const std::string close = "</" + std::string(tag) + ">";
  std::vector<std::string_view> found;
  size_t at = 0;
  while (true) {
    const auto start = body.find(open, at);
    const auto short_form = body.find(empty, at);
    if (short_form < start) {
      found.emplace_back();
      at = short_form + empty.size();
      continue;
    }
    if (start == std::string_view::npos) break;
    const auto inner = start + open.size();
    const auto end = body.find(close, inner);
    if (end == std::string_view::npos)
      throw Error(ErrorCode::internal,
                  "an AWS answer that sentiflow cannot read: <" + std::string(tag) + "> is not closed");
    found.push_back(body.substr(inner, end - inner));
    at = end + close.size();
  }
  return found;
}

// The decoded text of the first <tag>, or nullopt when there is none.
std::optional<std::string> xml_value(std::string_view body, std::string_view tag) {
  const auto found = xml_elements(body, tag);
  if (found.empty()) return std::nullopt;
  return xml_text(found.front());
}

}  // namespace sentiflow::aws
