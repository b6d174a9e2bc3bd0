// Small string helpers shared by every component. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sentiflow {

std::string_view trim(std::string_view text);
std::string to_lower_ascii(std::string_view text);
std::string to_upper_ascii(std::string_view text);
// `n` with a comma between groups of three digits: 1234567 -> "1,234,567", -1000 -> "-1,000".
std::string thousands(int64_t n);
// Every part between separators, empty parts included: split("a,,b", ',') is {"a", "", "b"}.
std::vector<std::string_view> split(std::string_view text, char separator);
// The words between runs of spaces, tabs and line breaks; no empty words.
std::vector<std::string_view> split_whitespace(std::string_view text);

// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` (case-insensitive) when it is close enough to be a
// plausible typo: at most a third of the word's length in edits, rounded down, but at
// least 1 and at most 3. nullopt otherwise.
std::optional<std::string> closest_match(std::string_view word, std::span<const std::string> candidates);

}  // namespace sentiflow
