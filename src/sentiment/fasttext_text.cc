#include "sentiment/fasttext_text.h"

#include <array>
#include <cstddef>
#include <cstring>

namespace sentiflow::sentiment {
namespace {

enum class Kind : unsigned char { space, punctuation, joiner, word };

constexpr std::array<Kind, 256> make_kinds() {
  std::array<Kind, 256> kinds{};
  for (int c = 0; c < 256; ++c) {
    if (c <= 0x20 || c == 0x7f)
      kinds[c] = Kind::space;
    else if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
      kinds[c] = Kind::word;
    else if (c == '\'' || c == '-' || c == '.')
      kinds[c] = Kind::joiner;
    else
      kinds[c] = Kind::punctuation;
  }
  return kinds;
}
constexpr std::array<Kind, 256> kKinds = make_kinds();

constexpr std::array<char, 256> make_lower() {
  std::array<char, 256> lower{};
  for (int c = 0; c < 256; ++c) lower[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower;
}
constexpr std::array<char, 256> kLower = make_lower();

constexpr std::string_view kRightQuote = "\xE2\x80\x99";  // U+2019, the typographic apostrophe

// The byte at `i` as the tokenizer reads it: U+2019's first byte is an apostrophe (its other two
// bytes are skipped by the caller), ASCII letters are lower case.
char read_at(std::string_view text, size_t i, size_t* width) {
  if (text[i] == kRightQuote[0] && text.compare(i, kRightQuote.size(), kRightQuote) == 0) {
    *width = kRightQuote.size();
    return '\'';
  }
  *width = 1;
  const char c = text[i];
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

Kind kind_of(char c) { return kKinds[static_cast<unsigned char>(c)]; }

// The length of the clitic that ends `word` ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m"), or 0;
// a word that is only its clitic keeps it.
size_t clitic_length(std::string_view word) {
  const auto ends_with = [&](std::string_view suffix) {
    return word.size() > suffix.size() && word.substr(word.size() - suffix.size()) == suffix;
  };
  if (ends_with("n't")) return 3;
  for (const std::string_view c : {"'s", "'re", "'ve", "'ll", "'d", "'m"})
    if (ends_with(c)) return c.size();
  return 0;
}

}  // namespace

void append_fasttext_tokens(std::string& out, std::string_view text) {
  // Written through a pointer into room made up front: a byte becomes at most two ("," → ", "),
  // and a word of k >= 2 bytes at most k + 2 (its space, and a clitic's).
  const size_t base = out.size();
  out.resize(base + 2 * text.size() + 1);
  char* at = out.data() + base;
  char* word = nullptr;     // the start of the word being read
  bool apostrophe = false;  // in the word: only then can it end in a clitic
  const auto end_word = [&] {
    if (word == nullptr) return;
    if (apostrophe) {
      if (const size_t clitic = clitic_length(std::string_view(word, static_cast<size_t>(at - word)))) {
        std::memmove(at - clitic + 1, at - clitic, clitic);
        at[-static_cast<std::ptrdiff_t>(clitic)] = ' ';
        ++at;
      }
    }
    *at++ = ' ';
    word = nullptr;
    apostrophe = false;
  };
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    if (kind_of(text[i]) == Kind::word && text[i] != kRightQuote[0]) {  // the common case: a run of word bytes
      if (word == nullptr) word = at;
      do {
        *at++ = kLower[static_cast<unsigned char>(text[i])];
        ++i;
      } while (i < n && kind_of(text[i]) == Kind::word && text[i] != kRightQuote[0]);
      continue;
    }
    size_t width = 1;
    const char c = read_at(text, i, &width);
    Kind kind = kind_of(c);
    if (kind == Kind::joiner) {
      // Inside a word only between two word characters: "well-made", "it's", "3.5".
      size_t next_width = 1;
      const bool next_is_word = i + width < n && kind_of(read_at(text, i + width, &next_width)) == Kind::word;
      kind = word != nullptr && next_is_word ? Kind::word : Kind::punctuation;
    }
    if (kind == Kind::word) {
      if (word == nullptr) word = at;
      apostrophe |= c == '\'';
      *at++ = c;
    } else {
      end_word();
      if (kind == Kind::punctuation) {
        *at++ = c;
        *at++ = ' ';
      }
    }
    i += width;
  }
  end_word();
  out.resize(static_cast<size_t>(at - out.data()));
}

std::string fasttext_tokens(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  append_fasttext_tokens(out, text);
  if (!out.empty()) out.pop_back();
  return out;
}

}  // namespace sentiflow::sentiment
