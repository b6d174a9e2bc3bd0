#include "table/local_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "core/error.h"
#include "core/json_text.h"
#include "core/strings.h"
#include "table/csv.h"
#include "table/json_item.h"
#include "sqlite/sqlite.h"

namespace sentiflow {
namespace {

using sqlite::Database;
using sqlite::Statement;
using sqlite::WriteTransaction;
using table_detail::parse_item;
using table_detail::ParsedItem;

// 'SFLT': marks a SQLite file as a sentiflow table file.
constexpr int64_t kApplicationId = 0x53464C54;
constexpr int64_t kSchemaVersion = 1;

// WITHOUT ROWID: a scan in key order reads the items themselves, not an index and then the
// rows. sk is '' when the table has no sort key (DynamoDB keys are never empty strings).
constexpr const char* kSchema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items(
  segment_hash INTEGER NOT NULL,  -- segment_hash(pk): orders scans and splits segments
  pk TEXT NOT NULL,
  sk TEXT NOT NULL,
  item TEXT NOT NULL,
  PRIMARY KEY (segment_hash, pk, sk)
) WITHOUT ROWID;
)sql";

constexpr uint64_t kHashSpace = 1ULL << 32;

// FNV-1a (64 bits) of the partition key, finished with MurmurHash3's fmix64 because FNV's
// high bits mix poorly on their own; the top 32 bits. Never change it: the scan order and
// every continuation token depend on it.
int64_t segment_hash(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return static_cast<int64_t>(h >> 32);
}

void check_table_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 255;
  for (const char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                c == '.');
  if (!ok) throw invalid_input(fmt::format("table name '{}' must be 1-255 of A-Z a-z 0-9 _ - .", name));
}

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
    if (ec != std::errc() || end != hex.data() + i + 2) return std::nullopt;
    out += static_cast<char>(value);
  }
  return out;
}

// A scan position: the last key a page returned, and the segment it belongs to.
struct ScanToken {
  int total_segments = 1;
  int segment = 0;
  int64_t hash = 0;
  std::string pk;
  std::string sk;
};

std::string format_token(const ScanToken& t) {
  return fmt::format("1.{}.{}.{:x}.{}.{}", t.total_segments, t.segment, t.hash, to_hex(t.pk), to_hex(t.sk));
}

std::optional<ScanToken> parse_token(std::string_view text) {
  const auto parts = split(text, '.');
  if (parts.size() != 6 || parts[0] != "1") return std::nullopt;
  ScanToken t;
  const auto number = [](std::string_view p, auto& value, int base) {
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value, base);
    return !p.empty() && ec == std::errc() && end == p.data() + p.size();
  };
  if (!number(parts[1], t.total_segments, 10) || !number(parts[2], t.segment, 10) || !number(parts[3], t.hash, 16))
    return std::nullopt;
  auto pk = from_hex(parts[4]);
  auto sk = from_hex(parts[5]);
  if (!pk || !sk) return std::nullopt;
  t.pk = std::move(*pk);
  t.sk = std::move(*sk);
  return t;
}

std::string describe(const KeySchema& schema) {
  return schema.sort_key ? fmt::format("'{}' and sort key '{}'", schema.partition_key, *schema.sort_key)
                         : fmt::format("'{}'", schema.partition_key);
}

}  // namespace

struct LocalTable::State {
  explicit State(const LocalTableOptions& options) : db(options.file, options.busy_timeout) {}

  Database db;
  Statement upsert;
  Statement get;
  Statement remove;
  Statement count;
  Statement scan_first;
  Statement scan_next;
  Statement any;

  void store(const ParsedItem& item) {
    auto u = upsert.use();
    u.bind(1, segment_hash(item.key.partition))
        .bind_text(2, item.key.partition)
        .bind_text(3, item.key.sort.value_or(""));
    u.bind_text(4, item.text).run();
  }
};

