// Secrets: the values a pipeline file took from the environment (`${NAME}`), which no output
// of sentiflow may show — not `validate` (text or --json), logs, error messages, error records
// or dead-letter reasons (issue 14, fault 6). The config loader registers each value it
// substitutes; every writer of such output passes its text through redact_secrets, which shows
// each value as the reference that brought it, `${NAME}`.
//
// A process-wide registry, safe to use from any thread. Values shorter than kMinSecretBytes are
// not registered: a `${WORKERS}` of "4" would otherwise hide every 4 of every log line, and a
// secret that short is no secret.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sentiflow {

inline constexpr size_t kMinSecretBytes = 4;

// Registers `value` as the value of environment variable `name` (ignored when shorter than
// kMinSecretBytes). Registering the same pair again is a no-op.
void register_secret(std::string_view name, std::string_view value);

// `text` with every registered value replaced by `${NAME}` (the longest value first, so that a
// value holding another is replaced whole). Taken by value: while nothing is registered, `text`
// is handed back as it came, after one check (every log line passes through here).
std::string redact_secrets(std::string text);

// Forgets every registered value (for tests that load several files in one process).
void clear_secrets();

}  // namespace sentiflow
