// The VADER algorithm, ported from vaderSentiment 3.3.x (vaderSentiment.py, C.J. Hutto, MIT).
//
// The structure follows the reference function by function (polarity_scores, sentiment_valence,
// _negation_check, _special_idioms_check, _least_check, _but_check, score_valence) so that the
// two can be read side by side; every arithmetic step is done in the same order on the same
// doubles, which is what makes the results equal to the last digit. Where the reference does
// something surprising, the comment says so and the code does it too: the parity vectors and
// docs/SENTIMENT.md depend on it.
//
// What differs is the machinery: one pass over the bytes finds the words, each word is
// lower-cased 8 bytes at a time in registers and looked up once (one hash probe), and the rules
// compare word ids instead of joining and comparing strings. Nothing is allocated per word.
#include "sentiment/vader.h"

#include <fmt/format.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "core/utf8.h"
#include "sentiment/lexicon.h"
#include "sentiment/python_text.h"

namespace sentiflow::sentiment {
namespace {

// The reference's empirically derived constants.
constexpr double kCapsIncrement = 0.733;   // C_INCR: a lexicon or booster word in ALL CAPS
constexpr double kNegationScalar = -0.74;  // N_SCALAR
constexpr double kExclamationIncrement = 0.292;
constexpr double kQuestionIncrement = 0.18;
constexpr double kQuestionMaximum = 0.96;
constexpr double kAlpha = 15;  // normalize()

// Token::flags beyond the WordInfo ones.
constexpr uint8_t kUpperWord = 0x10;  // str.isupper() of the word as written

struct Token {
  double valence;
  double booster;
  uint8_t flags;  // kInLexicon, kBooster, kNegation (NEGATE or contains "n't"), kUpperWord
  uint8_t word;   // WordId or phrase word id
};

// Classes of bytes. Python's str.split() also splits at 0x1C-0x1F; string.punctuation is
// exactly the 32 printable ASCII symbols; bytes from 0x80 on start or continue a multi-byte
// character, which takes the slow path.
constexpr uint8_t kSpaceByte = 1, kPunctuationByte = 2, kUpperByte = 4, kLowerByte = 8, kApostropheByte = 16,
                  kNonAsciiByte = 32;
constexpr std::array<uint8_t, 256> kBytes = [] {
  std::array<uint8_t, 256> table{};
  for (int c = 0x09; c <= 0x0D; ++c) table[c] = kSpaceByte;
  for (int c = 0x1C; c <= 0x20; ++c) table[c] = kSpaceByte;
  for (const char c : std::string_view("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"))
    table[static_cast<size_t>(c)] = kPunctuationByte;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = kUpperByte;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = kLowerByte;
  table['\''] |= kApostropheByte;
  for (int c = 0x80; c <= 0xFF; ++c) table[c] = kNonAsciiByte;
  return table;
}();
constexpr std::array<unsigned char, 128> kLowerAscii = [] {
  std::array<unsigned char, 128> table{};
  for (int c = 0; c < 128; ++c) table[c] = static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  return table;
}();

// How many bytes of the 8 in `w` equal the byte `c` (exact: no false positives from borrows).
inline uint64_t count_bytes(uint64_t w, unsigned char c) {
  constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7Full, kOnes = 0x0101010101010101ull;
  const uint64_t t = w ^ (kOnes * c);                          // zero bytes where w had c
  const uint64_t zero = ~(((t & kLow7) + kLow7) | t | kLow7);  // 0x80 in exactly those bytes
  return ((zero >> 7) * kOnes) >> 56;                          // the number of 0x80s
}

// The offset of the first byte >= 0x80, or text.size().
size_t first_non_ascii(std::string_view text) {
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, text.data() + i, sizeof w);
    if ((w & 0x8080808080808080ull) != 0) break;
  }
  while (i < text.size() && static_cast<unsigned char>(text[i]) < 0x80) ++i;
  return i;
}

bool contains_nt(std::string_view lowered) { return lowered.find("n't") != std::string_view::npos; }

// "n't" in the lower case of ASCII bytes.
bool contains_nt_ascii(const unsigned char* p, size_t length) {
  for (size_t k = 0; k + 2 < length; ++k)
    if (p[k + 1] == '\'' && (p[k] | 0x20) == 'n' && (p[k + 2] | 0x20) == 't') return true;
  return false;
}

