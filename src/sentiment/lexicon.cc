#include "sentiment/lexicon.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "core/utf8.h"
#include "sentiment/embedded_lexicons.h"
#include "sentiment/python_text.h"

namespace sentiflow::sentiment {
namespace {

// The reference's word lists, verbatim from vaderSentiment 3.3.x (vaderSentiment.py).
constexpr double kBoosterIncrement = 0.293;   // B_INCR
constexpr double kBoosterDecrement = -0.293;  // B_DECR

constexpr const char* kNegate[] = {
    "aint",    "arent",    "cannot",  "cant",    "couldnt", "darent",   "didnt",   "doesnt",    "ain't",    "aren't",
    "can't",   "couldn't", "daren't", "didn't",  "doesn't", "dont",     "hadnt",   "hasnt",     "havent",   "isnt",
    "mightnt", "mustnt",   "neither", "don't",   "hadn't",  "hasn't",   "haven't", "isn't",     "mightn't", "mustn't",
    "neednt",  "needn't",  "never",   "none",    "nope",    "nor",      "not",     "nothing",   "nowhere",  "oughtnt",
    "shant",   "shouldnt", "uhuh",    "wasnt",   "werent",  "oughtn't", "shan't",  "shouldn't", "uh-uh",    "wasn't",
    "weren't", "without",  "wont",    "wouldnt", "won't",   "wouldn't", "rarely",  "seldom",    "despite",
};

struct Scalar {
  const char* words;
  double value;
};

constexpr Scalar kBoosters[] = {
    // BOOSTER_DICT
    {"absolutely", kBoosterIncrement},    {"amazingly", kBoosterIncrement},    {"awfully", kBoosterIncrement},
    {"completely", kBoosterIncrement},    {"considerable", kBoosterIncrement}, {"considerably", kBoosterIncrement},
    {"decidedly", kBoosterIncrement},     {"deeply", kBoosterIncrement},       {"effing", kBoosterIncrement},
    {"enormous", kBoosterIncrement},      {"enormously", kBoosterIncrement},   {"entirely", kBoosterIncrement},
    {"especially", kBoosterIncrement},    {"exceptional", kBoosterIncrement},  {"exceptionally", kBoosterIncrement},
    {"extreme", kBoosterIncrement},       {"extremely", kBoosterIncrement},    {"fabulously", kBoosterIncrement},
    {"flipping", kBoosterIncrement},      {"flippin", kBoosterIncrement},      {"frackin", kBoosterIncrement},
    {"fracking", kBoosterIncrement},      {"fricking", kBoosterIncrement},     {"frickin", kBoosterIncrement},
    {"frigging", kBoosterIncrement},      {"friggin", kBoosterIncrement},      {"fully", kBoosterIncrement},
    {"fuckin", kBoosterIncrement},        {"fucking", kBoosterIncrement},      {"fuggin", kBoosterIncrement},
    {"fugging", kBoosterIncrement},       {"greatly", kBoosterIncrement},      {"hella", kBoosterIncrement},
    {"highly", kBoosterIncrement},        {"hugely", kBoosterIncrement},       {"incredible", kBoosterIncrement},
    {"incredibly", kBoosterIncrement},    {"intensely", kBoosterIncrement},    {"major", kBoosterIncrement},
    {"majorly", kBoosterIncrement},       {"more", kBoosterIncrement},         {"most", kBoosterIncrement},
    {"particularly", kBoosterIncrement},  {"purely", kBoosterIncrement},       {"quite", kBoosterIncrement},
    {"really", kBoosterIncrement},        {"remarkably", kBoosterIncrement},   {"so", kBoosterIncrement},
    {"substantially", kBoosterIncrement}, {"thoroughly", kBoosterIncrement},   {"total", kBoosterIncrement},
    {"totally", kBoosterIncrement},       {"tremendous", kBoosterIncrement},   {"tremendously", kBoosterIncrement},
    {"uber", kBoosterIncrement},          {"unbelievably", kBoosterIncrement}, {"unusually", kBoosterIncrement},
    {"utter", kBoosterIncrement},         {"utterly", kBoosterIncrement},      {"very", kBoosterIncrement},
    {"almost", kBoosterDecrement},        {"barely", kBoosterDecrement},       {"hardly", kBoosterDecrement},
    {"just enough", kBoosterDecrement},   {"kind of", kBoosterDecrement},      {"kinda", kBoosterDecrement},
    {"kindof", kBoosterDecrement},        {"kind-of", kBoosterDecrement},      {"less", kBoosterDecrement},
    {"little", kBoosterDecrement},        {"marginal", kBoosterDecrement},     {"marginally", kBoosterDecrement},
    {"occasional", kBoosterDecrement},    {"occasionally", kBoosterDecrement}, {"partly", kBoosterDecrement},
    {"scarce", kBoosterDecrement},        {"scarcely", kBoosterDecrement},     {"slight", kBoosterDecrement},
    {"slightly", kBoosterDecrement},      {"somewhat", kBoosterDecrement},     {"sort of", kBoosterDecrement},
    {"sorta", kBoosterDecrement},         {"sortof", kBoosterDecrement},       {"sort-of", kBoosterDecrement},
};

// SPECIAL_CASES. "badass" is there too in the reference, but the reference only ever looks up
// sequences of two or three words joined by a space, so a one-word entry can never match.
constexpr Scalar kSpecialCases[] = {
    {"the shit", 3},    {"the bomb", 3},         {"bad ass", 1.5},  {"badass", 1.5},        {"bus stop", 0.0},
    {"yeah right", -2}, {"kiss of death", -1.5}, {"to die for", 3}, {"beating heart", 3.1}, {"broken heart", -2.9},
};
// SENTIMENT_LADEN_IDIOMS ("cut the mustard", ...) is not here: the reference defines it and a
// method for it but never calls that method, so idioms without lexicon words score nothing.

constexpr struct {
  const char* word;
  WordId id;
} kControlWords[] = {
    {"no", kNo},       {"but", kBut},   {"least", kLeast}, {"kind", kKind},       {"of", kOf},
    {"never", kNever}, {"so", kSo},     {"this", kThis},   {"without", kWithout}, {"doubt", kDoubt},
    {"at", kAt},       {"very", kVery}, {"or", kOr},       {"nor", kNor},
};

// Python's "\n".split over text.rstrip("\n"), calling `line(number, text)` for each line.
template <typename F>
void for_each_line(std::string_view text, F&& line) {
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  size_t number = 1, start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    line(number, text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return;
    start = end + 1;
    ++number;
  }
}

// Python's float() of a lexicon field: surrounding whitespace and a leading '+' allowed.
bool parse_number(std::string_view text, double& value) {
  text = python_text::strip(text);
  if (text.size() > 1 && text[0] == '+' && text[1] != '+' && text[1] != '-') text.remove_prefix(1);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

std::string read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(ErrorCode::not_found, fmt::format("cannot read the {} '{}': {}", what, path, std::strerror(errno)));
  std::ostringstream contents;
  contents << in.rdbuf();
  return std::move(contents).str();
}

void check_utf8(std::string_view text, std::string_view name) {
  if (const auto bad = find_invalid_utf8(text))
    throw invalid_input(fmt::format("{}: invalid UTF-8 at byte {}", name, *bad));
}

}  // namespace

// Collects words and their properties in a map, then lays them out as the Lexicon's arena and
// open-addressing table.
class LexiconBuilder {
 public:
  explicit LexiconBuilder(Lexicon& lexicon) : lexicon_(lexicon) {}

