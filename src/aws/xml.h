// Reading the small XML documents AWS answers with (S3's listings and uploads, every service's
// <Error> documents): elements by tag name, the five named entities and numeric character
// references. Not a general XML parser — no namespaces, attributes or CDATA — which AWS's
// answers do not need. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sentiflow::aws {

// The raw contents of every <tag>...</tag> in `body`, in order; <tag/> counts as empty. Throws
// Error(internal) for an element that is not closed.
std::vector<std::string_view> xml_elements(std::string_view body, std::string_view tag);

// `text` with the named entities and numeric references (&#38; &#x26;) replaced. Throws
// Error(internal) for an unknown or unterminated entity or a bad character reference.
std::string xml_text(std::string_view text);

// The decoded text of the first <tag>, or nullopt when there is none.
std::optional<std::string> xml_value(std::string_view body, std::string_view tag);

}  // namespace sentiflow::aws