// Masks that keep the first n bytes (in memory order) of an 8-byte word.
constexpr std::array<uint64_t, 8> kLowBytes = [] {
  std::array<uint64_t, 8> masks{};
  for (size_t n = 0; n < 8; ++n) {
    unsigned char bytes[8] = {};
    for (size_t k = 0; k < n; ++k) bytes[k] = 0xFF;
    masks[n] = std::bit_cast<uint64_t>(bytes);
  }
  return masks;
}();

// Lower-cases the 8 ASCII bytes of `w` at once: 0x20 is added to the bytes in 'A'..'Z'. No byte
// is 0x80 or more, so the additions cannot carry into the next byte.
constexpr uint64_t lower_ascii_word(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  const uint64_t at_least_a = w + kOnes * (0x80 - 'A');          // high bit set when byte >= 'A'
  const uint64_t beyond_z = w + kOnes * (0x80 - 'Z' - 1);        // high bit set when byte > 'Z'
  return w | (((at_least_a ^ beyond_z) & (kOnes * 0x80)) >> 2);  // 0x80 >> 2 == 0x20
}
static_assert(lower_ascii_word(0x5A41405B7A617E20ull) == 0x7A61405B7A617E20ull);

// Scratch space for one thread's documents; reused from one document to the next so that
// nothing is allocated per word (the vectors only grow to the longest document seen).
struct Workspace {
  std::string text;           // the text with emoji replaced by their descriptions
  std::string word;           // the current word in lower case (beyond ASCII), zero-padded
  std::vector<Token> tokens;  // the first Scorer::count_ are the text's
  std::vector<double> sentiments;
  std::vector<uint32_t> nonzero;  // _but_check: positions of non-zero sentiments
  size_t exclamations = 0;
  size_t questions = 0;
};

// Scores one text as vaderSentiment's polarity_scores() does, on a borrowed Lexicon and
// Workspace. Some 400 lines, because it has one method for each function of the reference
// (the tokenizer, the valence of a word and each of its checks, _but_check, the final sums),
// so that each can be read against the Python it reproduces.
class Scorer {
 public:
  Scorer(const Lexicon& lexicon, Workspace& ws) : lexicon_(lexicon), ws_(ws) {}

  // polarity_scores(): nullopt, or the offset of the first invalid UTF-8 byte.
  std::optional<size_t> score(std::string_view text, VaderScores& out) {
    const size_t ascii_end = first_non_ascii(text);
    if (ascii_end < text.size()) {
      if (const auto bad = find_invalid_utf8(text.substr(ascii_end))) return ascii_end + *bad;
    }
    // The built-in emoji are all beyond ASCII, so ASCII text (most text) skips this step.
    if (ascii_end < text.size() || lexicon_.has_ascii_emoji())
      text = replace_emoji(text, lexicon_.has_ascii_emoji() ? 0 : ascii_end);
    // The reference strips the text here; split() and count() make that invisible.
    tokenize(text);
    compute_sentiments();
    but_check();
    score_valence(out);
    return std::nullopt;
  }

 private:
  // polarity_scores()'s first loop: every emoji character becomes its description, preceded by
  // a space unless the previous character was ' ' (only U+0020 counts), and followed by
  // nothing, so "😀!" becomes "grinning face!" and "a😀b" becomes "a grinning faceb".
  // `text` has no emoji before `from`.
  std::string_view replace_emoji(std::string_view text, size_t from) {
    std::string& out = ws_.text;
    out.assign(text.substr(0, from));
    bool previous_space = from == 0 || text[from - 1] == ' ';
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    for (const auto* q = p + from; q < end;) {
      size_t length = 0;
      const char32_t c = python_text::decode(q, end, length);
      if (const auto description = lexicon_.emoji_description(c)) {
        if (!previous_space) out.push_back(' ');
        out += *description;
        previous_space = false;
      } else {
        out.append(reinterpret_cast<const char*>(q), length);
        previous_space = c == ' ';
      }
      q += length;
    }
    return out;
  }

