#include "config/keys.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include "config/locations.h"
#include "core/error.h"
#include "core/strings.h"

namespace sentiflow {

std::string_view KeySpec::leaf() const {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? std::string_view(path) : std::string_view(path).substr(dot + 1);
}

std::string_view KeySpec::parent() const {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? std::string_view() : std::string_view(path).substr(0, dot);
}

namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using Apply = std::function<std::string(PipelineConfig&, std::string_view, const LoadContext&)>;

// A reference to one field of the config, for the typed key builders below.
#define FIELD(expr) \
  [](PipelineConfig & c) -> auto& { return c.expr; }

KeySpec section(std::string path, KeySpec::Presence presence, std::string doc,
                std::function<void(PipelineConfig&)> enter = nullptr) {
  KeySpec spec;
  spec.path = std::move(path);
  spec.kind = KeySpec::Kind::section;
  spec.presence = presence;
  spec.type = "section";
  spec.required = presence == KeySpec::Presence::required;
  spec.doc = std::move(doc);
  spec.enter = std::move(enter);
  return spec;
}

KeySpec value(std::string path, std::string type, std::string default_text, std::string allowed, std::string doc,
              Apply apply) {
  KeySpec spec;
  spec.path = std::move(path);
  spec.type = std::move(type);
  spec.default_text = std::move(default_text);
  spec.allowed = std::move(allowed);
  spec.doc = std::move(doc);
  spec.apply = std::move(apply);
  return spec;
}

KeySpec required(KeySpec spec) {
  spec.required = true;
  return spec;
}

KeySpec computed(KeySpec spec, std::string rule) {
  spec.default_text = std::move(rule);
  spec.default_computed = true;
  return spec;
}

int64_t parse_integer(std::string_view text, std::string_view allowed) {
  int64_t number = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc::result_out_of_range) throw invalid_input(fmt::format("{} is out of range {}", text, allowed));
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size())
    throw invalid_input(fmt::format("'{}' is not a whole number", text));
  return number;
}

template <class Get>
KeySpec integer_key(std::string path, std::string def, int64_t lo, int64_t hi, std::string doc, Get get) {
  auto allowed = fmt::format("{}-{}", lo, hi);
  return value(std::move(path), "integer", std::move(def), allowed, std::move(doc),
               [=](PipelineConfig& c, std::string_view text, const LoadContext&) {
                 const int64_t n = parse_integer(text, allowed);
                 if (n < lo || n > hi) throw invalid_input(fmt::format("{} is out of range {}-{}", n, lo, hi));
                 get(c) = static_cast<std::remove_reference_t<decltype(get(c))>>(n);
                 return std::to_string(n);
               });
}

template <class Get>
KeySpec number_key(std::string path, std::string def, double lo, double hi, bool lo_inclusive, std::string doc,
                   Get get) {
  auto allowed = fmt::format("{} {} x <= {}", lo, lo_inclusive ? "<=" : "<", hi);
  return value(std::move(path), "number", std::move(def), allowed, std::move(doc),
               [=](PipelineConfig& c, std::string_view text, const LoadContext&) {
                 double x = 0;
                 const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
                 const bool whole_text = !text.empty() && ptr == text.data() + text.size();
                 if (whole_text && ec == std::errc::result_out_of_range)
                   throw invalid_input(fmt::format("{} is out of range {}", text, allowed));
                 // from_chars reads "nan" and "inf": neither is a setting anyone means.
                 if (!whole_text || ec != std::errc{} || !std::isfinite(x))
                   throw invalid_input(fmt::format("'{}' is not a number", text));
                 if (x > hi || x < lo || (!lo_inclusive && x == lo))
                   throw invalid_input(fmt::format("{} is out of range {}", text, allowed));
                 get(c) = x;
                 return fmt::format("{}", x);
               });
}

template <class Get>
KeySpec duration_key(std::string path, std::string def, Duration lo, Duration hi, std::string doc, Get get) {
  auto allowed = fmt::format("{}-{}", format_duration(lo), format_duration(hi));
  return value(std::move(path), "duration", std::move(def), allowed, std::move(doc),
               [=](PipelineConfig& c, std::string_view text, const LoadContext&) {
                 const Duration d = parse_duration(text);
                 if (d < lo || d > hi)
                   throw invalid_input(fmt::format("{} is out of range {}", format_duration(d), allowed));
                 get(c) = d;
                 return format_duration(d);
               });
}

