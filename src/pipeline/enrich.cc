#include "pipeline/enrich.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "core/utf8.h"
#include "net/backoff.h"
#include "net/http_client.h"
#include "net/url.h"

namespace sentiflow::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kBackoffBase{100};
constexpr milliseconds kBackoffCap{5'000};
constexpr size_t kBodyExcerptBytes = 160;
// The most one response may hold (decompressed), so that the bytes in flight stay within
// concurrency × 4 MiB: a page summary is a few KiB, a peer that answers gigabytes fails its item.
constexpr size_t kMaxResponseBytes = 4u << 20;

// The start of an error body for a reason (Wikimedia's 403 says "Please set a user-agent ..."),
// on one line, or nothing when it is not text worth showing.
std::string body_excerpt(std::string_view body) {
  std::string_view head = body.substr(0, kBodyExcerptBytes);
  // Back off to a character boundary: a cut inside a sequence is not valid UTF-8.
  while (!head.empty() && head.size() < body.size() && (static_cast<unsigned char>(body[head.size()]) & 0xC0) == 0x80)
    head.remove_suffix(1);
  // An HTML error page says nothing in 160 bytes; a JSON problem or plain text usually does.
  if (head.empty() || head.front() == '<' || !is_valid_utf8(head)) return {};
  std::string out(head);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return out.size() < body.size() ? out + "..." : out;
}

// A Retry-After of delay-seconds (RFC 9110 section 10.2.3); an HTTP-date gives nullopt.
std::optional<milliseconds> parse_retry_after(const std::optional<std::string>& header) {
  if (!header || header->empty() || header->size() > 9) return std::nullopt;
  int seconds = 0;
  const char* end = header->data() + header->size();
  const auto [stop, error] = std::from_chars(header->data(), end, seconds);
  if (error != std::errc() || stop != end || seconds < 0) return std::nullopt;
  return std::chrono::seconds(seconds);
}

// Starts at most `rate` requests per second with bursts of `burst`. A caller that finds no
// token reserves the next one (the balance goes negative) and sleeps until it is due, so
// waiting callers are served in order and never spin. A rate of 0 or less (which
// load_pipeline refuses) means no limit rather than a division by zero.
class RateLimiter {
 public:
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst), last_(Clock::now()) {}

  void acquire() {
    if (!(rate_ > 0)) return;
    std::chrono::duration<double> wait{0};
    {
      std::lock_guard lock(mutex_);
      const auto now = Clock::now();
      tokens_ = std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
      last_ = now;
      tokens_ -= 1;
      if (tokens_ < 0) wait = std::chrono::duration<double>(-tokens_ / rate_);
    }
    if (wait.count() > 0) std::this_thread::sleep_for(wait);
  }

 private:
  std::mutex mutex_;
  const double rate_;
  const double burst_;
  double tokens_;
  Clock::time_point last_;
};

// Successful texts by URL: least recently used out first, stale entries dropped when read.
class TextCache {
 public:
  TextCache(size_t capacity, milliseconds ttl) : capacity_(ttl.count() > 0 ? capacity : 0), ttl_(ttl) {}

  std::optional<std::string> get(const std::string& url) {
    if (capacity_ == 0) return std::nullopt;
    std::lock_guard lock(mutex_);
    const auto found = index_.find(url);
    if (found == index_.end()) return std::nullopt;
    const auto entry = found->second;
    if (Clock::now() >= entry->expires) {
      index_.erase(found);
      entries_.erase(entry);
      return std::nullopt;
    }
    entries_.splice(entries_.begin(), entries_, entry);
    return entry->text;
  }

  void put(const std::string& url, const std::string& text) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mutex_);
    const auto expires = Clock::now() + ttl_;
    if (const auto found = index_.find(url); found != index_.end()) {
      found->second->text = text;
      found->second->expires = expires;
      entries_.splice(entries_.begin(), entries_, found->second);
      return;
    }
    entries_.push_front({url, text, expires});
    // The key views the node's own URL: list nodes never move, and the two go together.
    index_.emplace(entries_.front().url, entries_.begin());
    if (entries_.size() > capacity_) {
      index_.erase(entries_.back().url);
      entries_.pop_back();
    }
  }

 private:
  struct Entry {
    std::string url;
    std::string text;
    Clock::time_point expires;
  };
  // Lookups by std::string key into a map of views.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  const size_t capacity_;
  const milliseconds ttl_;
  std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator, Hash, std::equal_to<>> index_;
};

// What a pool thread owns: its connections and its own random sequence.
struct Worker {
  HttpClient client;
  Backoff backoff;
};

// The items of one fetch_all call still being fetched; the caller waits for `pending` = 0.
struct Batch {
  std::mutex mutex;
  std::condition_variable done;
  size_t pending = 0;
};

struct Job {
  const std::string* url;
  Enricher::Outcome* outcome;
  Batch* batch;
};