  // SentiText._words_and_emoticons(): text.split(), then each token stripped of leading and
  // trailing string.punctuation unless that leaves two characters or fewer (emoticons such as
  // ":)" or ":D" survive whole). Also counts '!' and '?' for _punctuation_emphasis.
  void tokenize(std::string_view text) {
    // A token takes at least one byte and a separator: room for all of them, allocated only
    // when a text is longer than any before.
    if (ws_.tokens.size() < text.size() / 2 + 1) ws_.tokens.resize(text.size() / 2 + 1);
    count_ = 0;
    count_marks(text);
    allcaps_ = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    size_t i = 0;
    while (true) {
      // Skip whitespace.
      while (i < n) {
        if (p[i] < 0x80) {
          if ((kBytes[p[i]] & kSpaceByte) == 0) break;
          ++i;
        } else {
          size_t length = 0;
          if (!python_text::is_space(python_text::decode(p + i, p + n, length))) break;
          i += length;
        }
      }
      if (i >= n) return;
      // One pass over the token classifies its bytes and finds where the punctuation at its
      // ends stops; only the loop's exit is a data-dependent branch for ASCII.
      const size_t start = i;
      size_t first = n, last = start;  // the bytes that are not ASCII punctuation: [first, last)
      uint8_t seen = 0;                // the classes of the token's ASCII bytes
      bool ascii = true;
      while (i < n) {
        const uint8_t cls = kBytes[p[i]];
        if (cls & (kSpaceByte | kNonAsciiByte)) {
          if ((cls & kNonAsciiByte) == 0) break;
          size_t length = 0;
          if (python_text::is_space(python_text::decode(p + i, p + n, length))) break;
          ascii = false;
          first = std::min(first, i);
          i += length;
          last = i;
          continue;
        }
        seen |= cls;
        const bool kept = (cls & kPunctuationByte) == 0;
        first = std::min(first, kept ? i : n);
        last = kept ? i + 1 : last;
        ++i;
      }
      add_token(text, start, i, first < i ? first : i, first < i ? last : i, seen, ascii);
    }
  }

