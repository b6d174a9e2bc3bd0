// Labelled texts for `train` and `eval --labelled`: TSV (TEXT<TAB>LABEL, the last tab splits,
// an optional header whose label is "label") or JSON Lines (.jsonl, .ndjson, .json: one object a
// line, the text and the label in named attributes). Labels are names or 0/1. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sentiment/fasttext_train.h"

namespace sentiflow::cli {

// A label as a model holds it: "0" and "1" are "negative" and "positive" (as SST-2 writes them),
// a name is lower-cased. Throws Error(invalid_input) naming `where` for an empty label or one
// that is not letters, digits, '_' and '-' (fastText reads "__label__NAME" as one token).
std::string model_label(std::string_view raw, std::string_view where);

// One JSON object's text and label. Throws Error(invalid_input) naming `where`.
sentiment::LabelledText labelled_item(std::string_view json, const std::string& text_attribute,
                                      const std::string& label_attribute, std::string_view where, size_t line);

// Every labelled text of `file`; the attributes are needed for JSON Lines only. Throws
// Error(invalid_input) naming the file and line for a line that is not TEXT<TAB>LABEL or an
// object with both attributes, for text that is not UTF-8, and for a file without texts.
std::vector<sentiment::LabelledText> read_labelled_file(const std::string& file, const std::string& text_attribute,
                                                        const std::string& label_attribute);

}  // namespace sentiflow::cli
