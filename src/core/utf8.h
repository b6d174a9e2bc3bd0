// UTF-8 validity (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sentiflow {

// The byte offset of the first invalid sequence in `text`, or nullopt when it is valid.
std::optional<size_t> find_invalid_utf8(std::string_view text);

inline bool is_valid_utf8(std::string_view text) { return !find_invalid_utf8(text); }

// The characters of `text`: its bytes that are not continuation bytes (10xxxxxx), which for
// valid UTF-8 are its code points; of invalid UTF-8, a stray continuation byte counts nothing.
size_t count_characters(std::string_view text);

// Appends code point `c` (at most U+10FFFF) to `out` as UTF-8.
void append_utf8(std::string& out, char32_t c);

}  // namespace sentiflow