LocalTable::LocalTable(LocalTableOptions options) : options_(std::move(options)) {
  check_table_name(options_.name);
  if (options_.key_schema) {
    if (options_.key_schema->partition_key.empty()) throw invalid_input("the table's key attribute name is empty");
    if (options_.key_schema->sort_key && options_.key_schema->sort_key->empty())
      throw invalid_input("the table's sort key attribute name is empty");
    if (options_.key_schema->sort_key == options_.key_schema->partition_key)
      throw invalid_input("the sort key must differ from the partition key");
  }
  if (!std::filesystem::exists(options_.file) && !options_.key_schema)
    throw invalid_input(fmt::format("table '{}' does not exist ({}); creating it needs its key attribute",
                                    options_.name, options_.file.string()));
  std::error_code ec;
  if (options_.file.has_parent_path()) std::filesystem::create_directories(options_.file.parent_path(), ec);
  if (ec) throw invalid_input(fmt::format("cannot create the folder of {}: {}", options_.file.string(), ec.message()));

  state_ = std::make_unique<State>(options_);
  auto& db = state_->db;
  db.exec("PRAGMA synchronous=NORMAL; PRAGMA secure_delete=OFF; PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY");
  {
    sqlite::stamp_or_check(db, kApplicationId, kSchemaVersion, kSchema, "table", [&] {
      if (!options_.key_schema)
        throw invalid_input(fmt::format("table '{}' does not exist ({})", options_.name, options_.file.string()));
      auto insert = db.prepare("INSERT INTO meta(key, value) VALUES(?1, ?2)");
      insert.use().bind_text(1, "name").bind_text(2, options_.name).run();
      insert.use().bind_text(1, "partition_key").bind_text(2, options_.key_schema->partition_key).run();
      if (options_.key_schema->sort_key)
        insert.use().bind_text(1, "sort_key").bind_text(2, *options_.key_schema->sort_key).run();
    });
    auto meta = db.prepare("SELECT key, value FROM meta");
    auto u = meta.use();
    while (u.step()) {
      if (u.text(0) == "partition_key") schema_.partition_key = u.text(1);
      if (u.text(0) == "sort_key") schema_.sort_key = std::string(u.text(1));
    }
    if (schema_.partition_key.empty())
      throw invalid_input(fmt::format("{} records no key attribute; it is not a usable table", options_.file.string()));
    if (options_.key_schema && *options_.key_schema != schema_)
      throw invalid_input(fmt::format("table '{}' has the key {}, not {}; use the table's key or another table name",
                                      options_.name, describe(schema_), describe(*options_.key_schema)));
  }
  auto& s = *state_;
  s.upsert = db.prepare(
      "INSERT INTO items(segment_hash, pk, sk, item) VALUES(?1, ?2, ?3, ?4) "
      "ON CONFLICT(segment_hash, pk, sk) DO UPDATE SET item = excluded.item");
  s.get = db.prepare("SELECT item FROM items WHERE segment_hash = ?1 AND pk = ?2 AND sk = ?3");
  s.remove = db.prepare("DELETE FROM items WHERE segment_hash = ?1 AND pk = ?2 AND sk = ?3");
  s.count = db.prepare("SELECT count(*) FROM items");
  s.scan_first = db.prepare(
      "SELECT segment_hash, pk, sk, item FROM items WHERE segment_hash >= ?1 AND segment_hash < ?2 "
      "ORDER BY segment_hash, pk, sk LIMIT ?3");
  s.scan_next = db.prepare(
      "SELECT segment_hash, pk, sk, item FROM items WHERE (segment_hash, pk, sk) > (?1, ?4, ?5) AND segment_hash < ?2 "
      "ORDER BY segment_hash, pk, sk LIMIT ?3");
  s.any = db.prepare("SELECT 1 FROM items LIMIT 1");
}

LocalTable::~LocalTable() = default;

std::filesystem::path LocalTable::file_in(const std::filesystem::path& state_dir, const std::string& name) {
  check_table_name(name);
  return state_dir / "tables" / (name + ".sqlite");
}

std::vector<std::string> LocalTable::list(const std::filesystem::path& state_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(state_dir / "tables", ec))
    if (entry.path().extension() == ".sqlite") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

const KeySchema& LocalTable::key_schema() const { return schema_; }

TableLimits LocalTable::limits() const { return TableLimits{}; }

void LocalTable::put(std::string_view item) {
  const ParsedItem parsed = parse_item(item, schema_, limits());
  std::lock_guard lock(mutex_);
  state_->store(parsed);
}

