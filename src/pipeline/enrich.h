// Enricher: the consumer's optional fetch step (DESIGN.md, consumer.enrich; the seed's
// Wikipedia step). For each item it GETs the URL template with the item's attributes
// URL-encoded into it and takes the text at a JSON pointer of the response.
//
// - Retries: 429, 5xx (not 501) and network errors/timeouts are retried `retries` times with
//   full-jitter exponential backoff (net/backoff.h; base 100 ms, cap 5 s). A Retry-After in
//   seconds is honoured up to the cap (the wait is the longer of it and the jittered delay);
//   an HTTP-date Retry-After is ignored. Any other status fails at once. Redirects are
//   followed (Wikipedia answers a redirect title with a 302); `timeout` bounds each attempt.
// - Concurrency: at most `concurrency` requests in flight across every caller of one Enricher
//   (a fixed pool of that many threads, each with its own HttpClient, so connections are kept
//   alive). Rate: at most `rate_limit` requests started per second (a token bucket with a
//   burst of max(1, rate_limit / 10)); retries count.
// - Cache: an LRU of `cache_entries` successful texts keyed by the expanded URL, each kept for
//   `cache_ttl` (0 entries or a ttl of 0: no cache). Failures are not cached. Items of one
//   fetch_all call with the same URL share one fetch.
// - User-Agent: `user_agent` on every request (Wikipedia refuses requests without one).
//
// A failed fetch fails that item only: its Outcome holds the Error — not_found for 404/410,
// invalid_input for a missing template attribute, another non-retryable status, a response
// that is not JSON or a pointer that does not lead to a string, throttled (last answer 429)
// or transient when retries ran out — with a reason that names the URL (without its query)
// and the last status or network error.
//
// Safe to share between threads; fetch_all may be called by many consumer threads at once.
// Metrics (into `metrics`):
//   sentiflow_enrich_requests_total{outcome}  fetches that went to the network (cache hits and
//       items without a URL excluded; duplicates counted once), by outcome: "ok" or the
//       error code (not_found, invalid_input, throttled, transient, ...)
//   sentiflow_enrich_retries_total            HTTP attempts after the first of a fetch
//   sentiflow_enrich_cache_hits_total         items answered from the cache
//   sentiflow_enrich_seconds                  histogram of one fetch, rate waits and retries included
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/pipeline_config.h"
#include "core/error.h"
#include "observe/metrics.h"

namespace sentiflow::pipeline {

class Enricher {
 public:
  // An item's attribute by name as text (json_scalar_text of core/json_text.h), or nullopt.
  using AttributeLookup = std::function<std::optional<std::string>(std::string_view name)>;

  struct Outcome {
    std::string text;
    std::optional<Error> error;
    bool ok() const { return !error.has_value(); }
  };

  // Starts the pool. Throws Error(invalid_input) for a `text` that is not a JSON pointer
  // (load_pipeline has checked it already) and Error(internal) when threads or HTTP handles
  // cannot be created.
  explicit Enricher(const PipelineConfig::Enrich& options, Metrics& metrics = Metrics::global());
  ~Enricher();  // waits for requests in flight, then stops the pool
  Enricher(const Enricher&) = delete;
  Enricher& operator=(const Enricher&) = delete;

  // The text of each item, outcomes[i] for items[i], fetched concurrently; returns when all
  // are done. Never throws for one item's failure.
  std::vector<Outcome> fetch_all(std::span<const AttributeLookup> items);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sentiflow::pipeline
