#include "state/run_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "core/time.h"

namespace sentiflow {

void check_run_id(const std::string& id) {
  const bool ok = !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
  });
  if (!ok)
    throw invalid_input(
        fmt::format("run id '{}': 1 to 128 of A-Z a-z 0-9 - _ . : (a tick time such as "
                    "2026-11-26T06:00:00Z, or a name of yours)",
                    id));
}

bool is_tick_id(const std::string& id) {
  try {
    return format_utc(parse_utc(id)) == id;
  } catch (const Error&) {
    return false;
  }
}

std::string_view to_string(RunKind kind) {
  switch (kind) {
    case RunKind::scheduled: return "scheduled";
    case RunKind::manual: return "manual";
    case RunKind::backfill: return "backfill";
  }
  return "unknown";
}

std::string_view to_string(RunPhase phase) {
  switch (phase) {
    case RunPhase::producing: return "producing";
    case RunPhase::draining: return "draining";
    case RunPhase::finished: return "finished";
  }
  return "unknown";
}

std::optional<RunKind> parse_run_kind(std::string_view text) {
  for (const RunKind kind : {RunKind::scheduled, RunKind::manual, RunKind::backfill})
    if (to_string(kind) == text) return kind;
  return std::nullopt;
}

std::optional<RunPhase> parse_run_phase(std::string_view text) {
  for (const RunPhase phase : {RunPhase::producing, RunPhase::draining, RunPhase::finished})
    if (to_string(phase) == text) return phase;
  return std::nullopt;
}

RunCounts& RunCounts::operator+=(const RunCounts& other) {
  scanned += other.scanned;
  sent += other.sent;
  producer_errors += other.producer_errors;
  processed += other.processed;
  failed += other.failed;
  dead_letters += other.dead_letters;
  unchanged += other.unchanged;
  for (const auto& [label, count] : other.labels) labels[label] += count;
  work += other.work;
  return *this;
}

BilledWork& BilledWork::operator+=(const BilledWork& other) {
  for (const auto& [name, field] : kFields) this->*field += other.*field;
  return *this;
}

nlohmann::json to_json(const BilledWork& work) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, field] : BilledWork::kFields) j[name] = work.*field;
  return j;
}

nlohmann::json to_json(const RunRecord& r) {
  nlohmann::json j = {{"id", r.id},
                      {"kind", to_string(r.kind)},
                      {"state", to_string(r.phase)},
                      {"attempt", r.attempt},
                      {"started_at", format_utc_millis(r.started_at)},
                      {"produced_at", r.produced_at ? nlohmann::json(format_utc_millis(*r.produced_at)) : nullptr},
                      {"finished_at", r.finished_at ? nlohmann::json(format_utc_millis(*r.finished_at)) : nullptr},
                      {"scanned", r.counts.scanned},
                      {"sent", r.counts.sent},
                      {"producer_errors", r.counts.producer_errors},
                      {"processed", r.counts.processed},
                      {"failed", r.counts.failed},
                      {"dead_letters", r.counts.dead_letters},
                      {"unchanged", r.counts.unchanged},
                      {"labels", r.counts.labels},
                      {"work", to_json(r.counts.work)}};
  j["seconds"] =
      r.finished_at ? nlohmann::json(std::chrono::duration<double>(*r.finished_at - r.started_at).count()) : nullptr;
  return j;
}

}  // namespace sentiflow