nlohmann::json::json_pointer parse_pointer(const std::string& text) {
  try {
    return nlohmann::json::json_pointer(text);
  } catch (const nlohmann::json::exception& e) {
    throw invalid_input(fmt::format("consumer.enrich.text '{}' is not a JSON pointer: {}", text, e.what()));
  }
}

}  // namespace

// Thirteen members, one step's state: the settings (options, pointer), the limits shared by
// every caller (limiter, cache), the four metrics, and the pool (its jobs and stopping flag,
// their guard and wake-up, its threads). The pool's threads use all of it, so it stays one
// struct.
struct Enricher::State {
  State(const PipelineConfig::Enrich& config, Metrics& metrics)
      : options(config),
        pointer(parse_pointer(config.text)),
        limiter(config.rate_limit, std::max(1.0, config.rate_limit / 10)),
        cache(static_cast<size_t>(std::max(config.cache_entries, 0)), config.cache_ttl),
        retries(metrics.counter("sentiflow_enrich_retries_total", "Enrich HTTP attempts after the first of a fetch.")),
        cache_hits(metrics.counter("sentiflow_enrich_cache_hits_total", "Enrich items answered from the cache.")),
        seconds(metrics.histogram("sentiflow_enrich_seconds", "Time of one enrich fetch, retries included.")) {
    static constexpr std::array kCodes{ErrorCode::invalid_input, ErrorCode::not_found, ErrorCode::throttled,
                                       ErrorCode::transient,     ErrorCode::conflict,  ErrorCode::internal};
    static_assert(kCodes.size() + 1 == std::tuple_size_v<decltype(outcomes)>);
    constexpr std::string_view kName = "sentiflow_enrich_requests_total";
    constexpr std::string_view kHelp = "Enrich fetches that went to the network, by outcome.";
    outcomes[0] = &metrics.counter(kName, kHelp, {{"outcome", "ok"}});
    for (const ErrorCode code : kCodes)
      outcomes[static_cast<size_t>(code) + 1] =
          &metrics.counter(kName, kHelp, {{"outcome", std::string(to_string(code))}});
  }

  Counter& outcome_counter(const Outcome& outcome) {
    return *outcomes[outcome.ok() ? 0 : static_cast<size_t>(outcome.error->code()) + 1];
  }

  void start(size_t count);
  void stop();
  void work(Worker& worker);
  void run(const Job& job, Worker& worker);
  Outcome fetch(Worker& worker, const std::string& url);
  std::string fetch_text(Worker& worker, const std::string& url);
  std::string extract(const std::string& body, std::string_view where) const;

  const PipelineConfig::Enrich options;
  const nlohmann::json::json_pointer pointer;
  RateLimiter limiter;
  TextCache cache;
  Counter& retries;
  Counter& cache_hits;
  Histogram& seconds;
  std::array<Counter*, 7> outcomes{};  // [0] ok, then by ErrorCode

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Job> jobs;   // guarded by mutex
  bool stopping = false;  // guarded by mutex
  std::vector<std::thread> threads;
};

void Enricher::State::start(size_t count) {
  // The clients are made here, not in the threads, so that a failure reaches the caller.
  std::vector<Worker> workers;
  workers.reserve(count);
  for (size_t i = 0; i < count; ++i)
    workers.push_back({HttpClient(options.user_agent), Backoff(kBackoffBase, kBackoffCap)});
  threads.reserve(count);
  try {
    for (auto& worker : workers) threads.emplace_back([this, w = std::move(worker)]() mutable { work(w); });
  } catch (const std::system_error& e) {
    stop();
    throw Error(ErrorCode::internal, fmt::format("cannot start the enrich threads: {}", e.what()));
  }
}