  // _amplify_ep() and _amplify_qm(): '!' and '?' anywhere in the text, 8 bytes at a time.
  void count_marks(std::string_view text) {
    size_t exclamations = 0, questions = 0, i = 0;
    for (; i + 8 <= text.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, text.data() + i, sizeof w);
      exclamations += count_bytes(w, '!');
      questions += count_bytes(w, '?');
    }
    for (; i < text.size(); ++i) {
      exclamations += text[i] == '!';
      questions += text[i] == '?';
    }
    ws_.exclamations = exclamations;
    ws_.questions = questions;
  }

  // One token, [start, end) of `text`, whose bytes outside [a, z) are ASCII punctuation.
  void add_token(std::string_view text, size_t start, size_t end, size_t a, size_t z, uint8_t seen, bool ascii) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    size_t characters = z - a;
    if (!ascii)
      for (size_t k = a; k < z; ++k) characters -= (p[k] & 0xC0) == 0x80;
    if (characters <= 2) a = start, z = end;

    Token token{0, 0, 0, kNoWord};
    bool upper = false, nt = false;
    const WordInfo* info = nullptr;
    if (ascii) {
      // Punctuation has no case, so the token's letters are the word's.
      upper = (seen & kUpperByte) != 0 && (seen & kLowerByte) == 0;
      info = find_ascii(text, a, z - a);
      nt = (seen & kApostropheByte) != 0 && contains_nt_ascii(p + a, z - a);
    } else {
      const std::string_view original = text.substr(a, z - a);
      upper = python_text::is_upper(original);
      std::string& lowered = ws_.word;
      lowered.clear();
      python_text::append_lower(lowered, original);
      const size_t length = lowered.size();
      lowered.resize(length + 8, '\0');  // zero padding for Lexicon::hash and find
      const std::string_view word(lowered.data(), length);
      if (length <= lexicon_.max_word_length()) info = lexicon_.find(word, Lexicon::hash(word.data(), length));
      nt = contains_nt(word);
    }
    if (info != nullptr) token = {info->valence, info->booster, info->flags, info->word};
    if (upper) {
      token.flags |= kUpperWord;
      ++allcaps_;
    }
    // negated(): a word in NEGATE, or any word containing "n't".
    if (nt) token.flags |= kNegation;
    ws_.tokens[count_++] = token;
  }

  // The lexicon entry of the ASCII word at text[a, a + length) in lower case. Words of up to 64
  // bytes are lowered 8 bytes at a time in registers (SWAR) and hashed as they are; writing
  // them byte by byte and reading them back as 8-byte words would stall on store forwarding.
  const WordInfo* find_ascii(std::string_view text, size_t a, size_t length) {
    if (length > lexicon_.max_word_length()) return nullptr;
    if (length > 64) {  // only a custom lexicon has such words
      std::string& lowered = ws_.word;
      lowered.assign(text.substr(a, length));
      for (char& c : lowered) c = static_cast<char>(kLowerAscii[static_cast<unsigned char>(c)]);
      lowered.resize(length + 8, '\0');
      return lexicon_.find(std::string_view(lowered.data(), length), Lexicon::hash(lowered.data(), length));
    }
    uint64_t words[8];
    uint64_t h = Lexicon::hash_seed(length);
    size_t k = 0;
    for (size_t offset = 0; offset < length; offset += 8, ++k) {
      uint64_t w = 0;
      const size_t available = text.size() - (a + offset);
      std::memcpy(&w, text.data() + a + offset, available >= 8 ? 8 : available);
      const size_t rest = length - offset;
      if (rest < 8) w &= kLowBytes[rest];  // keep the word's bytes, zero the others
      w = lower_ascii_word(w);
      words[k] = w;
      h = Lexicon::hash_step(h, w);
    }
    return lexicon_.find(std::string_view(reinterpret_cast<const char*>(words), length), Lexicon::hash_final(h));
  }

  // polarity_scores()'s main loop and sentiment_valence().
  void compute_sentiments() {
    const Token* t = ws_.tokens.data();
    const size_t n = count_;
    // allcap_differential(): some, but not all, words are ALL CAPS.
    cap_differential_ = allcaps_ > 0 && allcaps_ < n;
    ws_.sentiments.resize(n);
    for (size_t i = 0; i < n; ++i) {
      double valence = 0;
      if (t[i].flags & kBooster) {
        // a booster word carries no sentiment of its own, even when it is in the lexicon
      } else if (i + 1 < n && t[i].word == kKind && t[i + 1].word == kOf) {
        // "kind of": neither word is scored ("of" never is: it is not in the lexicon)
      } else if (t[i].flags & kInLexicon) {
        valence = sentiment_valence(i);
      }
      ws_.sentiments[i] = valence;
    }
  }

  double sentiment_valence(size_t i) const {
    const Token* t = ws_.tokens.data();
    const size_t n = count_;
    double valence = t[i].valence;
    // "no" before another lexicon word is a negation, not a sentiment of its own.
    if (t[i].word == kNo && i != n - 1 && (t[i + 1].flags & kInLexicon)) valence = 0.0;
    if ((i > 0 && t[i - 1].word == kNo) || (i > 1 && t[i - 2].word == kNo) ||
        (i > 2 && t[i - 3].word == kNo && (t[i - 1].word == kOr || t[i - 1].word == kNor)))
      valence = t[i].valence * kNegationScalar;
    if ((t[i].flags & kUpperWord) && cap_differential_) {
      if (valence > 0)
        valence += kCapsIncrement;
      else
        valence -= kCapsIncrement;  // also when valence is 0 (a capitalised "NO" before a word)
    }
    for (size_t start = 0; start < 3; ++start) {
      // Preceding words that are themselves in the lexicon neither boost nor negate.
      if (i > start && (t[i - (start + 1)].flags & kInLexicon) == 0) {
        double s = scalar_inc_dec(t[i - (start + 1)], valence);
        if (start == 1 && s != 0) s = s * 0.95;
        if (start == 2 && s != 0) s = s * 0.9;
        valence = valence + s;
        valence = negation_check(valence, start, i);
        if (start == 2) valence = special_idioms_check(valence, i);
      }
    }
    return least_check(valence, i);
  }

  double scalar_inc_dec(const Token& word, double valence) const {
    double scalar = 0.0;
    if (word.flags & kBooster) {
      scalar = word.booster;
      if (valence < 0) scalar *= -1;
      if ((word.flags & kUpperWord) && cap_differential_) {
        if (valence > 0)
          scalar += kCapsIncrement;
        else
          scalar -= kCapsIncrement;
      }
    }
    return scalar;
  }

  double negation_check(double valence, size_t start, size_t i) const {
    const Token* t = ws_.tokens.data();
    const auto negated = [](const Token& w) { return (w.flags & kNegation) != 0; };
    if (start == 0) {
      if (negated(t[i - 1])) valence = valence * kNegationScalar;
    } else if (start == 1) {
      if (t[i - 2].word == kNever && (t[i - 1].word == kSo || t[i - 1].word == kThis)) {
        valence = valence * 1.25;
      } else if (t[i - 2].word == kWithout && t[i - 1].word == kDoubt) {
        // "without doubt" is not a negation
      } else if (negated(t[i - 2])) {
        valence = valence * kNegationScalar;
      }
    } else {
      // The reference's condition reads `A and (B or C) or (D or E)`: Python's precedence makes
      // the second half stand alone, so "so" or "this" just before the word boosts it by 1.25
      // whenever the third word back is not in the lexicon, with or without a "never".
      if ((t[i - 3].word == kNever && (t[i - 2].word == kSo || t[i - 2].word == kThis)) ||
          (t[i - 1].word == kSo || t[i - 1].word == kThis)) {
        valence = valence * 1.25;
      } else if (t[i - 3].word == kWithout && (t[i - 2].word == kDoubt || t[i - 1].word == kDoubt)) {
        // not a negation
      } else if (negated(t[i - 3])) {
        valence = valence * kNegationScalar;
      }
    }
    return valence;
  }

  // _special_idioms_check(): only reached for i > 2 when the third word back is not in the
  // lexicon, as in the reference.
  double special_idioms_check(double valence, size_t i) const {
    const Token* t = ws_.tokens.data();
    const size_t n = count_;
    const uint8_t w3 = t[i - 3].word, w2 = t[i - 2].word, w1 = t[i - 1].word, w0 = t[i].word;
    const uint32_t one_zero = phrase_key(w1, w0), two_one_zero = phrase_key(w2, w1, w0), two_one = phrase_key(w2, w1),
                   three_two_one = phrase_key(w3, w2, w1), three_two = phrase_key(w3, w2);
    for (const uint32_t sequence : {one_zero, two_one_zero, two_one, three_two_one, three_two}) {
      if (const double* value = lexicon_.special_case(sequence)) {
        valence = *value;
        break;
      }
    }
    if (n - 1 > i) {
      if (const double* value = lexicon_.special_case(phrase_key(w0, t[i + 1].word))) valence = *value;
    }
    if (n - 1 > i + 1) {
      if (const double* value = lexicon_.special_case(phrase_key(w0, t[i + 1].word, t[i + 2].word))) valence = *value;
    }
    // Booster bigrams such as "kind of" before the word add their (negative) scalar whatever
    // the word's sign.
    for (const uint32_t ngram : {three_two_one, three_two, two_one}) {
      if (const double* value = lexicon_.booster_phrase(ngram)) valence = valence + *value;
    }
    return valence;
  }

  double least_check(double valence, size_t i) const {
    const Token* t = ws_.tokens.data();
    if (i > 1 && (t[i - 1].flags & kInLexicon) == 0 && t[i - 1].word == kLeast) {
      if (t[i - 2].word != kAt && t[i - 2].word != kVery) valence = valence * kNegationScalar;
    } else if (i > 0 && (t[i - 1].flags & kInLexicon) == 0 && t[i - 1].word == kLeast) {
      valence = valence * kNegationScalar;
    }
    return valence;
  }

  // _but_check(): sentiments before the first "but" are halved, those after it grow by half.
  // The reference finds each value's position with list.index(value), which returns the
  // *first* position holding an equal value, so with repeated values it scales an earlier word
  // again and leaves the later one alone. That is reproduced exactly: for the k-th value, the
  // first position currently holding it is scaled. Zeros are skipped (scaling them changes
  // nothing). Few non-zero values (every real sentence) take a direct scan; more take ordered
  // sets, so a pathological text stays O(n log n).
  void but_check() {
    const Token* t = ws_.tokens.data();
    size_t but = count_;
    for (size_t i = 0; i < count_; ++i)
      if (t[i].word == kBut) {
        but = i;
        break;
      }
    if (but == count_) return;
    std::vector<double>& s = ws_.sentiments;
    std::vector<uint32_t>& nonzero = ws_.nonzero;
    nonzero.clear();
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] != 0) nonzero.push_back(static_cast<uint32_t>(i));
    const auto scaled = [but](size_t position, double value) {
      return position < but ? value * 0.5 : position > but ? value * 1.5 : value;
    };
    if (nonzero.size() <= 64) {
      for (size_t q = 0; q < nonzero.size(); ++q) {
        const double value = s[nonzero[q]];
        size_t p = 0;
        while (s[nonzero[p]] != value) ++p;  // stops at q at the latest
        s[nonzero[p]] = scaled(nonzero[p], value);
      }
      return;
    }
    std::map<double, std::set<uint32_t>> holders;
    for (const uint32_t i : nonzero) holders[s[i]].insert(i);
    for (const uint32_t k : nonzero) {
      const double value = s[k];  // position k has not been scaled yet: only earlier ones have
      auto& positions = holders[value];
      const uint32_t first = *positions.begin();
      positions.erase(positions.begin());
      s[first] = scaled(first, value);
      holders[s[first]].insert(first);
    }
  }

  // score_valence() and _sift_sentiment_scores().
  void score_valence(VaderScores& out) const {
    const std::vector<double>& sentiments = ws_.sentiments;
    if (sentiments.empty()) {
      out = {};
      return;
    }
    double sum = 0;  // Python 3.11's sum(): plain left-to-right addition
    for (const double s : sentiments) sum += s;
    const size_t exclamations = std::min<size_t>(ws_.exclamations, 4);
    double question_amplifier = 0;
    if (ws_.questions > 1) {
      question_amplifier =
          ws_.questions <= 3 ? static_cast<double>(ws_.questions) * kQuestionIncrement : kQuestionMaximum;
    }
    const double amplifier = static_cast<double>(exclamations) * kExclamationIncrement + question_amplifier;
    if (sum > 0)
      sum += amplifier;
    else if (sum < 0)
      sum -= amplifier;
    double compound = sum / std::sqrt((sum * sum) + kAlpha);
    compound = compound < -1.0 ? -1.0 : compound > 1.0 ? 1.0 : compound;

    double pos_sum = 0.0, neg_sum = 0.0;
    size_t neu_count = 0;
    for (const double s : sentiments) {
      if (s > 0) pos_sum += (s + 1);  // compensates for neutral words, counted as 1
      if (s < 0) neg_sum += (s - 1);
      if (s == 0) neu_count += 1;
    }
    if (pos_sum > std::fabs(neg_sum))
      pos_sum += amplifier;
    else if (pos_sum < std::fabs(neg_sum))
      neg_sum -= amplifier;
    const double total = pos_sum + std::fabs(neg_sum) + static_cast<double>(neu_count);
    out.pos = python_text::round(std::fabs(pos_sum / total), 3);
    out.neg = python_text::round(std::fabs(neg_sum / total), 3);
    out.neu = python_text::round(std::fabs(static_cast<double>(neu_count) / total), 3);
    out.compound = python_text::round(compound, 4);
  }

  const Lexicon& lexicon_;
  Workspace& ws_;
  size_t allcaps_ = 0;
  bool cap_differential_ = false;
  size_t count_ = 0;  // tokens of the current text
};

