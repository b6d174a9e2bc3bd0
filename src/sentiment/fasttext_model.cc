#include "sentiment/fasttext_model.h"

#include <fasttext/densematrix.h>
#include <fasttext/dictionary.h>
#include <fasttext/fasttext.h>
#include <fasttext/model.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <istream>
#include <limits>
#include <streambuf>

#include "core/error.h"
#include "core/fast_modulo.h"

namespace sentiflow::sentiment {

// fastText's Dictionary with its getLine for a line we already hold as tokens: the same ids in
// the same order as getLine(istream) gives for "TOKENS\n" (Dictionary::readWord, getLine,
// addSubwords, find and addWordNgrams of fastText 0.9, restated over string_views), without a
// stream or a string per token. FastTextModel.SameProbabilitiesAsTheFastTextCommandLine holds it
// to fastText's own output.
class LineDictionary : public fasttext::Dictionary {
 public:
  LineDictionary(std::shared_ptr<fasttext::Args> args, std::istream& in)
      : Dictionary(std::move(args), in), bucket_modulo_(static_cast<uint64_t>(std::max(args_->bucket, 1))) {
    // A pruned (quantized) model maps the n-gram buckets it kept to rows with an unordered_map,
    // two lookups per n-gram in pushHash; a flat table answers in one load. Only for a table
    // that stays small (4 bytes a bucket).
    if (pruneidx_size_ > 0 && args_->bucket <= kFlatBucketsMax) {
      bucket_rows_.assign(static_cast<size_t>(args_->bucket), -1);
      for (const auto& [bucket, row] : pruneidx_) bucket_rows_[static_cast<size_t>(bucket)] = row;
    }
    build_word_table();
  }

  // `pieces` is the caller's buffer for the tokens of the line.
  void line_ids(std::string_view tokens, std::vector<int32_t>& words, std::vector<int32_t>& hashes,
                std::vector<std::pair<std::string_view, uint32_t>>& pieces) const {
    words.clear();
    hashes.clear();
    pieces.clear();
    // Two passes: the first hashes every token and asks for its slot, so that the lookups of the
    // second find their slots in the cache instead of waiting for each in turn.
    for (size_t start = 0; start < tokens.size();) {
      const size_t end = std::min(tokens.find(' ', start), tokens.size());
      if (end > start) {
        const std::string_view token = tokens.substr(start, end - start);
        const uint32_t h = hash_of(token);
        __builtin_prefetch(&word_slots_[h & word_mask_]);
        pieces.emplace_back(token, h);
      }
      start = end + 1;
    }
    pieces.emplace_back(EOS, hash_of(EOS));
    for (const auto& piece : pieces) add_token(piece.first, piece.second, words, hashes);
    if (pruneidx_size_ < 0 || !bucket_rows_.empty())
      add_word_ngrams(words, hashes, args_->wordNgrams);
    else  // a pruned model whose buckets are too many for a flat table, or none kept
      addWordNgrams(words, hashes, args_->wordNgrams);
  }

 private:
  static uint32_t hash_of(std::string_view token) {  // Dictionary::hash
    uint32_t h = 2166136261;
    for (const char c : token) {
      h = h ^ static_cast<uint32_t>(static_cast<int8_t>(c));
      h = h * 16777619;
    }
    return h;
  }

  static constexpr int32_t kFlatBucketsMax = 4 << 20;

