#include "sentiment/fasttext_train.h"

#include <fasttext/autotune.h>
#include <fasttext/fasttext.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>

#include "core/error.h"
#include "core/temp_file.h"
#include "sentiment/fasttext_model.h"
#include "sentiment/fasttext_text.h"

namespace sentiflow::sentiment {
namespace {

namespace fs = std::filesystem;

// fastText trains from files only: the preprocessed texts go to a TempFile beside the model.
// Lines as fastText reads them: "__label__NAME tokens".
void write_examples(const fs::path& file, std::span<const LabelledText> texts) {
  std::ofstream out(file, std::ios::binary);
  std::string line;
  for (const auto& t : texts) {
    line.assign("__label__").append(t.label).push_back(' ');
    append_fasttext_tokens(line, t.text);
    line.push_back('\n');
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
  }
  out.flush();
  if (!out) throw Error(ErrorCode::internal, fmt::format("writing {}: {}", file.string(), std::strerror(errno)));
}

void check_settings(const TrainSettings& s) {
  const auto range = [](std::string_view name, double value, double low, double high) {
    if (!(value >= low && value <= high))
      throw invalid_input(fmt::format("--{} {} is outside {}-{}", name, value, low, high));
  };
  range("dim", s.dim, 1, 1000);
  range("epoch", s.epoch, 1, 1000);
  range("lr", s.lr, 1e-6, 10);
  range("word-ngrams", s.word_ngrams, 1, 5);
  range("min-count", s.min_count, 1, 1'000'000);
  range("bucket", s.bucket, 1, 10'000'000);
  range("threads", s.threads, 1, 256);
  range("autotune", s.autotune_seconds, 0, 86'400);
  range("cutoff", s.cutoff, 256, 10'000'000);  // fastText's product quantizer needs 256 rows
}

}  // namespace

TrainReport train_fasttext(std::span<const LabelledText> train, std::span<const LabelledText> validation,
                           const TrainSettings& settings, const fs::path& out) {
  check_settings(settings);
  if (train.empty()) throw invalid_input("no training texts");
  if (validation.empty()) throw invalid_input("no validation texts");
  std::map<std::string, size_t> counts;
  for (const auto& t : train) ++counts[t.label];
  if (counts.size() < 2)
    throw invalid_input(fmt::format("every training text is labelled '{}': a classifier needs two classes at least",
                                    counts.begin()->first));
  for (const auto& v : validation)
    if (!counts.contains(v.label))
      throw invalid_input(
          fmt::format("validation line {}: label '{}' is not among the training labels", v.line, v.label));

  const auto start = std::chrono::steady_clock::now();
  TempFile train_file(out, "train");
  TempFile validation_file(out, "validation");
  write_examples(train_file.path(), train);
  write_examples(validation_file.path(), validation);

  fasttext::Args args;
  args.input = train_file.path().string();
  args.output = out.string();
  args.model = fasttext::model_name::sup;
  args.loss = fasttext::loss_name::softmax;
  args.dim = settings.dim;
  args.epoch = settings.epoch;
  args.lr = settings.lr;
  args.wordNgrams = settings.word_ngrams;
  args.minCount = settings.min_count;
  args.bucket = settings.bucket;
  args.minn = 0;  // no character n-grams: a review's words, not their spelling
  args.maxn = 0;
  args.thread = settings.threads;
  args.seed = settings.seed;
  args.verbose = 0;
  auto model = std::make_shared<fasttext::FastText>();
  try {
    if (settings.autotune_seconds > 0) {
      args.autotuneValidationFile = validation_file.path().string();
      args.autotuneDuration = settings.autotune_seconds;
      fasttext::Autotune(model).train(args);
    } else {
      model->train(args);
    }
    if (settings.quantize) {
      fasttext::Args q = model->getArgs();
      q.input = train_file.path().string();
      q.output = out.string();
      q.qnorm = true;
      q.qout = false;
      q.retrain = true;
      q.cutoff = static_cast<size_t>(settings.cutoff);
      q.dsub = 2;
      q.thread = settings.threads;
      q.verbose = 0;
      try {
        model->quantize(q);
      } catch (const std::invalid_argument& e) {  // e.g. fewer than 256 rows to quantize
        throw invalid_input(fmt::format("cannot quantize this model: {}", e.what()));
      }
    }
    model->saveModel(out.string());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ErrorCode::internal, fmt::format("fastText: {}", e.what()));
  }

  TrainReport report;
  report.train_texts = train.size();
  report.validation_texts = validation.size();
  const auto trained = FastTextModel::load(out);  // read back as the engine reads it
  report.model_bytes = trained->shape().bytes;
  const auto& labels = trained->labels();
  std::vector<size_t> hits(labels.size()), predicted(labels.size()), support(labels.size());
  std::vector<float> p(labels.size());
  std::string tokens;
  size_t correct = 0;
  for (const auto& v : validation) {
    tokens.clear();
    append_fasttext_tokens(tokens, v.text);
    trained->predict(tokens, p);
    const auto guess = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    const auto truth =
        static_cast<size_t>(std::find(labels.begin(), labels.end(), "__label__" + v.label) - labels.begin());
    ++predicted[guess];
    if (truth < labels.size()) ++support[truth];
    if (guess == truth) {
      ++correct;
      ++hits[guess];
    }
  }
  report.accuracy = static_cast<double>(correct) / static_cast<double>(validation.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    ClassFigures c;
    c.label = labels[i].substr(std::strlen("__label__"));
    c.support = support[i];
    c.precision = predicted[i] ? static_cast<double>(hits[i]) / static_cast<double>(predicted[i]) : 0;
    c.recall = support[i] ? static_cast<double>(hits[i]) / static_cast<double>(support[i]) : 0;
    c.f1 = c.precision + c.recall > 0 ? 2 * c.precision * c.recall / (c.precision + c.recall) : 0;
    report.classes.push_back(c);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace sentiflow::sentiment