Error invalid_utf8(size_t offset) { return invalid_input(fmt::format("invalid UTF-8 at byte {}", offset)); }

}  // namespace

VaderAnalyzer::VaderAnalyzer(const Options& options)
    : lexicon_(
          std::make_shared<const Lexicon>(options.lexicon_file.empty() && options.emoji_lexicon_file.empty()
                                              ? Lexicon::embedded()
                                              : Lexicon::from_files(options.lexicon_file, options.emoji_lexicon_file))),
      mixed_threshold_(options.mixed_threshold) {
  check_mixed_threshold(mixed_threshold_);
}

VaderAnalyzer::VaderAnalyzer() : VaderAnalyzer(Options()) {}

VaderAnalyzer::~VaderAnalyzer() = default;

void VaderAnalyzer::analyze(std::span<const std::string_view> documents, std::span<Result> results) const {
  if (documents.size() != results.size())
    throw Error(ErrorCode::internal,
                fmt::format("analyze: {} documents but room for {} results", documents.size(), results.size()));
  Workspace ws;
  Scorer scorer(*lexicon_, ws);
  for (size_t i = 0; i < documents.size(); ++i) {
    VaderScores scores;
    Result& result = results[i];
    if (const auto bad = scorer.score(documents[i], scores)) {
      result.sentiment = Sentiment{};
      result.error = invalid_utf8(*bad);
    } else {
      result.sentiment = to_comprehend_shape(scores, mixed_threshold_);
      result.error.reset();
    }
  }
}

VaderScores VaderAnalyzer::polarity_scores(std::string_view text) const {
  Workspace ws;
  VaderScores scores;
  if (const auto bad = Scorer(*lexicon_, ws).score(text, scores)) throw invalid_utf8(*bad);
  return scores;
}

}  // namespace sentiflow::sentiment