std::vector<std::string> LocalTable::put_batch(std::span<const std::string> items) {
  const TableLimits limits = this->limits();
  if (items.empty()) throw invalid_input("put_batch: a batch needs at least one item");
  if (items.size() > limits.max_batch_items)
    throw invalid_input(
        fmt::format("put_batch: {} items in one batch; at most {} are allowed", items.size(), limits.max_batch_items));
  std::vector<ParsedItem> parsed;
  std::set<std::pair<std::string, std::string>> keys;
  for (size_t i = 0; i < items.size(); ++i) {
    try {
      parsed.push_back(parse_item(items[i], schema_, limits));
    } catch (const Error& e) {
      throw invalid_input(fmt::format("put_batch: item {}: {}", i + 1, e.what()));
    }
    const auto& key = parsed.back().key;
    if (!keys.emplace(key.partition, key.sort.value_or("")).second)
      throw invalid_input(fmt::format("put_batch: item {} has the same key as an earlier item of the batch", i + 1));
  }
  std::lock_guard lock(mutex_);
  WriteTransaction tx(state_->db);
  for (const auto& item : parsed) state_->store(item);
  tx.commit();
  return {};
}

namespace {
void check_key(const ItemKey& key, const KeySchema& schema) {
  if (key.partition.empty()) throw invalid_input(fmt::format("the key attribute '{}' is empty", schema.partition_key));
  if (schema.sort_key.has_value() != key.sort.has_value())
    throw invalid_input(schema.sort_key ? fmt::format("the key needs a value of the sort key '{}'", *schema.sort_key)
                                        : std::string("the table has no sort key, but the key gives one"));
  if (key.sort && key.sort->empty()) throw invalid_input(fmt::format("the sort key '{}' is empty", *schema.sort_key));
}
}  // namespace

std::optional<std::string> LocalTable::get(const ItemKey& key) {
  check_key(key, schema_);
  std::lock_guard lock(mutex_);
  auto u = state_->get.use();
  u.bind(1, segment_hash(key.partition)).bind_text(2, key.partition).bind_text(3, key.sort.value_or(""));
  if (!u.step()) return std::nullopt;
  return std::string(u.text(0));
}

bool LocalTable::remove(const ItemKey& key) {
  check_key(key, schema_);
  std::lock_guard lock(mutex_);
  state_->remove.use()
      .bind(1, segment_hash(key.partition))
      .bind_text(2, key.partition)
      .bind_text(3, key.sort.value_or(""))
      .run();
  return state_->db.changes() > 0;
}

int64_t LocalTable::count() {
  std::lock_guard lock(mutex_);
  auto u = state_->count.use();
  return u.step() ? u.int64(0) : 0;
}

ScanPage LocalTable::scan(const ScanRequest& request) {
  const TableLimits limits = this->limits();
  if (request.total_segments < 1 || request.total_segments > limits.max_total_segments)
    throw invalid_input(
        fmt::format("scan: total_segments {} is outside 1-{}", request.total_segments, limits.max_total_segments));
  if (request.segment < 0 || request.segment >= request.total_segments)
    throw invalid_input(fmt::format("scan: segment {} is outside 0-{}", request.segment, request.total_segments - 1));
  if (request.limit < 1 || request.limit > limits.max_page_items)
    throw invalid_input(fmt::format("scan: limit {} is outside 1-{}", request.limit, limits.max_page_items));
  const auto low = static_cast<int64_t>(static_cast<uint64_t>(request.segment) * kHashSpace /
                                        static_cast<uint64_t>(request.total_segments));
  const auto high = static_cast<int64_t>(static_cast<uint64_t>(request.segment + 1) * kHashSpace /
                                         static_cast<uint64_t>(request.total_segments));
  std::optional<ScanToken> start;
  if (!request.start_token.empty()) {
    start = parse_token(request.start_token);
    if (!start || start->total_segments != request.total_segments || start->segment != request.segment ||
        start->hash < low || start->hash >= high)
      throw invalid_input(fmt::format("scan: the start token is not one this table gave for segment {} of {}",
                                      request.segment, request.total_segments));
  }

  ScanPage page;
  uint64_t bytes = 0;
  std::lock_guard lock(mutex_);
  auto& statement = start ? state_->scan_next : state_->scan_first;
  auto u = statement.use();
  u.bind(1, start ? start->hash : low).bind(2, high).bind(3, static_cast<int64_t>(request.limit) + 1);
  if (start) u.bind_text(4, start->pk).bind_text(5, start->sk);
  ScanToken last{request.total_segments, request.segment, 0, {}, {}};
  while (u.step()) {
    const std::string_view item = u.text(3);
    const bool full =
        page.items.size() == request.limit || (!page.items.empty() && bytes + item.size() > limits.max_page_bytes);
    if (full) {  // a row remains after this page: the page ends with a token
      page.next_token = format_token(last);
      break;
    }
    bytes += item.size();
    page.items.emplace_back(item);
    last.hash = u.int64(0);
    last.pk = u.text(1);
    last.sk = u.text(2);
  }
  return page;
}

