// The VADER lexicon files, compiled into the library from data/vader/ by embed.cmake so that
// the binary needs no data files at run time. Private to the sentiment component.
#pragma once

#include <string_view>

namespace sentiflow::sentiment {

// The bytes of data/vader/vader_lexicon.txt and data/vader/emoji_utf8_lexicon.txt as they were
// at build time. Static storage; valid for the whole process.
std::string_view vader_lexicon_text();
std::string_view emoji_lexicon_text();

}  // namespace sentiflow::sentiment
