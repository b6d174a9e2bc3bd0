// `sentiflow table import|scan|count`: load, read and count a pipeline's source table
// (docs/EMBEDDED.md, "Command line").
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "config/loader.h"
#include "core/error.h"
#include "assembly/backends.h"
#include "table/import.h"

namespace sentiflow::cli {
namespace {

// Which table: the pipeline's source table, or one by name in a state directory.
struct TableTarget {
  std::string pipeline;
  std::string state_dir;
  std::string table;
  std::string key;
  std::string sort_key;
};

void add_target_options(CLI::App* cmd, TableTarget& t) {
  cmd->add_option("--pipeline", t.pipeline, "The pipeline file: its state_dir, source table and key");
  cmd->add_option("--state-dir", t.state_dir, "A state directory, without a pipeline file (needs --table)");
  cmd->add_option("--table", t.table, "With --state-dir: the table's name");
  cmd->add_option("--key", t.key, "With --state-dir: the key attribute (needed to create the table)");
  cmd->add_option("--sort-key", t.sort_key, "With --state-dir: the sort key attribute, if the table has one");
}

// The table opened for a command, and its URI (for messages).
struct OpenedTable {
  std::unique_ptr<Table> table;
  std::string uri;
  int page_size = 1000;
};

// Opens the target's table. `importing`: a missing local table is created (with --pipeline's key,
// or --key with --state-dir). Otherwise nothing is created: a local table the user named that is
// not there is invalid input (exit status 2), like a mistyped queue; a missing DynamoDB table is
// DescribeTable's not_found. A pipeline's table comes from the backend factory (local:// or
// dynamodb://); a DynamoDB table is never created here, `importing` or not.
OpenedTable open(const TableTarget& t, bool importing) {
  if (t.pipeline.empty() == t.state_dir.empty()) throw invalid_input("give either --pipeline FILE or --state-dir DIR");
  const auto require_file = [](const std::filesystem::path& file, const std::string& uri) {
    if (!std::filesystem::exists(file))
      throw invalid_input(
          fmt::format("table {} does not exist yet ({}); `sentiflow table import` loads it", uri, file.string()));
  };
  if (!t.pipeline.empty()) {
    const PipelineConfig c = load_pipeline_or_throw(t.pipeline);
    if (!importing && c.source.table.backend == TableLocation::Backend::local)
      require_file(assembly::local_table_file(c.state_dir, c.source.table.name), c.source.table.uri);
    return {assembly::open_table(c, importing), c.source.table.uri, c.source.page_size};
  }
  if (t.table.empty()) throw invalid_input("--state-dir needs --table NAME");
  const std::filesystem::path file = assembly::local_table_file(t.state_dir, t.table);
  std::optional<KeySchema> key;
  if (!t.key.empty())
    key = KeySchema{t.key, t.sort_key.empty() ? std::nullopt : std::optional<std::string>(t.sort_key)};
  const std::string uri = "local://" + t.table;
  if (!importing) require_file(file, uri);
  if (!key && !std::filesystem::exists(file))
    throw invalid_input(
        fmt::format("table {} does not exist ({}); creating it needs --key NAME (and --sort-key NAME "
                    "if it has one)",
                    uri, file.string()));
  return {assembly::open_local_table(t.state_dir, t.table, key), uri, 1000};
}

int import(const TableTarget& t, const std::string& file, std::string format, bool if_empty, bool json) {
  if (format.empty()) format = file.ends_with(".csv") ? "csv" : "jsonl";
  std::ifstream in_file;
  if (file != "-") {
    in_file.open(file, std::ios::binary);
    if (!in_file) throw invalid_input(fmt::format("cannot read {}", file));
  }
  std::istream& in = file == "-" ? std::cin : in_file;
  const OpenedTable r = open(t, true);
  const ImportReport report =
      import_items(*r.table, r.uri, in, format == "csv" ? ImportFormat::csv : ImportFormat::json_lines, if_empty);
  if (json) {
    nlohmann::ordered_json out = {{"table", r.uri},
                                  {"imported", report.imported},
                                  {"skipped", report.skipped},
                                  {"table_was_not_empty", report.table_was_not_empty}};
    out["errors"] = nlohmann::ordered_json::array();
    for (const auto& e : report.errors) {
      nlohmann::ordered_json error = {{"line", e.line}};
      if (e.last_line > e.line) error["last_line"] = e.last_line;
      error["error"] = e.message;
      out["errors"].push_back(std::move(error));
    }
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    size_t shown = 0;  // lines, counting every line of an error over several
    for (const auto& e : report.errors) {
      std::cerr << fmt::format("{}:{}: {}\n", file, e.line, e.message);
      shown += std::max(e.line, e.last_line) - e.line + 1;
    }
    if (report.skipped > shown)
      std::cerr << fmt::format("{}: {} more malformed lines not shown\n", file, report.skipped - shown);
    if (report.table_was_not_empty)
      std::cout << fmt::format("{} is not empty: nothing imported (--if-empty)\n", r.uri);
    else
      std::cout << fmt::format(
          "imported {} item{} into {}{}\n", report.imported, report.imported == 1 ? "" : "s", r.uri,
          report.skipped ? fmt::format("; {} malformed line{} skipped", report.skipped, report.skipped == 1 ? "" : "s")
                         : "");
  }
  return report.skipped > 0 ? 2 : 0;  // bad input lines, as `sentiflow sentiment` reports them
}

void scan(const TableTarget& t, int segment, int segments, int64_t limit, int page_size) {
  const OpenedTable r = open(t, false);
  Table& table = *r.table;
  ScanRequest request;
  request.segment = segment;
  request.total_segments = segments;
  request.limit = static_cast<size_t>(page_size > 0 ? page_size : r.page_size);
  int64_t printed = 0;
  std::string out;
  do {
    if (limit >= 0) request.limit = std::min<size_t>(request.limit, static_cast<size_t>(limit - printed));
    if (request.limit == 0) break;
    const ScanPage page = table.scan(request);
    for (const auto& item : page.items) out += item + "\n";
    printed += static_cast<int64_t>(page.items.size());
    std::cout << out;
    out.clear();
    request.start_token = page.next_token;
  } while (!request.start_token.empty());
}

}  // namespace

void add_table_command(CLI::App& app, int& status) {
  auto* table = app.add_subcommand("table", "Load, read and count a pipeline's source table: import, scan, count");
  table->require_subcommand(1);
  table->footer(
      "Each subcommand takes --pipeline FILE (the pipeline's state_dir, source table and key) or --state-dir DIR\n"
      "with --table NAME. A pipeline's table may be local:// or dynamodb:// (which must exist: it is never created).");
  auto target = std::make_shared<TableTarget>();

  struct ImportOptions {
    std::string file;
    std::string format;
    bool if_empty = false;
    bool json = false;
  };
  auto import_options = std::make_shared<ImportOptions>();
  auto* import_cmd =
      table->add_subcommand("import", "Load items from JSON Lines or CSV (local:// tables: in one transaction)");
  add_target_options(import_cmd, *target);
  import_cmd->add_option("FILE", import_options->file, "The file (- for stdin)")->required();
  import_cmd->add_option("--format", import_options->format, "jsonl or csv (default: by the file's extension)")
      ->check(CLI::IsMember({"jsonl", "csv"}));
  import_cmd->add_flag("--if-empty", import_options->if_empty, "Import only into an empty table (as a seed)");
  import_cmd->add_flag("--json", import_options->json, "Print the report as one JSON object");
  import_cmd->footer(
      "JSON Lines: one object per line. CSV: a header row naming the attributes, then one item per row; every\n"
      "value is a string. An item with the key replaces the one there. A malformed line is reported on stderr\n"
      "(FILE:LINE: why) and skipped; the exit status is then 2. A local:// table imports all or nothing if the\n"
      "import itself fails. A dynamodb:// table takes JSON Lines only, in batches of 25: not atomic, the items\n"
      "written before a failure stay in the table (the error says how many).");
  import_cmd->callback([target, import_options, &status] {
    status =
        import(*target, import_options->file, import_options->format, import_options->if_empty, import_options->json);
  });

  struct ScanOptions {
    int segment = 0;
    int segments = 1;
    int64_t limit = -1;
    int page_size = 0;
  };
  auto scan_options = std::make_shared<ScanOptions>();
  auto* scan_cmd = table->add_subcommand("scan", "Print the items as JSON Lines, exactly as stored");
  add_target_options(scan_cmd, *target);
  scan_cmd->add_option("--segment", scan_options->segment, "Scan only this segment (0-based) ...")
      ->capture_default_str();
  scan_cmd->add_option("--segments", scan_options->segments, "... of this many")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  scan_cmd->add_option("--limit", scan_options->limit, "At most this many items")->check(CLI::NonNegativeNumber);
  scan_cmd->add_option("--page-size", scan_options->page_size, "Items per page read (default: source.page_size)")
      ->check(CLI::Range(1, 100000));
  scan_cmd->callback([target, scan_options, &status] {
    scan(*target, scan_options->segment, scan_options->segments, scan_options->limit, scan_options->page_size);
    status = 0;
  });

  auto json = std::make_shared<bool>(false);
  auto* count_cmd = table->add_subcommand("count", "Print the number of items");
  add_target_options(count_cmd, *target);
  count_cmd->add_flag("--json", *json, "Print {\"table\", \"count\"}");
  count_cmd->callback([target, json, &status] {
    const OpenedTable r = open(*target, false);
    const int64_t count = r.table->count();
    if (*json)
      std::cout << nlohmann::ordered_json{{"table", r.uri}, {"count", count}}.dump() << "\n";
    else
      std::cout << count << "\n";
    status = 0;
  });
}

}  // namespace sentiflow::cli