  // Dictionary::addWordNgrams and pushHash, for a model that is not pruned or whose pruned
  // buckets map through bucket_rows_: the same arithmetic, int32 hashes widened to uint64 as
  // fastText widens them. The buckets go into `line` first, each one's row asked for, and are
  // then replaced by the rows kept: the lookups overlap instead of waiting for each other.
  void add_word_ngrams(std::vector<int32_t>& line, const std::vector<int32_t>& hashes, int32_t n) const {
    const size_t first = line.size();
    const auto count = static_cast<int32_t>(hashes.size());
    for (int32_t i = 0; i < count; ++i) {
      uint64_t h = static_cast<uint64_t>(static_cast<int64_t>(hashes[static_cast<size_t>(i)]));
      for (int32_t j = i + 1; j < count && j < i + n; ++j) {
        h = h * 116049371 + static_cast<uint64_t>(static_cast<int64_t>(hashes[static_cast<size_t>(j)]));
        const auto bucket = static_cast<int32_t>(bucket_modulo_(h));
        if (!bucket_rows_.empty()) __builtin_prefetch(&bucket_rows_[static_cast<size_t>(bucket)]);
        line.push_back(bucket);
      }
    }
    if (pruneidx_size_ < 0) {  // every bucket has its row
      for (size_t k = first; k < line.size(); ++k) line[k] += nwords_;
      return;
    }
    size_t kept = first;
    for (size_t k = first; k < line.size(); ++k) {
      const int32_t row = bucket_rows_[static_cast<size_t>(line[k])];
      if (row >= 0) line[kept++] = nwords_ + row;
    }
    line.resize(kept);
  }

  std::vector<int32_t> bucket_rows_;  // n-gram bucket -> row of a pruned model, -1 when dropped
  FastModulo bucket_modulo_;          // h % bucket without a division: one per n-gram

  // The dictionary's entries in an open-addressing table of their own: fastText's word2int_
  // finds a word with a division, then compares it with the std::string of an entry of 70-odd
  // bytes, two cache misses away; here the slot holds the full hash and the id side by side,
  // the words lie packed in one buffer, and the table's size is a power of two. A word has one
  // id, so any table that finds it gives fastText's id.
  struct WordSlot {
    uint32_t hash = 0;
    int32_t id = -1;  // -1: empty
  };

  void build_word_table() {
    size_t slots = 16;
    while (slots < 2 * static_cast<size_t>(size_)) slots *= 2;
    word_slots_.assign(slots, WordSlot{});
    word_mask_ = slots - 1;
    word_starts_.reserve(static_cast<size_t>(size_) + 1);
    for (int32_t id = 0; id < size_; ++id) {
      const std::string& word = words_[static_cast<size_t>(id)].word;
      word_starts_.push_back(static_cast<uint32_t>(word_bytes_.size()));
      word_bytes_ += word;
      const uint32_t h = hash_of(word);
      size_t slot = h & word_mask_;
      // A word that is in the file twice: the later entry wins, as in fastText's load.
      while (word_slots_[slot].id != -1 && !(word_slots_[slot].hash == h && word_of(word_slots_[slot].id) == word))
        slot = (slot + 1) & word_mask_;
      word_slots_[slot] = WordSlot{h, id};
    }
    word_starts_.push_back(static_cast<uint32_t>(word_bytes_.size()));
  }

  std::string_view word_of(int32_t id) const {  // of an entry already in the table
    const uint32_t start = word_starts_[static_cast<size_t>(id)];
    return std::string_view(word_bytes_).substr(start, words_[static_cast<size_t>(id)].word.size());
  }

  // The entry's id of `token` (hashed `h`), or -1.
  int32_t id_of(std::string_view token, uint32_t h) const {
    for (size_t slot = h & word_mask_;; slot = (slot + 1) & word_mask_) {
      const WordSlot s = word_slots_[slot];
      if (s.id < 0) return -1;
      if (s.hash != h) continue;
      const uint32_t start = word_starts_[static_cast<size_t>(s.id)];
      const uint32_t length = word_starts_[static_cast<size_t>(s.id) + 1] - start;
      if (length == token.size() && std::memcmp(word_bytes_.data() + start, token.data(), length) == 0) return s.id;
    }
  }

  std::vector<WordSlot> word_slots_;
  size_t word_mask_ = 0;
  std::string word_bytes_;             // every entry's word, one after another
  std::vector<uint32_t> word_starts_;  // entry id -> its word's first byte; one more at the end

