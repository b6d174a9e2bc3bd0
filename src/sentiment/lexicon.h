// The VADER lexicons in the form the scorer reads them: one immutable table from a lower-case
// word to everything the rules know about it (lexicon valence, booster scalar, negation, and an
// id for the words that rules and phrases test by name), plus the emoji descriptions.
// Private to the sentiment component.
//
// A Lexicon is built once and never changes, so one instance may be shared by any number of
// threads without locking. Lookups allocate nothing and touch little memory: the table is open
// addressing with a one-byte tag per slot, each slot holds its word's first 8 bytes, and longer
// words continue in one arena. Written for speed (a benchmark showed the lookup dominating the
// scorer); no hash map of a library gives tags, inline keys and zero-padded 8-byte comparisons.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sentiflow::sentiment {

// The words that rules test by identity. Words of the multi-word phrases (SPECIAL_CASES and the
// booster bigrams such as "sort of") get the ids after kFirstPhraseWord, in table order.
enum WordId : uint8_t {
  kNoWord = 0,  // a word no rule names
  kNo,
  kBut,
  kLeast,
  kKind,
  kOf,
  kNever,
  kSo,
  kThis,
  kWithout,
  kDoubt,
  kAt,
  kVery,
  kOr,
  kNor,
  kFirstPhraseWord,
};

// WordInfo::flags
inline constexpr uint8_t kInLexicon = 1;  // valence is the word's vader_lexicon.txt mean
inline constexpr uint8_t kBooster = 2;    // booster is the word's BOOSTER_DICT scalar
inline constexpr uint8_t kNegation = 4;   // the word is in NEGATE

struct WordInfo {
  double valence = 0;
  double booster = 0;
  uint8_t flags = 0;
  uint8_t word = kNoWord;  // a WordId or a phrase word id
};

// A multi-word phrase as word ids: SPECIAL_CASES ("the shit": 3) or a booster bigram
// ("kind of": -0.293). Compare keys made by phrase_key(); the key holds the number of words, so
// that "the shit" never matches three words that begin with it.
struct Phrase {
  uint32_t key;
  double value;
};

inline constexpr uint32_t phrase_key(uint8_t a, uint8_t b) {
  return (2u << 24) | (uint32_t{a} << 16) | (uint32_t{b} << 8);
}
inline constexpr uint32_t phrase_key(uint8_t a, uint8_t b, uint8_t c) {
  return (3u << 24) | (uint32_t{a} << 16) | (uint32_t{b} << 8) | c;
}

class Lexicon {
 public:
  // Parses vader_lexicon.txt (TOKEN TAB MEAN TAB ..., one a line) and emoji_utf8_lexicon.txt
  // (EMOJI TAB DESCRIPTION) the way vaderSentiment reads them: blank lexicon lines skipped,
  // later duplicates win, fields after the second ignored. `lexicon_name` and `emoji_name` name
  // the sources in error messages. Throws Error(invalid_input) naming the source and line for
  // invalid UTF-8, a line without a tab, or a mean that is not a number.
  Lexicon(std::string_view lexicon_text, std::string_view emoji_text, std::string_view lexicon_name,
          std::string_view emoji_name);

  // The lexicons compiled into the library (data/vader/ at build time).
  static Lexicon embedded();

  // Reads both files; an empty path means the embedded one. Throws Error(not_found) when a
  // file cannot be read, and as the constructor for bad contents.
  static Lexicon from_files(const std::string& lexicon_path, const std::string& emoji_path);

  // The hash of `length` bytes at `padded`, which must stay readable and zero up to the next
  // multiple of 8 bytes after `length`. A word of up to 8 bytes (most words) costs one multiply.
  // Callers that already hold the 8-byte words can use the three steps directly.
  static uint64_t hash(const char* padded, size_t length) {
    uint64_t h = hash_seed(length);
    for (size_t i = 0; i < length; i += 8) {
      uint64_t w;
      std::memcpy(&w, padded + i, sizeof w);
      h = hash_step(h, w);
    }
    return hash_final(h);
  }
  static constexpr uint64_t hash_seed(size_t length) { return 0x9E3779B97F4A7C15ull * (length + 1); }
  static constexpr uint64_t hash_step(uint64_t h, uint64_t w) {
    return (h ^ w) * 0xBF58476D1CE4E5B9ull;  // the high bits depend on every bit so far
  }
  static constexpr uint64_t hash_final(uint64_t h) { return h ^ (h >> 31); }

