// Text forms of a Sentiment, shared by the command line and the pipeline's sinks so that every
// output spells results the same way (DESIGN.md's result record). Pure, thread-safe, and fast:
// no allocation beyond growing `out`.
#pragma once

#include <string>

#include "sentiment/analyzer.h"

namespace sentiflow::sentiment {

// Appends `x` in the shortest form that reads back as the same double, with at least one
// decimal: 0.746, 0.0, 1.0, -0.5423 (as Python's repr and nlohmann::json print it). Fast for
// numbers of at most 4 decimals, which every score is.
void append_decimal(std::string& out, double x);

// Appends the record fields of `s` without the enclosing braces:
//   "sentiment":"POSITIVE","scores":{"Positive":0.746,"Negative":0.0,"Neutral":0.254,"Mixed":0.0},
//   "vader":{"neg":0.0,"neu":0.254,"pos":0.746,"compound":0.8316}
// "vader" is null when the engine gave no VADER numbers.
void append_json_fields(std::string& out, const Sentiment& s);

// Appends `text` as a JSON string, quotes included (valid UTF-8 passes through; control
// characters, '"' and '\\' are escaped).
void append_json_string(std::string& out, std::string_view text);

}  // namespace sentiflow::sentiment
