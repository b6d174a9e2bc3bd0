// DynamoDbTable: a Table (table/table.h) in an Amazon DynamoDB table, over the JSON 1.0
// protocol (aws/client.h signs, retries and maps errors); `dynamodb://NAME` in a pipeline file.
//
// Items are converted between our item JSON and DynamoDB JSON as text, never through binary
// floating point, so a 38-digit number survives:
//
//   ours -> DynamoDB                  DynamoDB -> ours
//   string      -> S                  S    -> string
//   number      -> N (its text)       N    -> number (its text, as DynamoDB returns it)
//   true/false  -> BOOL               BOOL -> true/false
//   null        -> NULL               NULL -> null
//   object      -> M                  M    -> object ({"$M": {...}} when its only attribute
//   array       -> L                          has a tag's name)
//   {"$B": "aGk="}      -> B          L    -> array
//   {"$SS": ["a"]}      -> SS         B    -> {"$B": "<base64>"}
//   {"$NS": [1, 2.5]}   -> NS         SS, NS, BS -> {"$SS": [...]}, {"$NS": [...]}, {"$BS": [...]}
//   {"$BS": ["AAE="]}   -> BS
//   {"$M": {"$B": 1}}   -> M {"$B": N 1}   (the escape)
//
// The tags and their rules are table/json_item.h's (every table checks them on put), so an
// item copied through sentiflow keeps its types; sets come back in an order of DynamoDB's.
// DynamoDB normalises numbers (1.0 -> 1) and refuses those outside 1e-130..1e126
// (invalid_input); it may reorder attributes; strings come back decoded and re-escaped (only
// '"', '\\' and control characters are escaped).
//
// Scans: a page is one Scan (Limit, ExclusiveStartKey, Segment/TotalSegments, ConsistentRead),
// cut further where its items' JSON text would pass limits().max_page_bytes. The token is the
// base64 of a small JSON object naming the table, the segmentation and the last key; a token of
// another table or segmentation is refused (DynamoDB's segment hash is its own, so whether the
// key lies in the segment cannot be checked here). count() is a Scan with Select=COUNT over all
// pages: exact on a quiet table with consistent reads, and it reads the whole table.
//
// A DynamoDbTable is safe to share between threads: it holds no mutable state (each put_batch
// has its own backoff), and the AwsClient is thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/client.h"
#include "table/table.h"

namespace sentiflow {

struct DynamoDbTableOptions {
  std::string name;  // the DynamoDB table: 3-255 of A-Z a-z 0-9 _ - .
  // The key attributes (strings). nullopt: read with DescribeTable. Given: must match the
  // table's (checked with DescribeTable when the table exists).
  std::optional<KeySchema> key_schema{};
  // Create the table when it does not exist (CreateTable, PAY_PER_REQUEST, key_schema required),
  // then wait until it is ACTIVE. For tests and for loading a seed.
  bool create_if_missing = false;
  std::chrono::seconds create_timeout{300};
  // Strongly consistent GetItem and Scan (twice the read cost, read-your-writes).
  bool consistent_read = true;
  // BatchWriteItem calls per put_batch, the first included, while DynamoDB leaves
  // UnprocessedItems; retry n waits a random time in [0, min(batch_backoff_cap, base * 2^n)].
  int batch_attempts = 5;
  std::chrono::milliseconds batch_backoff_base{50};
  std::chrono::milliseconds batch_backoff_cap{5'000};
  // How to wait (backoff, table creation); empty: std::this_thread::sleep_for. Tests record it.
  std::function<void(std::chrono::milliseconds)> sleep{};
};

class DynamoDbTable final : public Table {
 public:
  // Opens table `options.name` through `client` (a DynamoDB client, aws::kDynamoDb), with a
  // DescribeTable (and a CreateTable with create_if_missing). Throws Error(invalid_input) for a
  // bad name, a schema that differs from the table's or a key that is not a string (S);
  // Error(not_found) when the table does not exist and may not be created; the client's Errors.
  DynamoDbTable(std::shared_ptr<const aws::AwsClient> client, DynamoDbTableOptions options);
  ~DynamoDbTable() override;
  DynamoDbTable(const DynamoDbTable&) = delete;
  DynamoDbTable& operator=(const DynamoDbTable&) = delete;

  const KeySchema& key_schema() const override;
  TableLimits limits() const override;
  void put(std::string_view item) override;                                         // PutItem
  std::vector<std::string> put_batch(std::span<const std::string> items) override;  // BatchWriteItem
  std::optional<std::string> get(const ItemKey& key) override;                      // GetItem
  bool remove(const ItemKey& key) override;                                         // DeleteItem, ALL_OLD
  int64_t count() override;                                                         // Scan, Select=COUNT
  ScanPage scan(const ScanRequest& request) override;                               // Scan

  // Deletes the DynamoDB table (DeleteTable); for tests. The object is unusable afterwards.
  void drop();

 private:
  std::string call(const std::string& operation, const std::string& body) const;
  void open_table();
  std::string key_json(const ItemKey& key) const;       // DynamoDB JSON of a key, checked
  void wait(std::chrono::milliseconds duration) const;  // options_.sleep, or sleep_for when unset

  std::shared_ptr<const aws::AwsClient> client_;
  const DynamoDbTableOptions options_;
  KeySchema schema_;
};

namespace dynamodb {

// Our item (a JSON object's text) as a DynamoDB attribute map, {"a":{"S":"x"},"n":{"N":"1"}},
// per the mapping above. Throws Error(invalid_input) for text that is not a JSON object or
// holds a malformed tag.
std::string to_attribute_map(std::string_view item);

// A DynamoDB attribute map (any JSON text of one) as our item's compact text, per the mapping
// above. Throws Error(internal) for an unknown type or a malformed value (it comes from the
// service), Error(invalid_input) for text that is not a JSON object.
std::string from_attribute_map(std::string_view attribute_map);

}  // namespace dynamodb
}  // namespace sentiflow