  void add_token(std::string_view token, uint32_t h, std::vector<int32_t>& words, std::vector<int32_t>& hashes) const {
    const int32_t wid = id_of(token, h);
    // The words come first, then the labels (the Checker holds the file to it).
    const bool is_word = wid >= 0 ? wid < nwords_ : !token.starts_with(args_->label);
    if (!is_word) return;  // a label: ignored for prediction
    if (wid < 0) {
      if (args_->maxn > 0 && token != EOS) computeSubwords(BOW + std::string(token) + EOW, words);
    } else if (args_->maxn <= 0) {
      words.push_back(wid);
    } else {
      const auto& ngrams = getSubwords(wid);
      words.insert(words.end(), ngrams.begin(), ngrams.end());
    }
    hashes.push_back(static_cast<int32_t>(h));
  }
};

// fastText's dense matrix whose row-to-vector addition, the inner loop of Model::computeHidden,
// is compiled here for vectors: each element gets the same float additions in the same order as
// DenseMatrix::addRowToVector, so the hidden vector is bit for bit fastText's.
class RowSumMatrix : public fasttext::DenseMatrix {
 public:
  RowSumMatrix(int64_t rows, int64_t columns) : DenseMatrix(rows, columns) {}
  explicit RowSumMatrix(DenseMatrix&& other) : DenseMatrix(std::move(other)) {}

  __attribute__((optimize("tree-vectorize"))) void addRowToVector(fasttext::Vector& x, int32_t i) const override {
    const float* __restrict row = data() + static_cast<int64_t>(i) * n_;
    float* __restrict out = x.data();
    for (int64_t j = 0; j < n_; ++j) out[j] += row[j];
  }
  using DenseMatrix::addRowToVector;
};

// fastText's FastText, loaded from a stream of bytes we checked and prepared for fast prediction.
// fastText reads a model's format version in loadModel(filename) only, and the member is
// protected: hence a subclass.
class LoadedFastText : public fasttext::FastText {
 public:
  // `in` after the magic number and the version; `dictionary_in` at the dictionary.
  void load(std::istream& in, int32_t format_version, std::istream& dictionary_in, int64_t dense_bytes_max) {
    version = format_version;
    loadModel(in);
    dictionary_ = std::make_shared<LineDictionary>(args_, dictionary_in);
    dict_ = dictionary_;  // one dictionary in memory: fastText's own is dropped
    // A quantized input matrix decoded once into a dense one: addRowToVector then adds the same
    // floats (norm x centroid, as ProductQuantizer::addcode computes them) in the same order,
    // without decoding every row of every prediction. Only for matrices that stay small.
    if (!quant_) {
      auto dense = std::make_shared<RowSumMatrix>(std::move(dynamic_cast<fasttext::DenseMatrix&>(*input_)));
      dense_input_ = dense.get();
      input_ = std::move(dense);
      buildModel();
    } else if (input_->size(0) * input_->size(1) * static_cast<int64_t>(sizeof(float)) <= dense_bytes_max) {
      auto dense = std::make_shared<RowSumMatrix>(input_->size(0), input_->size(1));
      fasttext::Vector row(input_->size(1));
      for (int64_t i = 0; i < input_->size(0); ++i) {
        row.zero();
        input_->addRowToVector(row, static_cast<int32_t>(i));
        for (int64_t j = 0; j < input_->size(1); ++j) dense->at(i, j) = row[j];
      }
      dense_input_ = dense.get();
      input_ = std::move(dense);
      buildModel();
    }
  }

  // FastText::predict with the caller's state and word ids from line_ids.
  void predict_ids(const std::vector<int32_t>& words, fasttext::Predictions& out, fasttext::Model::State& state) const {
    if (words.empty()) return;
    if (dense_input_ != nullptr) {  // every row asked for at once, before the sum waits on each
      const int64_t columns = dense_input_->cols();
      for (const int32_t id : words) {
        const float* row = dense_input_->data() + id * columns;
        __builtin_prefetch(row);
        __builtin_prefetch(row + columns - 1);
      }
    }
    model_->predict(words, dict_->nlabels(), 0.0f, out, state);
  }

  const LineDictionary& dictionary() const { return *dictionary_; }
  int32_t dim() const { return args_->dim; }

