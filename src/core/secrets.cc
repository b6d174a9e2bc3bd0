#include "core/secrets.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "core/json_text.h"

namespace sentiflow {
namespace {

struct Registry {
  std::shared_mutex mutex;
  std::vector<std::pair<std::string, std::string>> values;  // (value, "${NAME}"), longest value first
  std::atomic<bool> any{false};
};

Registry& registry() {
  static Registry r;
  return r;
}

// `value` as it appears inside a JSON string (JSON logs, `validate --json`), escaped as
// append_json_quoted writes it (which is how nlohmann::json writes it too), without the quotes.
std::string json_escaped(std::string_view value) {
  std::string quoted;
  append_json_quoted_unchecked(quoted, value);
  return quoted.substr(1, quoted.size() - 2);
}

}  // namespace

void register_secret(std::string_view name, std::string_view value) {
  if (value.size() < kMinSecretBytes) return;
  auto& r = registry();
  std::unique_lock lock(r.mutex);
  const std::string reference = "${" + std::string(name) + "}";
  for (const auto& [v, ref] : r.values)
    if (v == value && ref == reference) return;
  r.values.emplace_back(std::string(value), reference);
  // Also its escaped form, for the outputs that are JSON text when redact_secrets sees them.
  if (std::string escaped = json_escaped(value); escaped != value) r.values.emplace_back(std::move(escaped), reference);
  std::stable_sort(r.values.begin(), r.values.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  r.any = true;
}

std::string redact_secrets(std::string text) {
  auto& r = registry();
  if (!r.any.load(std::memory_order_acquire)) return text;
  std::shared_lock lock(r.mutex);
  std::string out = std::move(text);
  for (const auto& [value, reference] : r.values) {
    for (size_t at = out.find(value); at != std::string::npos; at = out.find(value, at + reference.size()))
      out.replace(at, value.size(), reference);
  }
  return out;
}

void clear_secrets() {
  auto& r = registry();
  std::unique_lock lock(r.mutex);
  r.values.clear();
  r.any = false;
}

}  // namespace sentiflow
