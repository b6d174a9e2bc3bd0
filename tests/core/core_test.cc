#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <vector>

#include <unistd.h>

#include "core/error.h"
#include "core/fast_modulo.h"
#include "core/strings.h"
#include "core/temp_file.h"
#include "core/time.h"
#include "core/utf8.h"

namespace sentiflow {
namespace {

TEST(Error, ExitStatusIsTwoOnlyForInvalidInput) {
  EXPECT_EQ(exit_status(ErrorCode::invalid_input), 2);
  for (auto code :
       {ErrorCode::not_found, ErrorCode::throttled, ErrorCode::transient, ErrorCode::conflict, ErrorCode::internal})
    EXPECT_EQ(exit_status(code), 1) << to_string(code);
}

TEST(Strings, ThousandsGroupsDigitsByThree) {
  EXPECT_EQ(thousands(0), "0");
  EXPECT_EQ(thousands(999), "999");
  EXPECT_EQ(thousands(1000), "1,000");
  EXPECT_EQ(thousands(1234567), "1,234,567");
  EXPECT_EQ(thousands(-1000), "-1,000");
  EXPECT_EQ(thousands(std::numeric_limits<int64_t>::min()), "-9,223,372,036,854,775,808");
}

TEST(Utf8, CountCharactersCountsTheBytesThatAreNotContinuationBytes) {
  EXPECT_EQ(count_characters(""), 0u);
  EXPECT_EQ(count_characters("abc"), 3u);
  EXPECT_EQ(count_characters("caf\xC3\xA9 \xE2\x80\x99 \xF0\x9F\x98\x80"), 8u);  // café ’ 😀
  EXPECT_EQ(count_characters("\xFF\xFE"), 2u);
  EXPECT_EQ(count_characters("a\x80\x80" "b"), 2u);  // stray continuation bytes count nothing
}

TEST(TempFile, IsAHiddenFileBesideItsPathUntilDestroyed) {
  const auto folder = std::filesystem::temp_directory_path() / ("sentiflow-temp-file-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  std::filesystem::path seen;
  {
    const TempFile file(folder / "model.ftz", "train");
    seen = file.path();
    EXPECT_EQ(seen.parent_path(), folder);
    EXPECT_TRUE(seen.filename().string().starts_with(".model.ftz.train.")) << seen;
    EXPECT_TRUE(std::filesystem::is_regular_file(seen));
    EXPECT_NE(TempFile(folder / "model.ftz", "train").path(), seen);  // a name of its own each time
  }
  EXPECT_FALSE(std::filesystem::exists(seen));
  std::filesystem::remove_all(folder);
  try {
    TempFile(folder / "gone" / "model.ftz");
    FAIL() << "a file in a folder that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("gone/model.ftz"), std::string::npos) << e.what();
  }
}

TEST(FastModulo, EqualsTheRemainderOfADivisionForEdgeAndRandomValues) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  std::mt19937_64 random(20261208);
  std::vector<uint64_t> divisors = {
      1,          2,        3,   7, 1000, 200000, 2000000, 65535, 65536, 1ULL << 32, (1ULL << 32) + 1, (1ULL << 63) - 1,
      1ULL << 63, kMax - 1, kMax};
  for (int i = 0; i < 200; ++i) divisors.push_back(random() >> (random() % 64) | 1);
  for (const uint64_t d : divisors) {
    const FastModulo modulo(d);
    std::vector<uint64_t> xs = {
        0, 1, d - 1, d, d + 1, 2 * d, 2 * d - 1, kMax, kMax - 1, kMax / d * d, kMax / d * d - 1};
    for (int i = 0; i < 2000; ++i) xs.push_back(random());
    for (const uint64_t x : xs) ASSERT_EQ(modulo(x), x % d) << x << " % " << d;
  }
}

TEST(FastModulo, RefusesADivisorOfZero) { EXPECT_THROW(FastModulo(0), Error); }

TEST(Error, OnlyThrottledAndTransientAreRetryable) {
  EXPECT_TRUE(is_retryable(ErrorCode::throttled));
  EXPECT_TRUE(is_retryable(ErrorCode::transient));
  EXPECT_FALSE(is_retryable(ErrorCode::invalid_input));
  EXPECT_FALSE(is_retryable(ErrorCode::conflict));
  EXPECT_EQ(to_string(ErrorCode::not_found), "not_found");
}

// A long fraction overflowed an int before it was refused (UBSan, fuzz/results_fuzz.cc).
TEST(Time, AFractionOfManyDigitsIsRefusedWithoutOverflow) {
  EXPECT_THROW(parse_utc_millis("2026-01-01T00:00:00.6666666666666Z"), Error);
  EXPECT_EQ(parse_utc_millis("2026-01-01T00:00:00.25Z").time_since_epoch().count() % 1000, 250);
}

TEST(Time, FormatsAndParsesUtc) {
  const Seconds t = parse_utc("2026-01-01T10:00:00Z");
  EXPECT_EQ(t.time_since_epoch().count(), 1767261600);
  EXPECT_EQ(format_utc(t), "2026-01-01T10:00:00Z");
  EXPECT_EQ(format_utc(parse_utc("2028-02-29T23:59:59")), "2028-02-29T23:59:59Z");
  EXPECT_EQ(format_utc(parse_utc("2026-03-01")), "2026-03-01T00:00:00Z");
  EXPECT_EQ(format_utc(parse_utc("1970-01-01T00:00:00+00:00")), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_utc_millis(Millis{std::chrono::milliseconds{1767261600123}}), "2026-01-01T10:00:00.123Z");
  EXPECT_EQ(format_utc_millis(Millis{std::chrono::milliseconds{1767261600005}}), "2026-01-01T10:00:00.005Z");
}

TEST(Time, RefusesWhatIsNotAUtcTime) {
  for (const char* bad :
       {"", "2026", "2026-13-01", "2026-02-29", "2026-01-01T24:00:00", "2026-01-01T10:00", "2026-01-01T10:00:00+02:00",
        "2026-01-01T10:00:00.5Z", "2026-01-01X10:00:00", "26-01-01T10:00:00Z"}) {
    try {
      parse_utc(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input);
      EXPECT_NE(std::string(e.what()).find("expected YYYY-MM-DDTHH:MM:SSZ"), std::string::npos) << e.what();
    }
  }
}

TEST(Strings, TrimSplitLower) {
  EXPECT_EQ(trim("  a b \t\n"), "a b");
  EXPECT_EQ(trim("   "), "");
  EXPECT_EQ(to_lower_ascii("AbC-É"), "abc-É");
  const auto parts = split("a..b", '.');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1], "");
  EXPECT_EQ(parts[2], "b");
}

