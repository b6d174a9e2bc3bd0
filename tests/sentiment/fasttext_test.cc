// The fastText engine: the preprocessing, the model file's checks, label mapping, training, and
// fastText's own command line (Debian's `fasttext`, the peer) giving the same probabilities for
// the same model and preprocessed lines.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "core/error.h"
#include "sentiment/fasttext.h"
#include "sentiment/fasttext_model.h"
#include "sentiment/fasttext_text.h"
#include "sentiment/fasttext_train.h"
#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace sentiflow::sentiment {
namespace {

namespace fs = std::filesystem;
using testing_support::read_whole_file;
using testing_support::run_shell;
using testing_support::TempDir;

const fs::path kBuiltin = fs::path(SENTIFLOW_SOURCE_DIR) / "data/fasttext/sst2.ftz";

TEST(FastTextText, TokenizesAsSstDoes) {
  EXPECT_EQ(fasttext_tokens("It's NOT well-made!!"), "it 's not well-made ! !");
  EXPECT_EQ(fasttext_tokens("Doesn't work, can't stop."), "does n't work , ca n't stop .");
  EXPECT_EQ(fasttext_tokens("it\xE2\x80\x99s 3.5 stars"), "it 's 3.5 stars");
  EXPECT_EQ(fasttext_tokens("  tabs\tand\nnewlines\r\n"), "tabs and newlines");
  EXPECT_EQ(fasttext_tokens("'quoted' -dash- end."), "' quoted ' - dash - end .");
  EXPECT_EQ(fasttext_tokens("__label__positive"), "_ _ label _ _ positive");
  EXPECT_EQ(fasttext_tokens("Café ÜBER"), "café Über");  // ASCII letters only are lower-cased
  EXPECT_EQ(fasttext_tokens(""), "");
  EXPECT_EQ(fasttext_tokens("'s"), "' s");
  std::string out = "keep ";
  append_fasttext_tokens(out, "A,b");
  EXPECT_EQ(out, "keep a , b ");
}

// Random texts never give a token with a separator fastText reads, nor a "__label__" token.
TEST(FastTextText, NoTokenHoldsASeparatorOrALabelPrefix) {
  std::mt19937 random(7);
  for (int n = 0; n < 2000; ++n) {
    std::string text;
    for (int i = 0; i < 40; ++i) text.push_back(static_cast<char>(random() % 128));
    for (const std::string& token : [&] {
           std::vector<std::string> tokens;
           std::istringstream in(fasttext_tokens(text));
           for (std::string t; in >> t;) tokens.push_back(t);
           return tokens;
         }()) {
      EXPECT_EQ(token.find_first_of(std::string("\n\r\t\v\f\0", 6)), std::string::npos);
      EXPECT_FALSE(token.starts_with("__label__"));
    }
    EXPECT_EQ(fasttext_tokens(text).find("  "), std::string::npos);
  }
}

std::vector<LabelledText> synthetic(size_t n, unsigned seed) {
  const std::vector<std::string> good = {"great", "wonderful", "loved", "charming", "brilliant"};
  const std::vector<std::string> bad = {"awful", "boring", "hated", "dull", "terrible"};
  const std::vector<std::string> filler = {"the", "film", "plot", "was", "and", "a", "story", "acting"};
  std::mt19937 random(seed);
  std::vector<LabelledText> texts;
  for (size_t i = 0; i < n; ++i) {
    const bool positive = random() % 2 == 0;
    std::string text;
    for (int w = 0; w < 6; ++w) text += filler[random() % filler.size()] + " ";
    text += (positive ? good : bad)[random() % 5];
    text += random() % 3 == 0 ? "!" : ".";
    texts.push_back({text, positive ? "positive" : "negative", i + 1});
  }
  return texts;
}

TrainSettings small_settings() {
  TrainSettings s;
  s.dim = 8;
  s.epoch = 40;
  s.lr = 0.5;
  s.bucket = 5000;
  return s;
}

TEST(FastTextTrain, TrainsSavesLoadsAndPredictsTheSameAsItMeasured) {
  TempDir dir("fasttext");
  const auto train = synthetic(600, 1), validation = synthetic(100, 2);
  const auto report = train_fasttext(train, validation, small_settings(), dir.path() / "m.bin");
  EXPECT_GT(report.accuracy, 0.95);
  ASSERT_EQ(report.classes.size(), 2u);
  EXPECT_EQ(report.model_bytes, static_cast<int64_t>(fs::file_size(dir.path() / "m.bin")));
  // The same data and seed give the same model, byte for byte.
  train_fasttext(train, validation, small_settings(), dir.path() / "again.bin");
  EXPECT_EQ(read_whole_file(dir.path() / "m.bin"), read_whole_file(dir.path() / "again.bin"));

  const FastTextAnalyzer analyzer({.model = (dir.path() / "m.bin").string()});
  EXPECT_EQ(analyzer.analyze("A wonderful, charming story!").sentiment.label, Label::positive);
  EXPECT_EQ(analyzer.analyze("The plot was dull and boring.").sentiment.label, Label::negative);
  const auto s = analyzer.analyze("the film").sentiment;
  EXPECT_NEAR(s.scores.positive + s.scores.negative, 1.0, 1e-4);
  EXPECT_FALSE(s.vader.has_value());
  EXPECT_EQ(analyzer.analyze("").sentiment.label, Label::neutral);
  EXPECT_EQ(analyzer.analyze("").sentiment.scores.neutral, 1.0);
  const auto bad = analyzer.analyze(std::string_view("ok \xff", 4));
  ASSERT_FALSE(bad.ok());
  EXPECT_STREQ(bad.error->what(), "invalid UTF-8 at byte 3");

  // Quantized: smaller, and read back.
  auto quantized = small_settings();
  quantized.quantize = true;
  quantized.cutoff = 300;
  const auto q = train_fasttext(train, validation, quantized, dir.path() / "m.ftz");
  EXPECT_LT(q.model_bytes, report.model_bytes);
  EXPECT_TRUE(FastTextModel::load(dir.path() / "m.ftz")->shape().quantized);
}

TEST(FastTextTrain, RefusesDataItCannotLearnFrom) {
  TempDir dir("fasttext");
  auto one_class = synthetic(50, 1);
  for (auto& t : one_class) t.label = "positive";
  try {
    train_fasttext(one_class, synthetic(10, 2), small_settings(), dir.path() / "m.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("every training text is labelled 'positive'"), std::string::npos);
  }
  auto unknown = synthetic(10, 2);
  unknown[3].label = "neutral";
  try {
    train_fasttext(synthetic(50, 1), unknown, small_settings(), dir.path() / "m.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("validation line 4: label 'neutral'"), std::string::npos) << e.what();
  }
  auto settings = small_settings();
  settings.dim = 0;
  EXPECT_THROW(train_fasttext(synthetic(50, 1), synthetic(10, 2), settings, dir.path() / "m.bin"), Error);
}

TEST(FastTextLabels, MapsNamesNumbersAndStarsAndTakesOverrides) {
  using L = Label;
  EXPECT_EQ(map_fasttext_labels({"__label__Positive", "__label__NEG", "__label__neutral", "__label__mixed"}, {}),
            (std::vector<L>{L::positive, L::negative, L::neutral, L::mixed}));
  EXPECT_EQ(map_fasttext_labels({"__label__1", "__label__0"}, {}), (std::vector<L>{L::positive, L::negative}));
  EXPECT_EQ(map_fasttext_labels({"__label__5", "__label__3", "__label__1", "__label__2", "__label__4"}, {}),
            (std::vector<L>{L::positive, L::neutral, L::negative, L::negative, L::positive}));
  EXPECT_EQ(
      map_fasttext_labels({"__label__good", "__label__bad"}, {{"good", L::positive}, {"__label__bad", L::negative}}),
      (std::vector<L>{L::positive, L::negative}));
  try {
    map_fasttext_labels({"__label__good", "__label__bad"}, {{"good", L::positive}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the model's label '__label__bad' is none of"), std::string::npos);
  }
  EXPECT_THROW(map_fasttext_labels({"__label__1", "__label__0"}, {{"2", L::positive}}), Error);
  EXPECT_THROW(map_fasttext_labels({"__label__1", "__label__2"}, {}), Error);  // 1/2 is neither 0/1 nor stars
}

TEST(FastTextAnalyzer, CallsATwoClassModelNeutralWhenItIsUnsure) {
  TempDir dir("fasttext");
  train_fasttext(synthetic(600, 1), synthetic(50, 2), small_settings(), dir.path() / "m.bin");
  const auto model = FastTextModel::load(dir.path() / "m.bin");
  const FastTextAnalyzer never(model, {.neutral_threshold = 0.5});
  for (const char* text : {"the film was a story", "wonderful!", "terrible.", "great and awful"}) {
    const auto s = never.analyze(text).sentiment;
    EXPECT_NE(s.label, Label::neutral) << text;
    const double top = std::max(s.scores.positive, s.scores.negative);
    if (top + 1e-4 <= 1.0) {
      EXPECT_EQ(FastTextAnalyzer(model, {.neutral_threshold = top + 1e-4}).analyze(text).sentiment.label,
                Label::neutral)
          << text;
    }
    if (top - 1e-4 >= 0.5) {
      EXPECT_EQ(FastTextAnalyzer(model, {.neutral_threshold = top - 1e-4}).analyze(text).sentiment.label, s.label)
          << text;
    }
  }
  EXPECT_THROW(FastTextAnalyzer(model, {.neutral_threshold = 0.4}), Error);
}

// Our prediction is fastText's: `fasttext predict-prob` on the same model and the same
// preprocessed lines prints the same probabilities (to the 6 digits it prints), for a dense
// model, the built-in quantized one, one with subword n-grams and word trigrams, and one with
// hierarchical softmax.
TEST(FastTextModel, SameProbabilitiesAsTheFastTextCommandLine) {
  TempDir dir("fasttext");
  const auto train = synthetic(600, 1);
  train_fasttext(train, synthetic(50, 2), small_settings(), dir.path() / "dense.bin");
  {
    std::ofstream out(dir.path() / "train.txt");
    for (const auto& t : train) out << "__label__" << t.label << " " << fasttext_tokens(t.text) << "\n";
  }
  const auto cli = run_shell("fasttext supervised -input '" + (dir.path() / "train.txt").string() + "' -output '" +
                             (dir.path() / "subwords").string() +
                             "' -dim 6 -epoch 2 -minn 2 -maxn 4 -wordNgrams 3 -bucket 10000 -thread 1 -verbose 0");
  ASSERT_EQ(cli.status, 0) << "the fasttext command line (Debian package fasttext, scripts/setup): " << cli.err;
  const auto hs = run_shell("fasttext supervised -input '" + (dir.path() / "train.txt").string() + "' -output '" +
                            (dir.path() / "hs").string() +
                            "' -loss hs -dim 6 -epoch 2 -wordNgrams 2 -bucket 10000 -thread 1 -verbose 0");
  ASSERT_EQ(hs.status, 0) << hs.err;

  std::vector<std::string> lines;
  for (const char* text : {"A wonderful, charming story!", "The plot was dull and boring.", "", "zzz unknown qqq",
                           "It's NOT well-made!!", "great great great awful awful", "the"})
    lines.push_back(fasttext_tokens(text));
  {
    std::ofstream out(dir.path() / "lines.txt");
    for (const auto& line : lines) out << line << "\n";
  }
  for (const fs::path& model_file :
       {dir.path() / "dense.bin", kBuiltin, dir.path() / "subwords.bin", dir.path() / "hs.bin"}) {
    const auto model = FastTextModel::load(model_file);
    const auto k = std::to_string(model->labels().size());
    const auto printed = run_shell("fasttext predict-prob '" + model_file.string() + "' '" +
                                   (dir.path() / "lines.txt").string() + "' " + k);
    ASSERT_EQ(printed.status, 0) << printed.err;
    std::istringstream out(printed.out);
    std::string row;
    for (size_t i = 0; i < lines.size(); ++i) {
      ASSERT_TRUE(std::getline(out, row)) << model_file;
      std::vector<float> ours(model->labels().size());
      model->predict(lines[i], ours);
      std::istringstream fields(row);
      std::string label;
      float theirs = 0;
      size_t seen = 0;
      while (fields >> label >> theirs) {
        const auto at = std::find(model->labels().begin(), model->labels().end(), label) - model->labels().begin();
        ASSERT_LT(static_cast<size_t>(at), ours.size()) << label;
        EXPECT_NEAR(ours[static_cast<size_t>(at)], theirs, 5e-6 * std::max(1.0f, theirs))
            << model_file << " line '" << lines[i] << "' " << label;
        ++seen;
      }
      EXPECT_EQ(seen, ours.size()) << row;
    }
  }
}

// A model whose dictionary holds one word twice (a hand-edited or hostile file): fastText's
// loader keeps the later entry for the word, and so does our table (a review finding: it kept
// the first). The same probabilities as `fasttext predict-prob` on the same file.
TEST(FastTextModel, AWordTwiceInTheDictionaryTakesTheLaterEntryAsFastTextDoes) {
  TempDir dir("fasttext");
  train_fasttext(synthetic(600, 1), synthetic(50, 2), small_settings(), dir.path() / "m.bin");
  std::ifstream in(dir.path() / "m.bin", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = bytes.find(std::string("hated") + '\0');
  ASSERT_NE(at, std::string::npos);
  ASSERT_NE(bytes.find(std::string("awful") + '\0'), std::string::npos);
  bytes.replace(at, 5, "awful");  // "hated" becomes a second "awful", with hated's row
  std::ofstream(dir.path() / "twice.bin", std::ios::binary) << bytes;
  // Lines that do not saturate: the word's row shows in the probabilities.
  const std::vector<std::string> lines = {"awful great", "awful wonderful", "hated great", "awful"};
  {
    std::ofstream out(dir.path() / "lines.txt");
    for (const auto& line : lines) out << line << "\n";
  }
  const auto model = FastTextModel::load(dir.path() / "twice.bin");
  const auto printed = run_shell("fasttext predict-prob '" + (dir.path() / "twice.bin").string() + "' '" +
                                 (dir.path() / "lines.txt").string() + "' 2");
  ASSERT_EQ(printed.status, 0) << printed.err;
  std::istringstream out(printed.out);
  std::string row;
  for (const auto& line : lines) {
    ASSERT_TRUE(std::getline(out, row));
    std::vector<float> ours(model->labels().size());
    model->predict(line, ours);
    std::istringstream fields(row);
    std::string label;
    float theirs = 0;
    while (fields >> label >> theirs) {
      const auto i = std::find(model->labels().begin(), model->labels().end(), label) - model->labels().begin();
      ASSERT_LT(static_cast<size_t>(i), ours.size());
      EXPECT_NEAR(ours[static_cast<size_t>(i)], theirs, 5e-6 * std::max(1.0f, theirs)) << line << " " << label;
    }
  }
}

Error load_error(const std::string& bytes) {
  try {
    FastTextModel::from_bytes(bytes, "m.ftz");
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "loaded";
  return Error(ErrorCode::internal, "loaded");
}

// A cut or corrupt file is a clear error before fastText reads it: every cut of a model, and
// every byte of its header and dictionary set to 0xff, either loads or is Error(invalid_input).
TEST(FastTextModel, ACutOrCorruptFileIsAClearError) {
  TempDir dir("fasttext");
  auto settings = small_settings();
  settings.quantize = true;
  settings.cutoff = 300;
  train_fasttext(synthetic(300, 1), synthetic(20, 2), settings, dir.path() / "m.ftz");
  const std::string bytes = read_whole_file(dir.path() / "m.ftz");
  for (size_t cut = 0; cut < bytes.size(); cut += (cut < 2000 ? 1 : 97)) {
    const Error e = load_error(bytes.substr(0, cut));
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("m.ftz: not a fastText model this engine can use"), std::string::npos)
        << cut << ": " << e.what();
  }
  EXPECT_NE(std::string(load_error(bytes + "x").what()).find("1 bytes follow the model's end"), std::string::npos);
  EXPECT_NE(std::string(load_error("not a model at all").what()).find("the magic number is not fastText's"),
            std::string::npos);
  for (size_t at = 0; at < std::min<size_t>(bytes.size(), 1500); ++at) {
    std::string corrupt = bytes;
    corrupt[at] = '\xff';
    try {
      const auto model = FastTextModel::from_bytes(corrupt, "m.ftz");
      std::vector<float> p(model->labels().size());
      model->predict("a wonderful film", p);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input) << at;
    }
  }
  // A weight that is not a number: fastText's prediction would throw on it.
  train_fasttext(synthetic(300, 1), synthetic(20, 2), small_settings(), dir.path() / "dense.bin");
  std::string nan = read_whole_file(dir.path() / "dense.bin");
  const float not_a_number = std::nanf("");
  std::memcpy(nan.data() + nan.size() - sizeof(float), &not_a_number, sizeof(float));  // the output's last
  EXPECT_NE(std::string(load_error(nan).what()).find("the output matrix holds a number that is not finite"),
            std::string::npos)
      << load_error(nan).what();
  // A fuzz finding: label counts out of order make hierarchical softmax build a tree that its
  // prediction walks out of (a SEGV in HierarchicalSoftmaxLoss::dfs).
  EXPECT_NE(std::string(load_error(read_whole_file(fs::path(SENTIFLOW_SOURCE_DIR) /
                                                   "fuzz/corpus/fasttext_model/hs_unsorted_counts.bin"))
                            .what())
                .find("a hierarchical-softmax model's label counts decrease"),
            std::string::npos);
  try {
    FastTextModel::load(dir.path() / "missing.ftz");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
  }
}

// A fuzz finding: finite weights whose sums overflow make fastText's prediction throw on some
// texts; the analyzer gives those documents an error and the others their sentiment.
TEST(FastTextAnalyzer, ATextTheModelOverflowsOnIsThatDocumentsError) {
  const auto model =
      FastTextModel::load(fs::path(SENTIFLOW_SOURCE_DIR) / "fuzz/corpus/fasttext_model/overflow_weights.bin");
  std::map<std::string, Label> labels;  // its labels are garbled: each is POSITIVE
  for (const auto& label : model->labels()) labels.emplace(label, Label::positive);
  const FastTextAnalyzer analyzer(model, {.labels = labels});
  const std::vector<std::string_view> texts = {"a wonderful film", "", "zzz qqq the the the"};
  std::vector<Result> results(texts.size());
  ASSERT_NO_THROW(analyzer.analyze(texts, results));
  size_t failed = 0;
  for (const auto& r : results)
    if (!r.ok()) {
      ++failed;
      const std::string what = r.error->what();
      EXPECT_TRUE(what.find("the model cannot score this text") != std::string::npos ||
                  what.find("are not numbers (its weights overflow)") != std::string::npos)
          << what;
      EXPECT_EQ(r.error->code(), ErrorCode::invalid_input);
    }
  EXPECT_GE(failed, 1u);
  EXPECT_TRUE(results[1].ok()) << "an empty text is NEUTRAL without asking the model";
}

TEST(FastTextModel, RefusesAWordVectorModel) {
  TempDir dir("fasttext");
  {
    std::ofstream out(dir.path() / "words.txt");
    for (const auto& t : synthetic(300, 1)) out << fasttext_tokens(t.text) << "\n";
  }
  const auto cli =
      run_shell("fasttext cbow -input '" + (dir.path() / "words.txt").string() + "' -output '" +
                (dir.path() / "cbow").string() + "' -dim 4 -epoch 1 -minCount 1 -bucket 1000 -thread 1 -verbose 0");
  ASSERT_EQ(cli.status, 0) << cli.err;
  try {
    FastTextModel::load(dir.path() / "cbow.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a word-vector model (cbow or skipgram), not a classifier"), std::string::npos)
        << e.what();
  }
}

TEST(FastTextAnalyzer, TheBuiltinModelReadsReviews) {
  const FastTextAnalyzer analyzer({});
  EXPECT_EQ(analyzer.engine(), "fasttext");
  EXPECT_EQ(analyzer.model().labels().size(), 2u);
  EXPECT_TRUE(analyzer.model().shape().quantized);
  EXPECT_EQ(analyzer.analyze("A gorgeous, witty, seductive movie.").sentiment.label, Label::positive);
  EXPECT_EQ(analyzer.analyze("The plot is nothing but boilerplate clichés and the acting is wooden.").sentiment.label,
            Label::negative);
}

}  // namespace
}  // namespace sentiflow::sentiment