 private:
  std::shared_ptr<LineDictionary> dictionary_;
  const RowSumMatrix* dense_input_ = nullptr;  // input_ when it is dense (owned by input_)
};

namespace {

// An istream's buffer over bytes we hold: fastText reads from streams only.
class ViewBuffer : public std::streambuf {
 public:
  void reset(const char* data, size_t size) {
    char* begin = const_cast<char*>(data);  // read-only: nothing here writes to the get area
    setg(begin, begin, begin + size);
  }
};

constexpr int32_t kMagic = 793712314;  // FASTTEXT_FILEFORMAT_MAGIC_INT32
constexpr int32_t kVersion = 12;       // FASTTEXT_VERSION of fastText 0.9
constexpr int32_t kCentroids = 256;    // ProductQuantizer::ksub_
constexpr int32_t kMaxDim = 1 << 16;
constexpr int32_t kMaxWordNgrams = 100;
constexpr int32_t kMaxCharNgram = 100;
constexpr int64_t kHsMaxCount = 1'000'000'000'000'000;  // HierarchicalSoftmaxLoss's 1e15 for unbuilt nodes

// The file read from the front with every read checked against its end; the layout is
// fastText 0.9's FastText::saveModel (args, dictionary, input matrix, output matrix).
class Checker {
 public:
  Checker(std::string_view bytes, std::string_view name) : bytes_(bytes), name_(name) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw invalid_input(fmt::format("{}: not a fastText model this engine can use: {} (at byte {})", name_, what, at_));
  }

