// Table: a key-value table of JSON items with DynamoDB's rules (DESIGN.md, "Where it runs").
//
// Implementations: LocalTable (SQLite, table/local_table.h) and DynamoDbTable
// (table/dynamodb_table.h). Both run the conformance suite in tests/table/.
//
// An item is a JSON object, passed and returned as its text. Its key is a string attribute
// (the partition key) and, when the table has one, a second string attribute (the sort key);
// a put replaces the item with the same key. Numbers keep their exact decimal text: an item
// comes back with the same numbers it was put with (a 38-digit number or 1e400 included),
// because sentiflow never converts them to binary floating point.
//
// A scan reads the table in pages, in an order of its own, each page ending with an opaque
// token to continue from. A parallel scan splits the table into `total_segments` disjoint
// segments that together cover it; each segment is scanned on its own, e.g. by one thread each.
//
// Implementations are safe to share between threads. Failures throw Error (core/error.h):
// invalid_input for an item or request that breaks a rule (the message says which), transient
// or throttled for a temporary failure of the backend, internal for anything else.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sentiflow {

// The attribute names of a table's key.
struct KeySchema {
  std::string partition_key;
  std::optional<std::string> sort_key{};

  bool operator==(const KeySchema&) const = default;
};

// The key of one item: the values of its key attributes.
struct ItemKey {
  std::string partition;
  std::optional<std::string> sort{};  // set exactly when the table has a sort key
};

struct TableLimits {
  uint64_t max_item_bytes = 400 * 1024;   // DynamoDB's 400 KB, counted here as the item's JSON text
  size_t max_batch_items = 25;            // per put_batch (DynamoDB's BatchWriteItem)
  uint64_t max_page_bytes = 1024 * 1024;  // a scan page stops before passing 1 MB
  size_t max_page_items = 1'000'000;      // per scan page (the request's limit)
  int max_total_segments = 1'000'000;     // DynamoDB's TotalSegments
  size_t max_partition_key_bytes = 2048;
  size_t max_sort_key_bytes = 1024;
};

struct ScanRequest {
  int segment = 0;          // 0 to total_segments - 1
  int total_segments = 1;   // 1 to limits().max_total_segments
  size_t limit = 1000;      // most items in the page: 1 to limits().max_page_items
  std::string start_token;  // empty: from the start of the segment; else a page's next_token
};

struct ScanPage {
  std::vector<std::string> items;  // each item's JSON text
  // Where the next page starts; empty when the segment has been read to its end. A backend
  // may return a token followed by an empty page (DynamoDB does): loop until it is empty.
  std::string next_token;
};

// Where one segment's scan of a table stands, in the run of a producer that reads it page by
// page: what the producer reports after each page and resumes from, and what the run state
// (state/run_state.h) keeps, as it is.
struct ScanCheckpoint {
  int segment = 0;
  int total_segments = 1;
  std::string token;  // the page's next_token to continue from; "" = from the start
  bool done = false;  // read to its end
  int64_t scanned = 0;
  int64_t sent = 0;
  // The table the token belongs to (its URI, source.table): a run resumes only from checkpoints
  // of the table it scans now. "" in checkpoints saved before sentiflow recorded it.
  std::string table{};
};

class Table {
 public:
  virtual ~Table() = default;

  virtual const KeySchema& key_schema() const = 0;
  virtual TableLimits limits() const = 0;

  // Stores `item`, replacing the item with the same key. Throws Error(invalid_input) when
  // `item` is not a JSON object, lacks a key attribute or has one that is not a non-empty
  // string, or is larger than limits().max_item_bytes.
  virtual void put(std::string_view item) = 0;

  // Stores up to limits().max_batch_items items. Returns the items that were not stored and
  // should be put again (DynamoDB's UnprocessedItems, when throttled); empty when all were.
  // Throws Error(invalid_input) without storing any item when one of them is invalid, there
  // are too many, or two have the same key.
  virtual std::vector<std::string> put_batch(std::span<const std::string> items) = 0;

  // The item's JSON text, or nullopt when there is none with this key. Throws
  // Error(invalid_input) when the key does not fit the schema.
  virtual std::optional<std::string> get(const ItemKey& key) = 0;

  // Deletes the item; returns whether there was one.
  virtual bool remove(const ItemKey& key) = 0;

  // The number of items (exact on LocalTable; DynamoDB's is a Scan with Select=COUNT).
  virtual int64_t count() = 0;

  // One page of a segment, in the table's scan order. Throws Error(invalid_input) for a
  // segment outside 0..total_segments-1, a limit of 0, or a token that this table did not
  // issue for this segment.
  virtual ScanPage scan(const ScanRequest& request) = 0;
};

}  // namespace sentiflow