void Enricher::State::stop() {
  {
    std::lock_guard lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  for (auto& thread : threads) thread.join();
  threads.clear();
}

void Enricher::State::work(Worker& worker) {
  for (;;) {
    Job job{};
    {
      std::unique_lock lock(mutex);
      wake.wait(lock, [&] { return stopping || !jobs.empty(); });
      if (jobs.empty()) return;  // stopping, and every queued job is done: drained
      job = jobs.front();
      jobs.pop_front();
    }
    run(job, worker);
  }
}

void Enricher::State::run(const Job& job, Worker& worker) {
  Outcome outcome = fetch(worker, *job.url);
  if (outcome.ok()) cache.put(*job.url, outcome.text);
  *job.outcome = std::move(outcome);
  // Notify under the lock: once pending is 0 the caller may return and destroy the batch.
  std::lock_guard lock(job.batch->mutex);
  if (--job.batch->pending == 0) job.batch->done.notify_one();
}

Enricher::Outcome Enricher::State::fetch(Worker& worker, const std::string& url) {
  const auto started = Clock::now();
  Outcome outcome;
  try {
    outcome.text = fetch_text(worker, url);
  } catch (const Error& e) {
    outcome.error = e;
  } catch (const std::exception& e) {  // a bug or no memory: fail the item, keep the thread
    outcome.error = Error(ErrorCode::internal, fmt::format("GET {}: {}", without_query(url), e.what()));
  }
  seconds.observe(std::chrono::duration<double>(Clock::now() - started).count());
  outcome_counter(outcome).add();
  return outcome;
}

std::string Enricher::State::fetch_text(Worker& worker, const std::string& url) {
  const std::string where = fmt::format("GET {}", without_query(url));
  const HttpRequest request{.url = url,
                            .timeout = options.timeout,
                            .follow_redirects = true,
                            .accept_compressed = true,
                            .max_response_bytes = kMaxResponseBytes,
                            // A URL from data must not reach this host through a redirect.
                            .refuse_internal_redirects = true};
  const auto attempts = static_cast<unsigned>(options.retries) + 1;
  for (unsigned attempt = 1;; ++attempt) {
    limiter.acquire();
    std::optional<HttpResponse> response;
    std::optional<Error> failure;  // a retryable one
    try {
      response = worker.client.send(request);
    } catch (const Error& e) {
      // No response (refused, reset, timed out) is worth another try; an unusable URL or an
      // oversized body is not.
      if (e.code() != ErrorCode::transient) throw;
      failure = e;
    }
    std::optional<milliseconds> retry_after;
    if (response) {
      if (response->status >= 200 && response->status < 300) return extract(response->body, where);
      const std::string excerpt = body_excerpt(response->body);
      const std::string reason =
          fmt::format("{}: HTTP {}{}{}", where, response->status, excerpt.empty() ? "" : ": ", excerpt);
      if (response->status == 404 || response->status == 410) throw Error(ErrorCode::not_found, reason);
      if (!is_retryable_status(response->status)) throw invalid_input(reason);
      failure = Error(response->status == 429 ? ErrorCode::throttled : ErrorCode::transient, reason);
      retry_after = parse_retry_after(response->header("retry-after"));
    }
    if (attempt >= attempts)
      throw Error(failure->code(),
                  fmt::format("{} (gave up after {} attempt{})", failure->what(), attempts, attempts == 1 ? "" : "s"));
    auto wait = worker.backoff.delay(attempt - 1);
    if (retry_after) wait = std::max(wait, std::min(*retry_after, kBackoffCap));
    retries.add();
    std::this_thread::sleep_for(wait);
  }
}

std::string Enricher::State::extract(const std::string& body, std::string_view where) const {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw invalid_input(fmt::format("{}: the response is not JSON ({})", where, e.what()));
  }
  const nlohmann::json* value = nullptr;
  try {
    value = &document.at(pointer);
  } catch (const nlohmann::json::exception&) {
    throw invalid_input(fmt::format("{}: the response has nothing at {}", where, options.text));
  }
  if (!value->is_string())
    throw invalid_input(
        fmt::format("{}: the value at {} is {}, not a string", where, options.text, value->type_name()));
  return value->get<std::string>();
}

Enricher::Enricher(const PipelineConfig::Enrich& options, Metrics& metrics)
    : state_(std::make_unique<State>(options, metrics)) {
  state_->start(static_cast<size_t>(std::max(options.concurrency, 1)));
}

Enricher::~Enricher() { state_->stop(); }

std::vector<Enricher::Outcome> Enricher::fetch_all(std::span<const AttributeLookup> items) {
  std::vector<Outcome> outcomes(items.size());
  std::vector<std::string> urls(items.size());         // sized once: the views below stay valid
  std::unordered_map<std::string_view, size_t> first;  // URL -> the item that fetches it
  std::vector<std::pair<size_t, size_t>> copies;       // (duplicate, the item it copies)
  Batch batch;
  std::vector<Job> jobs;
  for (size_t i = 0; i < items.size(); ++i) {
    try {
      urls[i] = expand_url_template(state_->options.url, items[i]);
    } catch (const Error& e) {
      outcomes[i].error = e;
      continue;
    }
    if (auto hit = state_->cache.get(urls[i])) {
      outcomes[i].text = std::move(*hit);
      state_->cache_hits.add();
      continue;
    }
    const auto [found, inserted] = first.emplace(urls[i], i);
    if (!inserted) {
      copies.emplace_back(i, found->second);
      continue;
    }
    jobs.push_back({&urls[i], &outcomes[i], &batch});
  }
  if (!jobs.empty()) {
    batch.pending = jobs.size();
    {
      std::lock_guard lock(state_->mutex);
      state_->jobs.insert(state_->jobs.end(), jobs.begin(), jobs.end());
    }
    state_->wake.notify_all();
    std::unique_lock lock(batch.mutex);
    batch.done.wait(lock, [&] { return batch.pending == 0; });
  }
  for (const auto& [duplicate, original] : copies) outcomes[duplicate] = outcomes[original];
  return outcomes;
}

}  // namespace sentiflow::pipeline