  template <typename T>
  T read(std::string_view what) {
    if (bytes_.size() - at_ < sizeof(T)) fail(fmt::format("the file ends inside {}", what));
    T value;
    std::memcpy(&value, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return value;
  }
  bool read_bool(std::string_view what) {
    const auto value = read<uint8_t>(what);
    if (value > 1) fail(fmt::format("{} is {}, not a boolean", what, value));
    return value == 1;
  }
  std::string_view read_word(std::string_view what) {
    const auto end = bytes_.find('\0', at_);
    if (end == std::string_view::npos) fail(fmt::format("the file ends inside {}", what));
    const std::string_view word = bytes_.substr(at_, end - at_);
    at_ = end + 1;
    return word;
  }
  void skip(int64_t count, int64_t size, std::string_view what) {
    if (count < 0 || (count > 0 && static_cast<uint64_t>(count) > (bytes_.size() - at_) / static_cast<uint64_t>(size)))
      fail(fmt::format("{} of {} entries does not fit in the file", what, count));
    at_ += static_cast<size_t>(count * size);
  }
  // Skips `count` floats, each of which must be finite: fastText's prediction throws on a NaN.
  void skip_floats(int64_t count, std::string_view what) {
    const size_t start = at_;
    skip(count, sizeof(float), what);
    for (size_t at = start; at < at_; at += sizeof(float)) {
      float x = 0;
      std::memcpy(&x, bytes_.data() + at, sizeof x);
      if (!std::isfinite(x)) {
        at_ = at;
        fail(fmt::format("{} holds a number that is not finite ({})", what, x));
      }
    }
  }
  bool at_end() const { return at_ == bytes_.size(); }
  size_t offset() const { return at_; }
  size_t left() const { return bytes_.size() - at_; }

 private:
  std::string_view bytes_;
  std::string_view name_;
  size_t at_ = 0;
};

struct Header {
  int32_t version = 0;
  int32_t dim = 0;
  int32_t word_ngrams = 0;
  int32_t bucket = 0;
  int32_t maxn = 0;
  int32_t words = 0;
  int32_t labels = 0;
  int64_t pruned = -1;  // pruneidx_size_: -1 not pruned, else the kept n-gram buckets
  int64_t needed_input_rows = 0;
  int32_t loss = 0;  // fastText's loss_name: 1 hs, 2 ns, 3 softmax, 4 ova
  bool quantized = false;
  size_t dictionary_offset = 0;
  std::vector<std::string> label_names;
};

void check_args(Checker& in, Header& h) {
  if (in.read<int32_t>("the magic number") != kMagic) in.fail("the magic number is not fastText's");
  h.version = in.read<int32_t>("the format version");
  if (h.version != 11 && h.version != kVersion)
    in.fail(fmt::format("format version {} (fastText 0.9 writes {})", h.version, kVersion));
  h.dim = in.read<int32_t>("dim");
  if (h.dim < 1 || h.dim > kMaxDim) in.fail(fmt::format("dim {} is outside 1-{}", h.dim, kMaxDim));
  for (const char* field : {"ws", "epoch", "minCount", "neg"}) (void)in.read<int32_t>(field);
  h.word_ngrams = in.read<int32_t>("wordNgrams");
  if (h.word_ngrams < 1 || h.word_ngrams > kMaxWordNgrams)
    in.fail(fmt::format("wordNgrams {} is outside 1-{}", h.word_ngrams, kMaxWordNgrams));
  h.loss = in.read<int32_t>("loss");
  if (h.loss < 1 || h.loss > 4) in.fail(fmt::format("loss {} is none of hs, ns, softmax, ova", h.loss));
  const auto model = in.read<int32_t>("model");
  if (model != 3)
    in.fail(model == 1 || model == 2 ? "a word-vector model (cbow or skipgram), not a classifier (supervised)"
                                     : fmt::format("model {} is none of cbow, skipgram, supervised", model));
  h.bucket = in.read<int32_t>("bucket");
  const auto minn = in.read<int32_t>("minn");
  h.maxn = in.read<int32_t>("maxn");
  if (h.version == 11) h.maxn = 0;  // as fastText reads version 11 classifiers
  if (h.bucket < 0 || minn < 0 || h.maxn < 0 || h.maxn > kMaxCharNgram)
    in.fail(fmt::format("bucket {}, minn {} or maxn {} is out of range", h.bucket, minn, h.maxn));
  if (h.bucket == 0 && (h.maxn > 0 || h.word_ngrams > 1))
    in.fail("bucket is 0 but the model hashes n-grams (wordNgrams > 1 or maxn > 0)");
  (void)in.read<int32_t>("lrUpdateRate");
  (void)in.read<double>("t");
}

void check_dictionary(Checker& in, Header& h) {
  h.dictionary_offset = in.offset();
  const auto size = in.read<int32_t>("the dictionary's size");
  h.words = in.read<int32_t>("the number of words");
  h.labels = in.read<int32_t>("the number of labels");
  const auto tokens = in.read<int64_t>("the number of tokens");
  h.pruned = in.read<int64_t>("the pruned index's size");
  if (h.words < 0 || h.labels < 1 || static_cast<int64_t>(h.words) + h.labels != size || tokens < 0)
    in.fail(fmt::format("a dictionary of {} entries with {} words and {} labels", size, h.words, h.labels));
  if (h.pruned < -1) in.fail(fmt::format("the pruned index's size is {}", h.pruned));
  int64_t previous_label_count = 0, label_total = 0;
  for (int32_t i = 0; i < size; ++i) {
    const bool is_label = i >= h.words;
    const std::string_view word = in.read_word(is_label ? "a label" : "a word");
    const auto count = in.read<int64_t>("a count");
    if (count < 0) in.fail(fmt::format("'{}' has a negative count", word));
    // Hierarchical softmax builds its Huffman tree from the label counts, assuming them in
    // decreasing order (as training writes them) and under its own 1e15 for nodes not yet
    // built; any other counts make a tree whose walk reads outside it (a fuzz finding).
    if (is_label && h.loss == 1) {
      label_total += count;  // the tree's root holds the sum: it must stay an int64
      if (count >= kHsMaxCount || (i > h.words && count > previous_label_count) || label_total > (int64_t{1} << 62))
        in.fail(
            fmt::format("label '{}' has count {}: a hierarchical-softmax model's label counts decrease and "
                        "stay under 1e15",
                        word, count));
      previous_label_count = count;
    }
    const auto type = in.read<int8_t>("an entry's type");
    if (type != (is_label ? 1 : 0))
      in.fail(fmt::format("entry {} ('{}') is typed {}; the words come first, then the labels", i, word, type));
    if (is_label) h.label_names.emplace_back(word);
  }
  int64_t largest_row = -1;
  for (int64_t i = 0; i < h.pruned; ++i) {
    const auto bucket = in.read<int32_t>("the pruned index");
    const auto row = in.read<int32_t>("the pruned index");
    if (bucket < 0 || bucket >= h.bucket || row < 0)
      in.fail(fmt::format("the pruned index maps bucket {} to row {}", bucket, row));
    largest_row = std::max<int64_t>(largest_row, row);
  }
  // The rows fastText's Dictionary::pushHash can ask of the input matrix.
  h.needed_input_rows = h.words + (h.pruned < 0 ? h.bucket : largest_row + 1);
}

// A ProductQuantizer of `dim` columns: its sub-quantizers must tile the columns exactly, or
// ProductQuantizer::addcode reads outside its centroids.
int32_t check_quantizer(Checker& in, int32_t dim, std::string_view what) {
  const auto pq_dim = in.read<int32_t>(what);
  const auto nsubq = in.read<int32_t>(what);
  const auto dsub = in.read<int32_t>(what);
  const auto lastdsub = in.read<int32_t>(what);
  if (pq_dim != dim || dsub < 1 || dsub > dim || nsubq != (dim + dsub - 1) / dsub ||
      lastdsub != dim - (nsubq - 1) * dsub)
    in.fail(fmt::format("{} of dim {}, {} sub-quantizers of {} (last {}) does not tile {} columns", what, pq_dim, nsubq,
                        dsub, lastdsub, dim));
  in.skip_floats(static_cast<int64_t>(dim) * kCentroids, what);
  return nsubq;
}

void check_matrix(Checker& in, bool quantized, int32_t dim, int64_t min_rows, int64_t exact_rows,
                  std::string_view what) {
  const bool qnorm = quantized && in.read_bool(fmt::format("{}'s qnorm", what));
  const auto rows = in.read<int64_t>(fmt::format("{}'s rows", what));
  const auto columns = in.read<int64_t>(fmt::format("{}'s columns", what));
  if (columns != dim) in.fail(fmt::format("{} has {} columns, not the model's dim {}", what, columns, dim));
  if (rows < min_rows || (exact_rows >= 0 && rows != exact_rows))
    in.fail(
        fmt::format("{} has {} rows; the dictionary needs {}", what, rows, exact_rows >= 0 ? exact_rows : min_rows));
  if (!quantized) {
    if (rows > 0 && static_cast<uint64_t>(rows) > in.left() / sizeof(float) / static_cast<uint64_t>(dim))
      in.fail(fmt::format("{} of {} x {} floats does not fit in the file", what, rows, dim));
    in.skip_floats(rows * dim, what);
    return;
  }
  const auto code_size = in.read<int32_t>(fmt::format("{}'s code size", what));
  in.skip(code_size, 1, what);
  const int32_t nsubq = check_quantizer(in, dim, fmt::format("{}'s quantizer", what));
  if (code_size != rows * nsubq)
    in.fail(fmt::format("{} holds {} codes for {} rows of {} sub-quantizers", what, code_size, rows, nsubq));
  if (qnorm) {
    in.skip(rows, 1, fmt::format("{}'s norm codes", what));
    check_quantizer(in, 1, fmt::format("{}'s norm quantizer", what));
  }
}

Header check_model(std::string_view bytes, std::string_view name) {
  Checker in(bytes, name);
  Header h;
  check_args(in, h);
  check_dictionary(in, h);
  const bool quantized = h.quantized = in.read_bool("the input matrix's quantized flag");
  if (!quantized && h.pruned >= 0) in.fail("a pruned dictionary with an input matrix that is not quantized");
  check_matrix(in, quantized, h.dim, h.needed_input_rows, h.pruned < 0 ? h.needed_input_rows : -1, "the input matrix");
  const bool quantized_output = in.read_bool("the output matrix's quantized flag") && quantized;
  check_matrix(in, quantized_output, h.dim, h.labels, h.labels, "the output matrix");
  if (!in.at_end()) in.fail(fmt::format("{} bytes follow the model's end", in.left()));
  return h;
}

// A dense input matrix at most this big (a quantized model of up to 2M rows of 16 dimensions).
constexpr int64_t kDenseInputBytesMax = 128 << 20;

// One thread's buffers: prediction allocates nothing once they have grown.
struct PredictScratch {
  std::vector<int32_t> words;
  std::vector<int32_t> hashes;
  std::vector<std::pair<std::string_view, uint32_t>> pieces;
  fasttext::Predictions predictions;
  std::unique_ptr<fasttext::Model::State> state;
  int32_t dim = 0;
  int32_t labels = 0;
};

}  // namespace

std::shared_ptr<const FastTextModel> FastTextModel::load(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(ErrorCode::not_found, fmt::format("cannot read the fastText model '{}'", path.string()));
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) throw Error(ErrorCode::not_found, fmt::format("cannot read the fastText model '{}'", path.string()));
  return from_bytes(std::move(bytes), path.string());
}

