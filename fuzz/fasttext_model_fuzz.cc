// fastText model files (sentiment/fasttext_model.h), as `engine: fasttext` reads `sentiment.model`.
// FastTextModel checks every size, count and offset before fastText's own loader, which trusts
// its input: a file either loads, and then predicts a probability in [0, 1] for every label (or
// says Error(invalid_input) for a line its weights overflow on), or is Error(invalid_input). ASan catches any read outside the file or fastText's arrays.
#include <cmath>
#include <vector>

#include "fuzz/fuzz_target.h"
#include "sentiment/fasttext_model.h"

using namespace sentiflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)fuzz::fixture<bool>();  // the log silenced
  std::shared_ptr<const sentiment::FastTextModel> model;
  try {
    model = sentiment::FastTextModel::from_bytes(std::string(fuzz::as_text(data, size)), "model.ftz");
  } catch (const Error& e) {
    fuzz::require(e.code() == ErrorCode::invalid_input, "a bad model file is invalid_input");
    return 0;
  }
  std::vector<float> p(model->labels().size());
  for (const char* line : {"a wonderful film", "", "zzz qqq the the the"}) {
    try {
      model->predict(line, p);
    } catch (const Error& e) {  // finite weights whose sums overflow on this line
      fuzz::require(e.code() == ErrorCode::invalid_input, "a line the model cannot score is invalid_input");
      continue;
    }
    for (const float x : p) fuzz::require(!(x < 0) && !(x > 1.0001f), "a probability is in [0, 1] (or NaN)");
  }
  return 0;
}