ImportReport LocalTable::import(std::istream& in, ImportFormat format, bool only_if_empty) {
  ImportReport report;
  const TableLimits limits = this->limits();
  const auto skip = [&](size_t line, std::string message, size_t last_line = 0) {
    last_line = std::max(line, last_line);
    report.skipped += last_line - line + 1;
    if (last_line > line) message = fmt::format("lines {}-{}: {}", line, last_line, message);
    if (report.errors.size() < ImportReport::kMaxReportedErrors)
      report.errors.push_back({line, last_line, std::move(message)});
  };

  std::lock_guard lock(mutex_);
  auto& s = *state_;
  WriteTransaction tx(s.db);
  if (only_if_empty) {
    auto u = s.any.use();
    if (u.step()) {
      report.table_was_not_empty = true;
      return report;
    }
  }
  // Only a line that does not parse is skipped; an error of the storage (a read-only or
  // damaged file, which SQLite also reports as invalid_input) ends the import, rolled back.
  const auto store_line = [&](size_t line, std::string_view json) {
    std::optional<ParsedItem> item;
    try {
      item.emplace(parse_item(json, schema_, limits));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::invalid_input) throw;
      skip(line, e.what());
      return;
    }
    s.store(*item);
    ++report.imported;
  };
  constexpr std::string_view kBom = "\xEF\xBB\xBF";

  if (format == ImportFormat::json_lines) {
    std::string line;
    for (size_t number = 1; std::getline(in, line); ++number) {
      std::string_view text = line;
      if (number == 1 && text.starts_with(kBom)) text.remove_prefix(kBom.size());
      if (trim(text).empty()) continue;
      store_line(number, text);
    }
  } else {
    table_detail::CsvReader reader(in);
    table_detail::CsvReader::Record record;
    if (reader.next(record)) {
      if (!record.error.empty())
        throw invalid_input(fmt::format("line {}: the CSV header is malformed: {}", record.line, record.error));
      std::vector<std::string> header = record.fields;
      if (!header.empty() && header[0].starts_with(kBom)) header[0].erase(0, kBom.size());
      std::set<std::string> names;
      for (const auto& name : header) {
        if (name.empty()) throw invalid_input("the CSV header has an empty column name");
        if (!names.insert(name).second) throw invalid_input(fmt::format("the CSV header names '{}' twice", name));
      }
      if (!names.contains(schema_.partition_key) || (schema_.sort_key && !names.contains(*schema_.sort_key)))
        throw invalid_input(fmt::format("the CSV header has no column for the key {}", describe(schema_)));
      std::vector<std::string> quoted_names;
      for (const auto& name : header) append_json_quoted(quoted_names.emplace_back(), name);
      while (reader.next(record)) {
        if (!record.error.empty()) {
          skip(record.line, record.error, record.last_line);
          continue;
        }
        if (record.fields.size() != header.size()) {
          skip(record.line, fmt::format("{} fields; the header has {}", record.fields.size(), header.size()));
          continue;
        }
        std::string json = "{";
        try {
          for (size_t i = 0; i < header.size(); ++i) {
            if (i) json += ',';
            json += quoted_names[i];
            json += ':';
            append_json_quoted(json, record.fields[i]);
          }
        } catch (const Error& e) {
          skip(record.line, e.what());
          continue;
        }
        store_line(record.line, json + "}");
      }
    }
  }
  if (in.bad()) throw invalid_input("the import input could not be read to its end; nothing was imported");
  tx.commit();
  return report;
}

}  // namespace sentiflow
