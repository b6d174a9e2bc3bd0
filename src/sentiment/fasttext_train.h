// Training a fastText classifier for the fastText engine (`sentiflow train`), with Facebook's
// fastText library, on texts preprocessed exactly as the engine preprocesses documents
// (fasttext_text.h), and measuring it on validation texts through the engine's own prediction.
// Functions here are thread-safe apart from fastText's training, which uses its own threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "sentiment/evaluation.h"

namespace sentiflow::sentiment {

// fastText's settings. The defaults were chosen on a held-out part of SST-2's training split
// (data/fasttext/MODEL_CARD.md): a small model that reads word pairs.
struct TrainSettings {
  int dim = 20;
  int epoch = 10;
  double lr = 0.1;
  int word_ngrams = 2;
  int min_count = 1;
  int bucket = 200'000;
  int threads = 1;  // 1: the same data and seed give the same model, byte for byte
  int seed = 1;
  int autotune_seconds = 0;  // > 0: fastText's autotune for this long on the validation texts
  bool quantize = false;     // write a quantized model (.ftz): product quantization, pruned rows
  int cutoff = 30'000;       // quantize: the input rows kept
};

// How a model did on the validation texts.
struct ClassFigures {
  std::string label;
  size_t support = 0;
  double precision = 0;
  double recall = 0;
  double f1 = 0;
};
struct TrainReport {
  size_t train_texts = 0;
  size_t validation_texts = 0;
  double accuracy = 0;                // of the model's top label
  std::vector<ClassFigures> classes;  // in the model's label order
  int64_t model_bytes = 0;
  double seconds = 0;
};

// Trains on `train` and writes the model to `out` (quantized when settings.quantize), then
// measures it on `validation`. Throws Error(invalid_input) for no texts, texts of one class only,
// a validation label the training texts lack, or settings out of range; Error(internal) when
// fastText fails or `out` cannot be written.
TrainReport train_fasttext(std::span<const LabelledText> train, std::span<const LabelledText> validation,
                           const TrainSettings& settings, const std::filesystem::path& out);

}  // namespace sentiflow::sentiment