  void read_lexicon(std::string_view text, std::string_view name) {
    check_utf8(text, name);
    for_each_line(text, [&](size_t number, std::string_view line) {
      if (line.empty()) return;  // the reference skips blank lines of this file only
      const auto fields = tab_fields(python_text::strip(line));
      double valence = 0;
      if (fields.second.data() == nullptr)
        throw invalid_input(fmt::format("{}:{}: expected TOKEN<TAB>MEAN-VALENCE", name, number));
      if (!parse_number(fields.second, valence))
        throw invalid_input(fmt::format("{}:{}: '{}' is not a number", name, number, fields.second));
      WordInfo& info = words_[std::string(fields.first)];
      info.valence = valence;
      info.flags |= kInLexicon;
    });
    lexicon_.lexicon_size_ = 0;
    for (const auto& [word, info] : words_) lexicon_.lexicon_size_ += (info.flags & kInLexicon) != 0;
  }

  void read_emoji(std::string_view text, std::string_view name) {
    check_utf8(text, name);
    std::map<char32_t, std::string_view> emoji;  // later lines win, as in a Python dict
    for_each_line(text, [&](size_t number, std::string_view line) {
      const auto fields = tab_fields(python_text::strip(line));
      if (fields.second.data() == nullptr)
        throw invalid_input(fmt::format("{}:{}: expected EMOJI<TAB>DESCRIPTION", name, number));
      const auto* p = reinterpret_cast<const unsigned char*>(fields.first.data());
      size_t length = 0;
      if (fields.first.empty()) return;
      const char32_t c = python_text::decode(p, p + fields.first.size(), length);
      if (length == fields.first.size()) emoji[c] = fields.second;
    });
    for (const auto& [c, description] : emoji) {
      lexicon_.emoji_.push_back(
          {c, static_cast<uint32_t>(lexicon_.arena_.size()), static_cast<uint32_t>(description.size())});
      lexicon_.arena_ += description;
    }
  }

  void add_reference_tables() {
    for (const char* word : kNegate) words_[word].flags |= kNegation;
    for (const auto& control : kControlWords) words_[control.word].word = control.id;
    for (const Scalar& booster : kBoosters) {
      if (std::strchr(booster.words, ' ') != nullptr) {
        lexicon_.booster_phrases_.push_back({phrase(booster.words), booster.value});
      } else {
        WordInfo& info = words_[booster.words];
        info.booster = booster.value;
        info.flags |= kBooster;
      }
    }
    for (const Scalar& special : kSpecialCases)
      if (std::strchr(special.words, ' ') != nullptr)
        lexicon_.special_cases_.push_back({phrase(special.words), special.value});
  }