template <class Get>
KeySpec size_key(std::string path, std::string def, uint64_t lo, uint64_t hi, std::string doc, Get get) {
  auto allowed = fmt::format("{}-{}", format_size(lo), format_size(hi));
  return value(std::move(path), "size", std::move(def), allowed, std::move(doc),
               [=](PipelineConfig& c, std::string_view text, const LoadContext&) {
                 const uint64_t n = parse_size(text);
                 if (n < lo || n > hi)
                   throw invalid_input(fmt::format("{} is out of range {}", format_size(n), allowed));
                 get(c) = n;
                 return format_size(n);
               });
}

template <class Enum, class Get>
KeySpec choice_key(std::string path, std::string def, std::vector<std::pair<std::string, Enum>> choices,
                   std::string doc, Get get) {
  std::string allowed;
  for (const auto& [name, _] : choices) allowed += (allowed.empty() ? "" : " | ") + name;
  return value(std::move(path), "choice", std::move(def), allowed, std::move(doc),
               [=](PipelineConfig& c, std::string_view text, const LoadContext&) {
                 for (const auto& [name, choice] : choices)
                   if (text == name) {
                     get(c) = choice;
                     return name;
                   }
                 std::vector<std::string> names;
                 for (const auto& [name, _] : choices) names.push_back(name);
                 const auto guess = closest_match(text, names);
                 throw invalid_input(fmt::format("'{}' is not one of: {}{}", text, allowed,
                                                 guess ? fmt::format(" (did you mean '{}'?)", *guess) : ""));
               });
}

// Names of sentiflow-made resources are built from `name` (queues, functions, the state
// table), so it must fit the strictest of them: Lambda function names with a suffix.
std::string check_pipeline_name(std::string_view text) {
  const bool shape_ok = !text.empty() && text.size() <= 48 &&
                        ((text[0] >= 'a' && text[0] <= 'z') || (text[0] >= 'A' && text[0] <= 'Z')) &&
                        text.find_first_not_of(kNameCharacters) == std::string_view::npos;
  if (!shape_ok)
    throw invalid_input(
        fmt::format("'{}' is not a valid name: 1-48 letters, digits, '-' or '_', starting with a letter", text));
  return std::string(text);
}

// DynamoDB's rule for attribute names: non-empty, at most 64 KB. (Like every value, the
// name has been trimmed: surrounding whitespace in a pipeline file is always a typo.)
std::string check_attribute(std::string_view text) {
  if (text.empty()) throw invalid_input("the attribute name is empty");
  if (text.size() > 65535) throw invalid_input("the attribute name is longer than 64 KiB");
  return std::string(text);
}

std::string check_language(std::string_view text) {
  // The languages Comprehend's DetectSentiment accepts.
  static const std::vector<std::string> languages = {"en", "es", "fr", "de", "it", "pt",
                                                     "ar", "hi", "ja", "ko", "zh", "zh-TW"};
  for (const auto& l : languages)
    if (text == l) return l;
  const auto guess = closest_match(text, languages);
  throw invalid_input(
      fmt::format("'{}' is not a language Comprehend supports (en, es, fr, de, it, pt, ar, hi, ja, "
                  "ko, zh, zh-TW){}",
                  text, guess ? fmt::format("; did you mean '{}'?", *guess) : ""));
}

std::string check_region(std::string_view text) {
  // us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-3 ...
  const auto parts = split(text, '-');
  bool ok = parts.size() >= 3 && parts.front().size() == 2;
  for (const auto& p : parts)
    ok = ok && !p.empty() && p.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string_view::npos;
  ok = ok && parts.back().find_first_not_of("0123456789") == std::string_view::npos;
  if (!ok) throw invalid_input(fmt::format("'{}' is not an AWS region name like us-east-1", text));
  return std::string(text);
}

