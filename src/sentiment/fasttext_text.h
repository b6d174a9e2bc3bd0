// The one preprocessing of the fastText engine: what `sentiflow train` writes for every training
// text and what FastTextAnalyzer gives the model for every document, so that the two can never
// read a text differently (docs/SENTIMENT.md, "fastText: preprocessing"). Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace sentiflow::sentiment {

// Appends the tokens of `text` to `out`, each followed by one space:
//  - ASCII letters are lower-cased; other bytes (UTF-8) are kept as they are, except that the
//    right single quotation mark (U+2019) is read as an apostrophe;
//  - whitespace and control characters separate tokens;
//  - each ASCII punctuation character is a token of its own, except that an apostrophe, a hyphen
//    or a period between two word characters stays inside its word ("well-made", "3.5");
//  - the clitics of SST's (Penn Treebank's) tokenisation are split off a word: "n't" ("doesn't"
//    → "does n't") and "'s 're 've 'll 'd 'm" ("it's" → "it 's").
// So "It's NOT well-made!!" becomes "it 's not well-made ! ! ". `text` must be valid UTF-8 (the
// caller checks); no token holds a space, a newline or a control character, and none starts
// with fastText's "__label__" (an underscore is punctuation).
void append_fasttext_tokens(std::string& out, std::string_view text);

// The same into a new string, without the trailing space.
std::string fasttext_tokens(std::string_view text);

}  // namespace sentiflow::sentiment
