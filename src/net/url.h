// URL encoding (RFC 3986) and URL templates. Pure functions, thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sentiflow {

// Percent-encodes every byte except the unreserved set A-Z a-z 0-9 - . _ ~ (RFC 3986
// section 2.3). With keep_slash, '/' stays as it is (for paths). Uppercase hex digits.
std::string url_encode(std::string_view text, bool keep_slash = false);

struct PercentDecodeOptions {
  bool plus_as_space = false;  // '+' decodes to ' ' (form encoding; S3's encoding-type=url)
  // A '%' not followed by two hex digits throws Error(invalid_input) ("a truncated %-escape",
  // "a bad %-escape"); otherwise it stays as it is.
  bool strict = false;
};

// Decodes %XX escapes (either case of hex digit) into bytes; the result need not be UTF-8.
std::string percent_decode(std::string_view text, PercentDecodeOptions options = {});

// Replaces each {name} in `url_template` by url_encode(lookup(name)). A placeholder whose
// lookup gives nullopt throws Error(invalid_input) naming it. "{{" is not special: the
// template was checked when the pipeline file was loaded.
std::string expand_url_template(std::string_view url_template,
                                const std::function<std::optional<std::string>(std::string_view)>& lookup);

// `url` as error messages and logs show it: without its query and fragment, which may carry keys
// or signatures. (Credentials in the authority are refused where URLs enter: config/values.cc.)
std::string without_query(std::string_view url);

}  // namespace sentiflow
