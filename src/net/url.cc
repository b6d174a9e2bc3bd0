#include "net/url.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/strings.h"

namespace sentiflow {

std::string url_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

std::string percent_decode(std::string_view text, PercentDecodeOptions options) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+' && options.plus_as_space) {
      out += ' ';
    } else if (text[i] != '%') {
      out += text[i];
    } else if (i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else if (options.strict) {
      throw invalid_input(i + 2 >= text.size() ? "a truncated %-escape" : "a bad %-escape");
    } else {
      out += '%';
    }
  }
  return out;
}

std::string expand_url_template(std::string_view url_template,
                                const std::function<std::optional<std::string>(std::string_view)>& lookup) {
  std::string out;
  out.reserve(url_template.size() + 32);
  size_t i = 0;
  while (i < url_template.size()) {
    const auto open = url_template.find('{', i);
    if (open == std::string_view::npos) break;
    const auto close = url_template.find('}', open);
    if (close == std::string_view::npos) break;
    out.append(url_template.substr(i, open - i));
    const auto name = url_template.substr(open + 1, close - open - 1);
    const auto value = lookup(name);
    if (!value)
      throw invalid_input(fmt::format("the item has no attribute '{}' for the URL template {}", name, url_template));
    out += url_encode(*value);
    i = close + 1;
  }
  out.append(url_template.substr(std::min(i, url_template.size())));
  // url_encode keeps '.', so a value of "." or ".." could make a dot segment, which clients and
  // servers resolve (curl removes them, and many decode %2E first): `/page/{name}` with ".."
  // would fetch the parent of /page/. A path segment that is a dot segment, spelled with dots
  // or their escapes, is refused: the item's fetch fails, the URL's path never moves.
  const size_t authority = out.find("://");
  const size_t path_begin = out.find('/', authority == std::string::npos ? 0 : authority + 3);
  if (path_begin != std::string::npos) {
    const size_t path_end = std::min(out.find('?', path_begin), out.find('#', path_begin));
    std::string_view path = std::string_view(out).substr(path_begin, path_end - path_begin);
    while (!path.empty()) {
      path.remove_prefix(1);  // the '/'
      const std::string_view segment = path.substr(0, path.find('/'));
      const std::string decoded = to_lower_ascii(percent_decode(segment));
      if (decoded == "." || decoded == "..")
        throw invalid_input(
            fmt::format("the URL {} has a '{}' path segment: refused, it would change the URL's path", out, decoded));
      path.remove_prefix(segment.size());
    }
  }
  return out;
}

std::string without_query(std::string_view url) { return std::string(url.substr(0, url.find_first_of("?#"))); }

}  // namespace sentiflow