  // What the table knows about the lower-case word `word` whose hash() is `h`; nullptr for a
  // word it does not know. `word` must be zero-padded like hash()'s input. The pointer stays
  // valid as long as the Lexicon.
  //
  // A one-byte tag per slot (16 KiB for the built-in lexicon, so it stays in the L1 cache)
  // settles most probes, in particular for the many words that are not in the table; a slot
  // holds the word's first 8 bytes and length, so a match costs one more access (two for a word
  // longer than 8 bytes). The WordInfo of a slot sits at the same index of infos_.
  const WordInfo* find(std::string_view word, uint64_t h) const {
    uint64_t head;
    std::memcpy(&head, word.data(), sizeof head);
    const uint8_t tag = tag_of(h);
    for (size_t slot = h >> shift_;; slot = (slot + 1) & mask_) {
      const uint8_t t = tags_[slot];
      if (t == 0) return nullptr;
      if (t != tag) continue;
      const Slot& s = slots_[slot];
      if (s.length == word.size() && s.head == head &&
          (word.size() <= 8 || same_padded(arena_.data() + s.tail, word.data() + 8, word.size() - 8)))
        return &infos_[slot];
    }
  }

  // Convenience for tests and tools: find() of any word, which need not be lower case.
  const WordInfo* find(std::string_view word) const;

  // No word longer than this (in bytes) is in the table.
  size_t max_word_length() const { return max_word_length_; }

  // The description that replaces the emoji `c`, or nullopt when `c` is not one. Only
  // one-code-point emoji can match: the reference looks at one character at a time.
  std::optional<std::string_view> emoji_description(char32_t c) const;

  // Whether an emoji is an ASCII character (never in the built-in table; possible in a custom one).
  bool has_ascii_emoji() const { return !emoji_.empty() && emoji_.front().code_point < 0x80; }

  // The phrase value for `key`, or nullptr.
  const double* special_case(uint32_t key) const { return find_phrase(special_cases_, key); }
  const double* booster_phrase(uint32_t key) const { return find_phrase(booster_phrases_, key); }

  // Entries of vader_lexicon.txt (after duplicates) and of the emoji table.
  size_t lexicon_size() const { return lexicon_size_; }
  size_t emoji_count() const { return emoji_.size(); }

 private:
  struct Slot {
    uint64_t head = 0;  // the word's first 8 bytes, zero-padded
    uint32_t tail = 0;  // the offset in arena_ of its bytes after the 8th (a multiple of 8)
    uint32_t length = 0;
  };
  // Seven bits of the hash (not those that pick the slot), never 0, which marks an empty slot.
  static constexpr uint8_t tag_of(uint64_t h) { return static_cast<uint8_t>(((h >> 24) & 0x7F) | 0x80); }
  struct Emoji {
    char32_t code_point;
    uint32_t offset, length;  // of the description in arena_
  };

  friend class LexiconBuilder;  // lexicon.cc: parses the files and lays out the table
  Lexicon() = default;
  // Whether two zero-padded byte strings of `length` bytes are equal, 8 bytes at a time.
  static bool same_padded(const char* a, const char* b, size_t length) {
    for (size_t i = 0; i < length; i += 8) {
      uint64_t x, y;
      std::memcpy(&x, a + i, sizeof x);
      std::memcpy(&y, b + i, sizeof y);
      if (x != y) return false;
    }
    return true;
  }
  static const double* find_phrase(const std::vector<Phrase>& phrases, uint32_t key) {
    for (const Phrase& p : phrases)
      if (p.key == key) return &p.value;
    return nullptr;
  }

  std::string arena_;          // words' tails (each zero-padded to a multiple of 8 bytes), emoji descriptions
  std::vector<uint8_t> tags_;  // tags_[i], slots_[i] and infos_[i] describe one slot
  std::vector<Slot> slots_;
  std::vector<WordInfo> infos_;
  size_t mask_ = 0;
  int shift_ = 64;  // a hash's top bits pick its first slot
  size_t max_word_length_ = 0;
  size_t lexicon_size_ = 0;
  uint8_t next_phrase_word_ = kFirstPhraseWord;
  std::vector<Emoji> emoji_;  // sorted by code point
  std::vector<Phrase> special_cases_;
  std::vector<Phrase> booster_phrases_;
};

}  // namespace sentiflow::sentiment
