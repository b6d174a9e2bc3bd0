// FastTextModel: a fastText classifier (`.bin`, or `.ftz` as `fasttext quantize` writes it),
// read with Facebook's own library (Debian's libfasttext-dev) after a bounds-checked reading of
// the whole file of our own.
//
// fastText's loader trusts its input: a cut or corrupt file makes it loop forever, allocate
// without bound or read outside its arrays. So every size, count, enum and offset of the file is
// checked here against the file and against each other (the dictionary against the matrices,
// the product quantizers against their codes) before fastText sees a byte, and a file that fails
// is an Error(invalid_input) saying what is wrong and where.
//
// A FastTextModel is immutable once loaded: predict() may be called by any number of threads at
// once (fastText's prediction is const; each call has its own state).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sentiflow::sentiment {

class LoadedFastText;  // fastText's FastText, as fasttext_model.cc loads it

class FastTextModel {
 public:
  // What the file holds, as the model card and `train` print it.
  struct Shape {
    int32_t dim = 0;
    int32_t words = 0;
    int32_t word_ngrams = 1;
    int64_t input_rows = 0;  // words and hashed n-gram buckets (after pruning, when quantized)
    bool quantized = false;
    int64_t bytes = 0;
  };

  // Reads the model at `path`. Throws Error(not_found) when it cannot be read and
  // Error(invalid_input) naming the file for anything that is not a well-formed fastText
  // supervised model (an unsupervised `cbow`/`skipgram` model included).
  static std::shared_ptr<const FastTextModel> load(const std::filesystem::path& path);
  // The same from the file's bytes; `name` names it in messages.
  static std::shared_ptr<const FastTextModel> from_bytes(std::string bytes, std::string_view name);

  ~FastTextModel();
  FastTextModel(const FastTextModel&) = delete;
  FastTextModel& operator=(const FastTextModel&) = delete;

  // The model's labels in its own order, with fastText's prefix ("__label__positive").
  const std::vector<std::string>& labels() const { return labels_; }
  const Shape& shape() const { return shape_; }

  // The probability of each label, in labels()' order, for one line of tokens (what
  // append_fasttext_tokens writes; no newline). Exactly what `fasttext predict-prob MODEL - k`
  // prints for that line, with k the number of labels: fastText's own prediction. A line with
  // no token the model knows gives all zeros. probabilities.size() must equal labels().size().
  // Throws Error(invalid_input) when fastText cannot score the line (its weights, finite as the
  // file's check requires, overflow into a NaN on it).
  void predict(std::string_view tokens, std::span<float> probabilities) const;

 private:
  FastTextModel() = default;

  std::unique_ptr<LoadedFastText> model_;
  std::vector<std::string> labels_;
  Shape shape_;
};

}  // namespace sentiflow::sentiment