TEST(Strings, SplitsOnWhitespaceRuns) {
  const auto words = split_whitespace("  cron(0 \t10\n* ");
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[0], "cron(0");
  EXPECT_EQ(words[2], "*");
  EXPECT_TRUE(split_whitespace(" \t ").empty());
  EXPECT_EQ(to_upper_ascii("mon-Fri é"), "MON-FRI é");
}

TEST(Strings, SuggestsOnlyPlausibleTypos) {
  const std::vector<std::string> keys = {"visibility_timeout", "max_receive_count", "retention", "url"};
  EXPECT_EQ(closest_match("visiblity_timeout", keys), "visibility_timeout");
  EXPECT_EQ(closest_match("retension", keys), "retention");
  EXPECT_EQ(closest_match("URL", keys), "url");
  EXPECT_EQ(closest_match("banana", keys), std::nullopt);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(Utf8, FindsTheFirstInvalidByte) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xF0\x9F\x98\x80"));  // é and 😀
  EXPECT_EQ(find_invalid_utf8("ab\xC3"), 2u);                  // truncated
  EXPECT_EQ(find_invalid_utf8("\xC0\xAF"), 0u);                // overlong '/'
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);           // surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);        // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("ok\x80"), 2u);                  // lone continuation
}

}  // namespace
}  // namespace sentiflow
