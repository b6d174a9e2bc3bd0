// `sentiflow sentiment` and `sentiflow eval` as users run them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/run_binary.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sentiflow::testing_support::Outcome;

Outcome run(const std::string& args) { return sentiflow::testing_support::run_sentiflow(args); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A file in the test's temporary folder with exactly `contents`.
std::string temp_file(const std::string& name, const std::string& contents) {
  const fs::path path = fs::path(::testing::TempDir()) / ("sentiflow-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(path, std::ios::binary) << contents;
  return path.string();
}

const std::string kSource = SENTIFLOW_SOURCE_DIR;

TEST(SentimentCli, OneTextPrintsOneJsonResult) {
  const auto r = run("sentiment 'VADER is smart, handsome, and funny.'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, R"({"sentiment":"POSITIVE","scores":{"Positive":0.746,"Negative":0.0,"Neutral":0.254,"Mixed":0.0},)"
                   R"("vader":{"neg":0.0,"neu":0.254,"pos":0.746,"compound":0.8316}})"
                   "\n");
  const auto echo = json::parse(run("sentiment --echo 'I love it but I hate it'").out);
  EXPECT_EQ(echo["text"], "I love it but I hate it");
  EXPECT_EQ(echo["sentiment"], "MIXED");
  EXPECT_EQ(echo["scores"]["Mixed"], 0.412);
  const auto strict = json::parse(run("sentiment --mixed-threshold 0.5 'I love it but I hate it'").out);
  EXPECT_EQ(strict["sentiment"], "NEGATIVE");
  const auto empty = json::parse(run("sentiment ''").out);
  EXPECT_EQ(empty["sentiment"], "NEUTRAL");
  EXPECT_EQ(empty["vader"]["compound"], 0.0);
}

TEST(SentimentCli, OneTextAsTsv) {
  const auto r = run("sentiment --format tsv --echo 'Today SUX!'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "line\tsentiment\tpositive\tnegative\tneutral\tmixed\tneg\tneu\tpos\tcompound\terror\ttext\n"
            "1\tNEGATIVE\t0.0\t0.779\t0.221\t0.0\t0.779\t0.221\t0.0\t-0.5461\t\tToday SUX!\n");
}

TEST(SentimentCli, AFileGivesOneResultPerLineInOrder) {
  // CRLF line ends, an empty line, and no final newline.
  const std::string file =
      temp_file("lines.txt", "The book was good.\r\n\r\nA really bad, horrible book.\r\n:) and :D");
  const auto r = run("sentiment --file '" + file + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  const double compounds[] = {0.4404, 0.0, -0.8211, 0.7925};
  const char* labels[] = {"POSITIVE", "NEUTRAL", "NEGATIVE", "POSITIVE"};
  for (size_t i = 0; i < 4; ++i) {
    const auto j = json::parse(lines[i]);
    EXPECT_EQ(j["line"], i + 1);
    EXPECT_EQ(j["sentiment"], labels[i]);
    EXPECT_EQ(j["vader"]["compound"], compounds[i]) << lines[i];
    EXPECT_FALSE(j.contains("text"));
  }
}

TEST(SentimentCli, StdinWhenNoTextAndNoFile) {
  const std::string file = temp_file("stdin.txt", "good\nbad\n");
  for (const std::string& args : {"sentiment < '" + file + "'", "sentiment --file - < '" + file + "'"}) {
    const auto r = run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2u) << args;
    EXPECT_EQ(json::parse(lines[0])["sentiment"], "POSITIVE");
    EXPECT_EQ(json::parse(lines[1])["sentiment"], "NEGATIVE");
  }
  const auto tsv = run("sentiment --format tsv < '" + file + "'");
  EXPECT_EQ(tsv.out,
            "line\tsentiment\tpositive\tnegative\tneutral\tmixed\tneg\tneu\tpos\tcompound\terror\n"
            "1\tPOSITIVE\t1.0\t0.0\t0.0\t0.0\t0.0\t0.0\t1.0\t0.4404\t\n"
            "2\tNEGATIVE\t0.0\t1.0\t0.0\t0.0\t1.0\t0.0\t0.0\t-0.5423\t\n");
}

TEST(SentimentCli, ABadLineGivesAnErrorLineTheRestGoesOnAndTheStatusIs2) {
  const std::string file = temp_file("bad.txt", "good\nnot \xff UTF-8\nbad\n");
  const auto r = run("sentiment --file '" + file + "'");
  EXPECT_EQ(r.status, 2);
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(json::parse(lines[0])["sentiment"], "POSITIVE");
  EXPECT_EQ(lines[1], R"({"line":2,"error":"invalid UTF-8 at byte 4"})");
  EXPECT_EQ(json::parse(lines[2])["sentiment"], "NEGATIVE");
  EXPECT_NE(r.err.find("failed_lines=1"), std::string::npos) << r.err;

  const auto tsv = run("sentiment --format tsv --echo --file '" + file + "'");
  EXPECT_EQ(tsv.status, 2);
  EXPECT_EQ(lines_of(tsv.out).at(2), "2\tERROR\t\t\t\t\t\t\t\t\tinvalid UTF-8 at byte 4\t");
  // A single TEXT that is not UTF-8 is a usage error.
  const auto text = run("sentiment \"$(printf '\\377')\"");
  EXPECT_EQ(text.status, 2);
  EXPECT_NE(text.err.find("invalid UTF-8"), std::string::npos) << text.err;
}

TEST(SentimentCli, ThreadsKeepTheInputOrder) {
  // The four corpora (about 2.6 MB, several chunks) plus a bad line in the middle.
  std::string input;
  for (const std::string corpus : {"tweets", "movieReviewSnippets", "amazonReviewSnippets", "nytEditorialSnippets"}) {
    std::ifstream in(kSource + "/data/corpora/" + corpus + "_GroundTruth.txt", std::ios::binary);
    for (std::string line; std::getline(in, line);) {
      input += line.substr(line.find('\t', line.find('\t') + 1) + 1);
      if (!input.empty() && input.back() == '\r') input.pop_back();
      input += "\n";
    }
    if (corpus == "movieReviewSnippets") input += "\xc3\x28\n";
  }
  const std::string file = temp_file("corpora.txt", input);
  const auto one = run("sentiment --threads 1 --echo --file '" + file + "'");
  const auto two = run("sentiment --threads 2 --echo --file '" + file + "'");
  const auto many = run("sentiment --threads 5 --echo --file '" + file + "'");
  EXPECT_EQ(one.status, 2);
  EXPECT_EQ(two.status, 2);
  EXPECT_EQ(many.status, 2);
  const auto lines = lines_of(one.out);
  ASSERT_EQ(lines.size(), 23704u);
  EXPECT_EQ(json::parse(lines[14805])["error"], "invalid UTF-8 at byte 0");
  EXPECT_EQ(json::parse(lines[23703])["line"], 23704);
  EXPECT_TRUE(one.out == two.out) << "--threads 2 changed the output";
  EXPECT_TRUE(one.out == many.out) << "--threads 5 changed the output";
}

TEST(SentimentCli, UsageErrors) {
  // Comprehend without a region is a usage error, said before any request (no network here:
  // the region and the profile files are taken away from the child).
  ::unsetenv("AWS_REGION");
  ::unsetenv("AWS_DEFAULT_REGION");
  ::setenv("AWS_CONFIG_FILE", "/nonexistent/sentiflow-test-config", 1);
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/sentiflow-test-credentials", 1);
  const auto comprehend = run("sentiment --engine comprehend good");
  EXPECT_EQ(comprehend.status, 2);
  EXPECT_NE(comprehend.err.find("no AWS region"), std::string::npos) << comprehend.err;
  EXPECT_EQ(run("sentiment --engine bert good").status, 2);
  EXPECT_EQ(run("sentiment --format xml good").status, 2);
  EXPECT_EQ(run("sentiment --mixed-threshold 0 good").status, 2);
  const std::string file = temp_file("both.txt", "good\n");
  EXPECT_EQ(run("sentiment good --file '" + file + "'").status, 2);
  const auto missing = run("sentiment --file /nonexistent/input.txt");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("cannot read '/nonexistent/input.txt'"), std::string::npos) << missing.err;
  const auto help = run("help sentiment");
  EXPECT_NE(help.out.find("--threads"), std::string::npos);
}

void expect_eval_table(const Outcome& r) {
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;  // a header and four corpora
  const char* corpora[] = {"tweets", "movie", "amazon", "nyt"};
  for (size_t i = 0; i < 4; ++i) {
    std::istringstream row(lines[i + 1]);
    std::string corpus;
    size_t sentences = 0;
    double r_value = 0, paper_r = 0, f1 = 0, paper_f1 = 0;
    row >> corpus >> sentences >> r_value >> paper_r >> f1 >> paper_f1;
    EXPECT_EQ(corpus, corpora[i]);
    EXPECT_GT(sentences, 3000u);
    EXPECT_NEAR(r_value, paper_r, 0.03) << lines[i + 1];
    EXPECT_NEAR(f1, paper_f1, 0.03) << lines[i + 1];
  }
}

TEST(EvalCli, PrintsFourCorporaWithinPoint03OfThePaper) {
  expect_eval_table(run("eval"));  // finds the project's data/corpora by itself
  expect_eval_table(run("eval --corpora '" + kSource + "/data/corpora'"));
  const auto j = json::parse(run("eval --json").out);
  ASSERT_EQ(j["results"].size(), 4u);
  EXPECT_EQ(j["results"][0]["corpus"], "tweets");
  EXPECT_EQ(j["results"][0]["sentences"], 4200);
  EXPECT_NEAR(j["results"][0]["r"].get<double>(), 0.872, 0.0005);
  EXPECT_NEAR(j["results"][0]["f1"].get<double>(), 0.948, 0.0005);
}

TEST(EvalCli, AMissingCorporaFolderNamesTheOption) {
  const auto r = run("eval --corpora /nonexistent");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--corpora /nonexistent"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

// ---- the fastText engine and `sentiflow train` ---------------------------------------------------

TEST(FastTextCli, SentimentWithTheBuiltinModel) {
  Outcome r = run("sentiment --engine fasttext 'A gorgeous, witty, seductive movie.'");
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at("sentiment"), "POSITIVE");
  EXPECT_TRUE(j.at("vader").is_null());
  r = run("sentiment --engine fasttext --labels '__label__x=POSITIVE' 'fine'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("sentiment.labels names '__label__x', which is not a label of the model"), std::string::npos)
      << r.err;
  r = run("sentiment --engine fasttext --model '" + temp_file("corrupt.ftz", "not a model") + "' 'fine'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("corrupt.ftz: not a fastText model this engine can use: the magic number is not fastText's"),
            std::string::npos)
      << r.err;
  r = run("sentiment --engine nope 'x'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("use vader, fasttext or comprehend"), std::string::npos) << r.err;
}

// A labelled TSV of two obvious classes: TEXT<TAB>0/1, with SST-2's header.
std::string labelled_tsv(int n, unsigned seed) {
  const char* good[] = {"great", "wonderful", "loved", "charming", "brilliant"};
  const char* bad[] = {"awful", "boring", "hated", "dull", "terrible"};
  std::string tsv = "text\tlabel\n";
  unsigned x = seed;
  for (int i = 0; i < n; ++i) {
    x = x * 1103515245 + 12345;
    const bool positive = (x >> 16) % 2 == 0;
    tsv += std::string("the film was ") + (positive ? good : bad)[(x >> 8) % 5] + " and the plot " +
           (positive ? good : bad)[(x >> 4) % 5] + "\t" + (positive ? "1" : "0") + "\n";
  }
  return tsv;
}

TEST(FastTextCli, TrainSavesAModelThatSentimentAndEvalUse) {
  const std::string data = temp_file("train.tsv", labelled_tsv(600, 1));
  const std::string held = temp_file("held.tsv", labelled_tsv(100, 2));
  const std::string model =
      (fs::path(::testing::TempDir()) / ("sentiflow-" + std::to_string(::getpid()) + "-m.ftz")).string();
  Outcome r = run("train --engine fasttext --data '" + data + "' --validation '" + held + "' --out '" + model +
                  "' --quantize --cutoff 256 --epoch 30 --lr 0.5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("training on 600 texts (negative "), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("accuracy   1.0000 on 100 validation texts"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("positive"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::to_string(fs::file_size(model)) + " bytes, quantized"), std::string::npos) << r.out;

  r = run("sentiment --engine fasttext --model '" + model + "' 'the plot was dull and boring'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).at("sentiment"), "NEGATIVE");
  r = run("eval --engine fasttext --model '" + model + "' --labelled '" + held + "' --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).at("accuracy"), 1.0);
  EXPECT_EQ(json::parse(r.out).at("texts"), 100);

  // Without --validation, a seeded tenth is held out.
  r = run("train --engine fasttext --data '" + data + "' --out '" + model + "' --epoch 30 --lr 0.5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("validating on 60 held out (0.1)"), std::string::npos) << r.err;
}

// From a pipeline's own table: the text from source.text, the label from --label.
TEST(FastTextCli, TrainOnAPipelinesTable) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("sentiflow-" + std::to_string(::getpid()) + "-ptrain");
  fs::create_directories(dir);
  std::string items;
  for (int i = 0; i < 200; ++i)
    items += json{{"id", std::to_string(i)},
                  {"body", i % 2 ? "a wonderful charming film" : "a dull boring plot"},
                  {"tone", i % 2 ? "positive" : "negative"}}
                 .dump() +
             "\n";
  std::ofstream(dir / "items.jsonl") << items;
  std::ofstream(dir / "p.yaml")
      << "name: ptrain\nstate_dir: state\nsource: {table: local://items, key: id, text: body}\n";
  Outcome r =
      run("table import --pipeline '" + (dir / "p.yaml").string() + "' '" + (dir / "items.jsonl").string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run("train --engine fasttext --pipeline '" + (dir / "p.yaml").string() + "' --label tone --out '" +
          (dir / "m.bin").string() + "' --epoch 30 --lr 0.5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("training on 180 texts (negative "), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("accuracy   1.0000 on 20 validation texts"), std::string::npos) << r.out;
  r = run("train --engine fasttext --pipeline '" + (dir / "p.yaml").string() + "' --label mood --out '" +
          (dir / "m.bin").string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("local://items item 1: no attribute 'mood' (--label)"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(FastTextCli, TrainRefusesBadDataWithTheLine) {
  const std::string model =
      (fs::path(::testing::TempDir()) / ("sentiflow-" + std::to_string(::getpid()) + "-bad.bin")).string();
  const auto train_on = [&](const std::string& name, const std::string& contents, const std::string& more = "") {
    return run("train --engine fasttext --data '" + temp_file(name, contents) + "' --out '" + model + "' " + more);
  };
  Outcome r = train_on("notab.tsv", "good film\t1\nno tab here\n");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("notab.tsv:2: expected TEXT<TAB>LABEL"), std::string::npos) << r.err;
  r = train_on("oneclass.tsv", labelled_tsv(0, 1) + "good\t1\nfine\t1\ngreat\t1\nnice\t1\n", "--split 0.25");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("every training text is labelled 'positive'"), std::string::npos) << r.err;
  r = train_on("badlabel.tsv", "good\t1\nbad\tvery bad!\n");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("badlabel.tsv:2: label 'very bad!' is not a plain name"), std::string::npos) << r.err;
  r = train_on("utf8.tsv", "good\t1\nbad \xff\t0\n");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("utf8.tsv:2: invalid UTF-8 at byte 4"), std::string::npos) << r.err;
  r = train_on("items.jsonl", "{\"t\": \"good\", \"l\": 1}\n{\"t\": \"bad\"}\n", "--text t --label l");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("items.jsonl:2: no attribute 'l' (--label)"), std::string::npos) << r.err;
  r = train_on("empty.tsv", "text\tlabel\n");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("empty.tsv: no labelled texts"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(model));
}

}  // namespace