std::shared_ptr<const FastTextModel> FastTextModel::from_bytes(std::string bytes, std::string_view name) {
  const Header header = check_model(bytes, name);
  std::shared_ptr<FastTextModel> model(new FastTextModel());
  auto loaded = std::make_unique<LoadedFastText>();
  ViewBuffer buffer;
  buffer.reset(bytes.data() + 2 * sizeof(int32_t), bytes.size() - 2 * sizeof(int32_t));  // after magic and version
  std::istream in(&buffer);
  ViewBuffer dictionary_buffer;
  dictionary_buffer.reset(bytes.data() + header.dictionary_offset, bytes.size() - header.dictionary_offset);
  std::istream dictionary_in(&dictionary_buffer);
  try {
    loaded->load(in, header.version, dictionary_in, kDenseInputBytesMax);
  } catch (const std::exception& e) {  // fastText's own checks throw std::invalid_argument
    throw invalid_input(fmt::format("{}: fastText cannot load the model: {}", name, e.what()));
  }
  model->model_ = std::move(loaded);
  model->labels_ = header.label_names;
  model->shape_ = Shape{.dim = header.dim,
                        .words = header.words,
                        .word_ngrams = header.word_ngrams,
                        .input_rows = header.needed_input_rows,
                        .quantized = header.quantized,
                        .bytes = static_cast<int64_t>(bytes.size())};
  return model;
}