  void lay_out() {
    const size_t slots = std::bit_ceil(std::max<size_t>(16, words_.size() * 2));
    lexicon_.tags_.assign(slots, 0);
    lexicon_.slots_.assign(slots, {});
    lexicon_.infos_.assign(slots, {});
    lexicon_.mask_ = slots - 1;
    lexicon_.shift_ = 64 - std::countr_zero(slots);
    std::string padded;
    for (const auto& [word, info] : words_) {
      if (word.size() > std::numeric_limits<uint32_t>::max()) throw invalid_input("a lexicon word is too long");
      padded.assign(word);
      padded.resize((word.size() + 7) / 8 * 8 + 8, '\0');
      Lexicon::Slot entry;
      std::memcpy(&entry.head, padded.data(), sizeof entry.head);
      entry.length = static_cast<uint32_t>(word.size());
      if (word.size() > 8) {
        // Tails start at multiples of 8 and are zero-padded, for Lexicon::same_padded.
        lexicon_.arena_.resize((lexicon_.arena_.size() + 7) / 8 * 8, '\0');
        entry.tail = static_cast<uint32_t>(lexicon_.arena_.size());
        lexicon_.arena_.append(padded, 8, std::string::npos);
      }
      lexicon_.max_word_length_ = std::max(lexicon_.max_word_length_, word.size());
      const uint64_t h = Lexicon::hash(padded.data(), word.size());
      size_t slot = h >> lexicon_.shift_;
      while (lexicon_.tags_[slot] != 0) slot = (slot + 1) & lexicon_.mask_;
      lexicon_.tags_[slot] = Lexicon::tag_of(h);
      lexicon_.slots_[slot] = entry;
      lexicon_.infos_[slot] = info;
    }
  }

 private:
  // The first two fields of Python's line.split('\t'); second.data() is null when there is no tab.
  static std::pair<std::string_view, std::string_view> tab_fields(std::string_view line) {
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos) return {line, {}};
    const std::string_view rest = line.substr(tab + 1);
    return {line.substr(0, tab), rest.substr(0, rest.find('\t'))};
  }

  // The key of a phrase of two or three words; each word gets an id if it has none yet.
  uint32_t phrase(std::string_view words) {
    uint8_t ids[3] = {kNoWord, kNoWord, kNoWord};
    size_t n = 0;
    size_t start = 0;
    while (start <= words.size() && n < 3) {
      const size_t end = std::min(words.find(' ', start), words.size());
      WordInfo& info = words_[std::string(words.substr(start, end - start))];
      if (info.word == kNoWord) info.word = lexicon_.next_phrase_word_++;
      ids[n++] = info.word;
      start = end + 1;
    }
    return n == 2 ? phrase_key(ids[0], ids[1]) : phrase_key(ids[0], ids[1], ids[2]);
  }

  Lexicon& lexicon_;
  std::unordered_map<std::string, WordInfo> words_;
};

Lexicon::Lexicon(std::string_view lexicon_text, std::string_view emoji_text, std::string_view lexicon_name,
                 std::string_view emoji_name) {
  LexiconBuilder builder(*this);
  builder.read_lexicon(lexicon_text, lexicon_name);
  builder.read_emoji(emoji_text, emoji_name);
  builder.add_reference_tables();
  builder.lay_out();
}

Lexicon Lexicon::embedded() {
  return Lexicon(vader_lexicon_text(), emoji_lexicon_text(), "vader_lexicon.txt (built in)",
                 "emoji_utf8_lexicon.txt (built in)");
}

Lexicon Lexicon::from_files(const std::string& lexicon_path, const std::string& emoji_path) {
  const std::string lexicon = lexicon_path.empty() ? std::string() : read_file(lexicon_path, "VADER lexicon");
  const std::string emoji = emoji_path.empty() ? std::string() : read_file(emoji_path, "emoji lexicon");
  return Lexicon(lexicon_path.empty() ? vader_lexicon_text() : std::string_view(lexicon),
                 emoji_path.empty() ? emoji_lexicon_text() : std::string_view(emoji),
                 lexicon_path.empty() ? "vader_lexicon.txt (built in)" : std::string_view(lexicon_path),
                 emoji_path.empty() ? "emoji_utf8_lexicon.txt (built in)" : std::string_view(emoji_path));
}

const WordInfo* Lexicon::find(std::string_view word) const {
  std::string lowered;
  python_text::append_lower(lowered, word);
  const size_t length = lowered.size();
  lowered.resize(length + 8, '\0');
  return find(std::string_view(lowered.data(), length), hash(lowered.data(), length));
}

std::optional<std::string_view> Lexicon::emoji_description(char32_t c) const {
  const auto it =
      std::lower_bound(emoji_.begin(), emoji_.end(), c, [](const Emoji& e, char32_t x) { return e.code_point < x; });
  if (it == emoji_.end() || it->code_point != c) return std::nullopt;
  return std::string_view(arena_).substr(it->offset, it->length);
}

}  // namespace sentiflow::sentiment