std::vector<KeySpec> build_keys() {
  using P = KeySpec::Presence;
  std::vector<KeySpec> keys;
  auto add = [&](KeySpec spec) { keys.push_back(std::move(spec)); };

  add(required(value(
      "name", "string", "", "1-48 of A-Z a-z 0-9 - _, starting with a letter",
      "Names the pipeline: its resources (queues, functions, the state table) and metrics.",
      [](PipelineConfig& c, std::string_view t, const LoadContext&) { return c.name = check_pipeline_name(t); })));
  add(value("schedule", "schedule", "", "rate(...) | cron(...) | at(...)",
            "When runs start, in AWS EventBridge syntax, UTC. Omit it for manual runs only (`sentiflow run --once`).",
            [](PipelineConfig& c, std::string_view t, const LoadContext&) {
              c.schedule = Schedule::parse(t);
              return c.schedule->expression();
            }));
  add(choice_key<CatchUp>("catch_up", "latest", {{"latest", CatchUp::latest}, {"none", CatchUp::none}},
                          "After downtime: `latest` fires the latest missed tick, `none` skips missed ticks.",
                          FIELD(catch_up)));
  add(value("state_dir", "path", ".sentiflow", "a directory",
            "Local state: tables, queues, checkpoints, runs and metrics timelines.",
            [](PipelineConfig& c, std::string_view t, const LoadContext& ctx) {
              c.state_dir = resolve_path(t, ctx.base_dir);
              return c.state_dir.string();
            }));

  add(section("source", P::required, "The table the producer scans."));
  add(required(value("source.table", "table URI", "", "local://NAME | dynamodb://NAME",
                     "`local://NAME` is a SQLite table under state_dir; `dynamodb://NAME` a DynamoDB table.",
                     [](PipelineConfig& c, std::string_view t, const LoadContext&) {
                       c.source.table = parse_table_location(t);
                       return c.source.table.uri;
                     })));
  add(required(value(
      "source.key", "attribute", "", "a string attribute",
      "The attribute that identifies an item; its value must be a string.",
      [](PipelineConfig& c, std::string_view t, const LoadContext&) { return c.source.key = check_attribute(t); })));
  add(value(
      "source.text", "attribute", "", "an attribute",
      "The attribute holding the text to analyse. Required unless `consumer.enrich` fetches the text.",
      [](PipelineConfig& c, std::string_view t, const LoadContext&) { return *(c.source.text = check_attribute(t)); }));
  add(value("source.seed", "path", "", "a JSON Lines file",
            "Local tables only: JSON Lines loaded, in one transaction, into the table when it is empty.",
            [](PipelineConfig& c, std::string_view t, const LoadContext& ctx) {
              c.source.seed = resolve_path(t, ctx.base_dir);
              return c.source.seed->string();
            }));
  add(integer_key("source.segments", "1", 1, 1000, "Parallel scan segments.", FIELD(source.segments)));
  add(integer_key("source.page_size", "1000", 1, 100000, "Items per scan page (a page also stops at 1 MB).",
                  FIELD(source.page_size)));
  add(choice_key<bool>("source.incremental", "false", {{"false", false}, {"true", true}},
                       "`true`: a scan sends only new items and those whose text (with `consumer.enrich`, whose "
                       "URL) changed since their result was stored; `run --run ID --full` sends all "
                       "(docs/RUNNING.md, \"Incremental scans\").",
                       FIELD(source.incremental)));

  add(section("queue", P::defaulted, "The queue between producer and consumers."));
  add(computed(value("queue.url", "queue URI", "", "local://NAME | sqs://NAME | sqs://https://…/ACCOUNT/NAME",
                     "`local://NAME` is a SQLite queue with SQS semantics under state_dir; `sqs://` an SQS standard "
                     "queue by name or by URL.",
                     [](PipelineConfig& c, std::string_view t, const LoadContext&) {
                       c.queue.url = parse_queue_location(t);
                       return c.queue.url.uri;
                     }),
               "`local://<name>`"));
  add(duration_key("queue.visibility_timeout", "30s", Duration{0}, hours{12},
                   "How long a received message stays hidden before it is delivered again. Whole seconds on SQS.",
                   FIELD(queue.visibility_timeout)));
  add(integer_key("queue.max_receive_count", "5", 1, 1000,
                  "Receives after which a message moves to the dead-letter queue.", FIELD(queue.max_receive_count)));
  add(computed(value("queue.dead_letter", "queue name", "", "1-80 of A-Z a-z 0-9 - _",
                     "The dead-letter queue's name, on the same backend as the queue.",
                     [](PipelineConfig& c, std::string_view t, const LoadContext&) {
                       return c.queue.dead_letter = check_queue_name(t);
                     }),
               "`<queue name>-dlq`"));
  add(size_key("queue.message_size_limit", "256KiB", 1024, 1024 * 1024,
               "Largest message body; a larger item becomes an error record.", FIELD(queue.message_size_limit)));
  add(duration_key("queue.retention", "4d", seconds{60}, hours{24 * 14}, "How long an unconsumed message is kept.",
                   FIELD(queue.retention)));
  add(choice_key<Durability>("queue.durability", "normal", {{"normal", Durability::normal}, {"full", Durability::full}},
                             "Local queues: `normal` (WAL, synchronous=NORMAL) or `full` (fsync each commit).",
                             FIELD(queue.durability)));

  add(section("consumer", P::defaulted, "The workers that receive batches and analyse them."));
  add(integer_key("consumer.batch_size", "10", 1, 10000, "Messages per batch.", FIELD(consumer.batch_size)));
  add(duration_key("consumer.batch_window", "0s", Duration{0}, seconds{300},
                   "How long to wait to fill a batch. Whole seconds on SQS.", FIELD(consumer.batch_window)));
  add(section("consumer.concurrency", P::defaulted, "Elastic worker count."));
  add(integer_key("consumer.concurrency.min", "1", 0, 1000, "Fewest workers; 0 scales to zero between runs.",
                  FIELD(consumer.min_concurrency)));
  add(computed(integer_key("consumer.concurrency.max", "", 1, 1000, "Most workers.", FIELD(consumer.max_concurrency)),
               "the number of cores"));
  add(section("consumer.enrich", P::optional,
              "Optional: fetch each item's text over HTTP before the analysis (e.g. Wikipedia).",
              [](PipelineConfig& c) { c.consumer.enrich = PipelineConfig::Enrich{}; }));
  add(required(value("consumer.enrich.url", "URL template", "", "http(s) URL with {attribute} placeholders",
                     "`{attr}` is replaced by the URL-encoded value of the item's attribute `attr`.",
                     [](PipelineConfig& c, std::string_view t, const LoadContext&) {
                       return c.consumer.enrich->url = check_url_template(t);
                     })));
  add(required(value("consumer.enrich.text", "JSON pointer", "", "RFC 6901 pointer",
                     "Where the text is in the JSON response, e.g. `/extract`.",
                     [](PipelineConfig& c, std::string_view t, const LoadContext&) {
                       return c.consumer.enrich->text = check_json_pointer(t);
                     })));
  add(duration_key("consumer.enrich.timeout", "5s", milliseconds{1}, minutes{5}, "Total time allowed per request.",
                   FIELD(consumer.enrich->timeout)));
  add(integer_key("consumer.enrich.retries", "3", 0, 10,
                  "Retries after the first attempt, with exponential backoff and jitter; 429, 5xx and network errors "
                  "are retried.",
                  FIELD(consumer.enrich->retries)));
  add(integer_key("consumer.enrich.concurrency", "8", 1, 1000, "Requests in flight at most.",
                  FIELD(consumer.enrich->concurrency)));
  add(number_key("consumer.enrich.rate_limit", "50", 0, 100000, false, "Requests per second at most.",
                 FIELD(consumer.enrich->rate_limit)));
  add(computed(value("consumer.enrich.user_agent", "string", "", "non-empty text",
                     "The User-Agent header (Wikipedia requires a descriptive one with a contact).",
                     [](PipelineConfig& c, std::string_view t, const LoadContext&) {
                       if (t.empty()) throw invalid_input("the User-Agent is empty");
                       return c.consumer.enrich->user_agent = std::string(t);
                     }),
               "`sentiflow/<version>`"));
  add(section("consumer.enrich.cache", P::defaulted, "An LRU cache of fetched texts."));
  add(integer_key("consumer.enrich.cache.entries", "10000", 0, 10'000'000, "Entries kept; 0 turns the cache off.",
                  FIELD(consumer.enrich->cache_entries)));
  add(duration_key("consumer.enrich.cache.ttl", "1h", Duration{0}, hours{24 * 30}, "How long an entry stays fresh.",
                   FIELD(consumer.enrich->cache_ttl)));

  add(section("sentiment", P::defaulted, "The analysis step."));
  add(choice_key<SentimentEngine>(
      "sentiment.engine", "vader",
      {{"vader", SentimentEngine::vader},
       {"comprehend", SentimentEngine::comprehend},
       {"fasttext", SentimentEngine::fasttext}},
      "`vader`: the built-in lexicon engine; `comprehend`: AWS Comprehend (BatchDetectSentiment); `fasttext`: a "
      "fastText classifier (`sentiment.model`; docs/SENTIMENT.md).",
      FIELD(sentiment.engine)));
  add(value("sentiment.language", "language code", "en", "en es fr de it pt ar hi ja ko zh zh-TW",
            "The texts' language; `vader` supports `en` only.",
            [](PipelineConfig& c, std::string_view t, const LoadContext&) {
              return c.sentiment.language = check_language(t);
            }));
  add(number_key("sentiment.mixed_threshold", "0.2", 0, 1, false,
                 "vader: the label is MIXED when pos and neg are both at least this.",
                 FIELD(sentiment.mixed_threshold)));
  add(integer_key("sentiment.concurrency", "4", 1, 64, "comprehend: calls in flight.", FIELD(sentiment.concurrency)));
  add(value("sentiment.model", "model", "builtin", "builtin | a .bin or .ftz file",
            "fasttext: the model. `builtin` is the SST-2 model compiled into the binary "
            "(data/fasttext/MODEL_CARD.md); a file is one `sentiflow train` or `fasttext` wrote, relative to the "
            "pipeline file's folder.",
            [](PipelineConfig& c, std::string_view t, const LoadContext& ctx) {
              return c.sentiment.model = t == "builtin" ? std::string(t) : resolve_path(t, ctx.base_dir).string();
            }));
  add(value("sentiment.labels", kLabelMapType, "", "{LABEL: CLASS, ...} | \"LABEL=CLASS, ...\"",
            "fasttext: the model's labels mapped to POSITIVE, NEGATIVE, NEUTRAL or MIXED, over the default rules "
            "(docs/SENTIMENT.md, \"fastText: labels\").",
            [](PipelineConfig& c, std::string_view t, const LoadContext&) {
              c.sentiment.labels = parse_label_map(t);
              return format_label_map(c.sentiment.labels);
            }));
  add(number_key("sentiment.neutral_threshold", "0.6", 0.5, 1, true,
                 "fasttext: a model without a NEUTRAL label says NEUTRAL when its top class is less likely than "
                 "this; 0.5: never.",
                 FIELD(sentiment.neutral_threshold)));

  add(section("sink", P::defaulted, "Where results and error records are written."));
  add(value("sink.store", "store URI", "out/", "a path | file:///absolute/path/ | s3://BUCKET/PREFIX/",
            "The object store; a relative path is relative to the pipeline file's folder.",
            [](PipelineConfig& c, std::string_view t, const LoadContext& ctx) {
              c.sink.store = parse_store_location(t, ctx.base_dir);
              return c.sink.store.uri;
            }));
  add(choice_key<SinkFormat>("sink.format", "jsonl", {{"jsonl", SinkFormat::jsonl}, {"csv", SinkFormat::csv}},
                             "Result objects as JSON Lines or CSV (RFC 4180, header row).", FIELD(sink.format)));
  add(choice_key<Compression>("sink.compression", "none", {{"none", Compression::none}, {"gzip", Compression::gzip}},
                              "gzip adds `.gz` to object keys.", FIELD(sink.compression)));

  add(section("aws", P::defaulted,
              "Optional AWS settings; what is unset comes from the standard AWS settings. Values here beat the "
              "environment (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL)."));
  add(value(
      "aws.region", "region", "", "e.g. us-east-1", "The AWS region.",
      [](PipelineConfig& c, std::string_view t, const LoadContext&) { return *(c.aws.region = check_region(t)); }));
  add(value("aws.profile", "string", "", "a profile name", "The profile of the shared config and credentials files.",
            [](PipelineConfig& c, std::string_view t, const LoadContext&) {
              if (t.empty()) throw invalid_input("the profile name is empty");
              return *(c.aws.profile = std::string(t));
            }));
  add(value("aws.endpoint_url", "URL", "", "http(s)://HOST[:PORT]",
            "One endpoint for every AWS service (LocalStack, moto).",
            [](PipelineConfig& c, std::string_view t, const LoadContext&) {
              c.aws.endpoint_url = parse_http_url(t);
              return c.aws.endpoint_url->text;
            }));

  add(section("lambda", P::defaulted, "Used by `sentiflow package` and `sentiflow template`."));
  add(computed(value("lambda.timeout", "duration", "", "1s-900s, whole seconds",
                     "The consumer function's timeout (the queue's visibility timeout must be at least 6 times it, "
                     "as AWS advises for SQS triggers; `template` refuses less); the producer's too when set "
                     "here, else the producer gets 900s.",
                     [](PipelineConfig& c, std::string_view t, const LoadContext&) {
                       const Duration d = parse_duration(t);
                       if (d.count() % 1000 != 0)
                         throw invalid_input(fmt::format("{} is not whole seconds, as Lambda requires", t));
                       if (d < seconds{1} || d > seconds{900})
                         throw invalid_input(fmt::format("{} is out of range 1s-900s", format_duration(d)));
                       c.lambda.timeout = std::chrono::duration_cast<seconds>(d);
                       return format_duration(d);
                     }),
               "`queue.visibility_timeout` / 6"));
  add(integer_key("lambda.memory", "512", 128, 10240, "Memory in MB.", FIELD(lambda.memory_mb)));

  add(section("cost", P::defaulted,
              "The AWS prices of `sentiflow cost` and of the runs' cost (docs/COST.md), in dollars: us-east-1 list "
              "prices unless set here."));
  const auto price = [&](std::string path, std::string def, std::string doc, auto field) {
    add(number_key(std::move(path), std::move(def), 0, 1e6, true, std::move(doc), field));
  };
  price("cost.comprehend_unit", "0.0001",
        "Comprehend: a unit (100 characters, at least 3 a text) of the month's first 10 M.",
        FIELD(cost.comprehend_unit));
  price("cost.comprehend_unit_over_10m", "0.00005", "Comprehend: a unit past the month's 10 M.",
        FIELD(cost.comprehend_unit_over_10m));
  price("cost.comprehend_unit_over_50m", "0.000025", "Comprehend: a unit past the month's 50 M.",
        FIELD(cost.comprehend_unit_over_50m));
  price("cost.sqs_per_million", "0.4", "SQS: a million requests (each 64 KiB of a request's payload is one).",
        FIELD(cost.sqs_per_million));
  price("cost.lambda_per_million", "0.2", "Lambda: a million invocations.", FIELD(cost.lambda_per_million));
  price("cost.lambda_gb_second", "0.0000166667", "Lambda: a GB-second of duration (x86_64).",
        FIELD(cost.lambda_gb_second));
  price("cost.s3_put_per_thousand", "0.005", "S3: a thousand PUT requests.", FIELD(cost.s3_put_per_thousand));
  price("cost.dynamodb_read_per_million", "0.125", "DynamoDB on demand: a million read request units.",
        FIELD(cost.dynamodb_read_per_million));
  price("cost.dynamodb_write_per_million", "0.625", "DynamoDB on demand: a million write request units.",
        FIELD(cost.dynamodb_write_per_million));
  price("cost.scheduler_per_million", "1", "EventBridge Scheduler: a million invocations.",
        FIELD(cost.scheduler_per_million));

  add(section("observe", P::defaulted, "Metrics and the dashboard."));
  add(value("observe.listen", "address", "", "HOST:PORT", "Serve /metrics and the dashboard during `sentiflow run`.",
            [](PipelineConfig& c, std::string_view t, const LoadContext&) {
              c.observe.listen = parse_listen_address(t);
              return c.observe.listen->text();
            }));
  return keys;
}

