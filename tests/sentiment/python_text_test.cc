// Python str semantics: the expected values are what Python 3.11 prints for the same strings.
#include <gtest/gtest.h>

#include <string>

#include "sentiment/lexicon.h"
#include "sentiment/python_text.h"

namespace sentiflow::sentiment {
namespace {

using namespace python_text;

std::string lower(std::string_view s) {
  std::string out;
  append_lower(out, s);
  return out;
}

TEST(PythonText, IsUpperNeedsACasedCharacterAndNoLowerCaseOne) {
  EXPECT_TRUE(is_upper("GOOD"));
  EXPECT_TRUE(is_upper("GR\u00c9AT"));    // 'GRÉAT'.isupper()
  EXPECT_FALSE(is_upper("GR\u00e9AT"));   // 'GRéAT'
  EXPECT_TRUE(is_upper("\u00c9\u00c9"));  // no ASCII letter at all
  EXPECT_TRUE(is_upper("A1!"));
  EXPECT_FALSE(is_upper("123!"));  // nothing cased
  EXPECT_FALSE(is_upper(""));
  EXPECT_FALSE(is_upper("STRA\u00dfE"));              // ß is lower case
  EXPECT_FALSE(is_upper("\u01c5"));                   // ǅ is title case
  EXPECT_TRUE(is_upper("\u24b6"));                    // Ⓐ: Other_Uppercase
  EXPECT_FALSE(is_upper("A\u00aa"));                  // ª: Other_Lowercase
  EXPECT_TRUE(is_upper("\u2160\u2161"));              // Roman numerals Ⅰ Ⅱ
  EXPECT_TRUE(is_upper("\u039a\u0391\u039b\u039f"));  // ΚΑΛΟ
  EXPECT_TRUE(is_upper("A\u0301"));                   // combining marks are uncased
}

TEST(PythonText, LowerIsTheFullMapping) {
  EXPECT_EQ(lower("GooD :D"), "good :d");
  EXPECT_EQ(lower("GR\u00c9AT"), "gr\u00e9at");
  EXPECT_EQ(lower("\u0130"), "i\u0307");  // İ becomes two code points
  EXPECT_EQ(lower("\u212a"), "k");        // KELVIN SIGN
  EXPECT_EQ(lower("\u2160"), "\u2170");   // Ⅰ → ⅰ
  EXPECT_EQ(lower("STRA\u00dfE"), "stra\u00dfe");
  EXPECT_EQ(lower("\U0001F600"), "\U0001F600");
}

TEST(PythonText, FinalSigma) {
  EXPECT_EQ(lower("\u039f\u0394\u039f\u03a3"), "\u03bf\u03b4\u03bf\u03c2");  // ΟΔΟΣ → οδος
  EXPECT_EQ(lower("\u03a3"), "\u03c3");                                      // alone: σ
  EXPECT_EQ(lower("\u03a3\u039f"), "\u03c3\u03bf");                          // first: σ
  EXPECT_EQ(lower("A\u03a3'"), "a\u03c2'");                                  // case-ignorable after it
  EXPECT_EQ(lower("A\u03a3'B"), "a\u03c3'b");                                // ...then a cased letter
  EXPECT_EQ(lower("A\u0301\u03a3"), "a\u0301\u03c2");                        // case-ignorable before it
  EXPECT_EQ(lower("1\u03a3"), "1\u03c3");                                    // nothing cased before it
}

TEST(PythonText, WhitespaceIsStrIsspace) {
  for (const char32_t c : {0x09, 0x0A, 0x0B,   0x0C,   0x0D,   0x1C,   0x1D,   0x1E,   0x1F,   0x20,
                           0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000})
    EXPECT_TRUE(is_space(c)) << std::hex << static_cast<uint32_t>(c);
  for (const char32_t c : {0x00, 0x08, 0x0E, 0x1B, 0x21, 0x180E, 0x200B, 0xFEFF, 0x2060})
    EXPECT_FALSE(is_space(c)) << std::hex << static_cast<uint32_t>(c);
  EXPECT_EQ(strip(" \u3000 a b\u00a0\t"), "a b");
  EXPECT_EQ(strip("\u200ba"), "\u200ba");
  EXPECT_EQ(strip("   "), "");
}

TEST(PythonText, RoundLikePython) {
  EXPECT_EQ(round(0.4404, 4), 0.4404);
  EXPECT_EQ(round(0.44044999, 4), 0.4404);
  EXPECT_EQ(round(0.44045001, 4), 0.4405);
  EXPECT_EQ(round(0.0625, 3), 0.062);  // an exact tie goes to even
  EXPECT_EQ(round(0.1875, 3), 0.188);
  EXPECT_EQ(round(2.675, 2), 2.67);    // 2.675 is 2.67499999... in binary
  EXPECT_EQ(round(0.3245, 3), 0.325);  // 0.3245 is 0.32450000000000001... in binary
  EXPECT_EQ(round(-0.00003, 4), 0.0);
  EXPECT_TRUE(std::signbit(round(-0.00003, 4)));  // Python keeps the sign: -0.0
  EXPECT_EQ(round(-0.55555, 4), -0.5555);         // -0.55555 is -0.55554999999999998... in binary
  EXPECT_EQ(round(1.0, 3), 1.0);
}

TEST(Lexicon, TheBuiltInTablesAreComplete) {
  const Lexicon lexicon = Lexicon::embedded();
  EXPECT_EQ(lexicon.lexicon_size(), 7506u);  // 7,520 lines with 14 repeated words
  EXPECT_EQ(lexicon.emoji_count(), 1212u);   // the one-code-point emoji of 3,570 lines
  const WordInfo* good = lexicon.find("GOOD");
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(good->valence, 1.9);
  EXPECT_TRUE(good->flags & kInLexicon);
  const WordInfo* very = lexicon.find("very");
  ASSERT_NE(very, nullptr);
  EXPECT_EQ(very->booster, 0.293);
  EXPECT_EQ(very->word, kVery);
  EXPECT_FALSE(very->flags & kInLexicon);
  EXPECT_TRUE(lexicon.find("isn't")->flags & kNegation);
  EXPECT_EQ(lexicon.find("no")->word, kNo);
  EXPECT_EQ(lexicon.find("lol")->valence, 1.8);  // a repeated word: the last line wins
  EXPECT_EQ(lexicon.find("zzzzqx"), nullptr);
  EXPECT_EQ(lexicon.emoji_description(0x1F600).value_or(""), "grinning face");
  EXPECT_FALSE(lexicon.emoji_description('a').has_value());
  EXPECT_FALSE(lexicon.has_ascii_emoji());
  // Phrases: "the shit" is two words, "kiss of death" three; order and length matter.
  const uint8_t the = lexicon.find("the")->word, shit = lexicon.find("shit")->word;
  ASSERT_NE(the, kNoWord);
  EXPECT_EQ(*lexicon.special_case(phrase_key(the, shit)), 3.0);
  EXPECT_EQ(lexicon.special_case(phrase_key(shit, the)), nullptr);
  EXPECT_EQ(lexicon.special_case(phrase_key(the, shit, kNoWord)), nullptr);
  EXPECT_EQ(*lexicon.booster_phrase(phrase_key(kKind, kOf)), -0.293);
}

}  // namespace
}  // namespace sentiflow::sentiment