FastTextModel::~FastTextModel() = default;

void FastTextModel::predict(std::string_view tokens, std::span<float> probabilities) const {
  if (probabilities.size() != labels_.size())
    throw Error(ErrorCode::internal, "FastTextModel::predict: one probability a label");
  thread_local PredictScratch scratch;
  const auto labels = static_cast<int32_t>(labels_.size());
  if (!scratch.state || scratch.dim != model_->dim() || scratch.labels != labels) {
    scratch.state = std::make_unique<fasttext::Model::State>(model_->dim(), labels, 0);
    scratch.dim = model_->dim();
    scratch.labels = labels;
  }
  model_->dictionary().line_ids(tokens, scratch.words, scratch.hashes, scratch.pieces);
  scratch.predictions.clear();
  std::fill(probabilities.begin(), probabilities.end(), 0.0f);
  try {
    model_->predict_ids(scratch.words, scratch.predictions, *scratch.state);
  } catch (const std::exception& e) {  // fastText's "Encountered NaN.": finite weights that overflow
    throw invalid_input(fmt::format("the model cannot score this text: fastText: {}", e.what()));
  }
  for (const auto& [log_probability, label] : scratch.predictions)
    probabilities[static_cast<size_t>(label)] = std::exp(log_probability);
}

}  // namespace sentiflow::sentiment