#undef FIELD

// Escapes '|' so that text stays inside one Markdown table cell.
std::string cell(std::string_view text) {
  std::string out;
  for (char ch : text) {
    if (ch == '|')
      out += "\\|";
    else
      out += ch;
  }
  return out;
}

}  // namespace

const std::vector<KeySpec>& pipeline_keys() {
  static const std::vector<KeySpec> keys = build_keys();
  return keys;
}

const KeySpec* find_key(std::string_view path) {
  for (const auto& key : pipeline_keys())
    if (key.path == path) return &key;
  return nullptr;
}

std::string render_reference_markdown() {
  std::string out;
  const auto table_header = "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
  bool open_table = false;
  for (const auto& key : pipeline_keys()) {
    if (key.kind == KeySpec::Kind::section) {
      const char* presence = key.presence == KeySpec::Presence::required   ? "required"
                             : key.presence == KeySpec::Presence::optional ? "optional: present turns it on"
                                                                           : "optional";
      out += fmt::format("\n### `{}` ({})\n\n{}\n\n{}", key.path, presence, key.doc, table_header);
      open_table = true;
      continue;
    }
    if (!open_table) {
      out += fmt::format("### top level\n\n{}", table_header);
      open_table = true;
    }
    std::string def = key.required               ? "**required**"
                      : key.default_text.empty() ? "unset"
                      : key.default_computed     ? key.default_text
                                                 : fmt::format("`{}`", key.default_text);
    out +=
        fmt::format("| `{}` | {} | {} | {} | {} |\n", key.path, key.type, cell(def), cell(key.allowed), cell(key.doc));
  }
  return out;
}

}  // namespace sentiflow
