#include "table/dynamodb_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "core/digest.h"
#include "core/error.h"
#include "core/json_text.h"
#include "net/backoff.h"
#include "table/json_item.h"

namespace sentiflow {
namespace {

using table_detail::find_tag;
using table_detail::for_each_element;
using table_detail::for_each_member;
using table_detail::parse_item;
using table_detail::TagType;

// DynamoDB JSON nests two levels per item level ({"M":{...}}), plus the answer's envelope.
constexpr int kMaxAnswerDepth = 2 * table_detail::kMaxItemDepth + 8;

Error bad_answer(const std::string& why) { return Error(ErrorCode::internal, "DynamoDB answered an item that " + why); }

// ---- Our JSON -> DynamoDB JSON (input: compact, checked) ------------------------------------

void append_attribute_map(std::string& out, std::string_view object);

void append_attribute(std::string& out, std::string_view value) {
  switch (value.front()) {
    case '"':  // the literal as it is: its escapes are JSON's, which DynamoDB's JSON reads
      out += "{\"S\":";
      out += value;
      out += '}';
      break;
    case '{':
      if (const auto tag = find_tag(value)) {  // checked by check_tags: well-formed
        switch (tag->type) {
          case TagType::binary:
            out += "{\"B\":";
            out += tag->value;
            break;  // base64 is B's JSON form
          case TagType::string_set:
            out += "{\"SS\":";
            out += tag->value;
            break;
          case TagType::binary_set:
            out += "{\"BS\":";
            out += tag->value;
            break;
          case TagType::number_set: {
            out += "{\"NS\":[";
            bool first = true;
            for_each_element(tag->value, [&](std::string_view number) {
              out += first ? "\"" : ",\"";
              first = false;
              out += number;
              out += '"';
            });
            out += ']';
            break;
          }
          case TagType::map:  // the escape: its object is the map's attributes, never a tag itself
            out += "{\"M\":";
            append_attribute_map(out, tag->value);
            break;
        }
        out += '}';
        break;
      }
      out += "{\"M\":";
      append_attribute_map(out, value);
      out += '}';
      break;
    case '[': {
      out += "{\"L\":[";
      bool first = true;
      for_each_element(value, [&](std::string_view element) {
        if (!first) out += ',';
        first = false;
        append_attribute(out, element);
      });
      out += "]}";
      break;
    }
    case 't': out += "{\"BOOL\":true}"; break;
    case 'f': out += "{\"BOOL\":false}"; break;
    case 'n': out += "{\"NULL\":true}"; break;
    default:  // a number: its text, which needs no escaping, as an N string
      out += "{\"N\":\"";
      out += value;
      out += "\"}";
  }
}

void append_attribute_map(std::string& out, std::string_view object) {
  out += '{';
  bool first = true;
  for_each_member(object, [&](std::string_view name, std::string_view value) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += ':';
    append_attribute(out, value);
  });
  out += '}';
}

std::string attribute_map(std::string_view compact_item) {
  std::string out;
  out.reserve(compact_item.size() * 2);
  append_attribute_map(out, compact_item);
  return out;
}

// ---- DynamoDB JSON -> our JSON (input: compact, checked) ------------------------------------

// Strings are decoded and written again with the fewest escapes, whatever escapes the service
// chose (moto writes \u00e9 for é).
void append_string(std::string& out, std::string_view literal, std::string_view type) {
  const auto decoded = json_string_value(literal);
  if (!decoded) throw bad_answer(fmt::format("has a {} that is not a string", type));
  append_json_quoted_unchecked(out, *decoded);
}

void append_number(std::string& out, std::string_view literal) {
  const auto decoded = json_string_value(literal);
  if (!decoded || !is_json_number(*decoded)) throw bad_answer("has an N that is not a JSON number");
  out += *decoded;
}

void append_item(std::string& out, std::string_view map);

void append_value(std::string& out, std::string_view attribute) {
  if (attribute.empty() || attribute.front() != '{') throw bad_answer("has an attribute value that is not an object");
  std::string type;
  std::string_view value;
  int members = 0;
  for_each_member(attribute, [&](std::string_view name, std::string_view v) {
    type = json_string_value(name).value_or("");
    value = v;
    ++members;
  });
  if (members != 1) throw bad_answer("has an attribute value without exactly one type");
  const auto each = [&](const auto& append_one) {
    if (value.front() != '[') throw bad_answer(fmt::format("has a {} that is not an array", type));
    out += '[';
    bool first = true;
    for_each_element(value, [&](std::string_view element) {
      if (!first) out += ',';
      first = false;
      append_one(element);
    });
    out += ']';
  };
  // B and the sets become tags (table/json_item.h), so that they are written back as they came.
  const auto tagged = [&](std::string_view tag, const auto& append_one) {
    out += "{\"";
    out += tag;
    out += "\":";
    each(append_one);
    out += '}';
  };
  if (type == "S") {
    append_string(out, value, type);
  } else if (type == "B") {  // DynamoDB JSON carries binary as base64 already
    out += "{\"$B\":";
    append_string(out, value, type);
    out += '}';
  } else if (type == "N") {
    append_number(out, value);
  } else if (type == "BOOL") {
    if (value != "true" && value != "false") throw bad_answer("has a BOOL that is not true or false");
    out += value;
  } else if (type == "NULL") {
    out += "null";
  } else if (type == "M") {
    if (value.front() != '{') throw bad_answer("has an M that is not an object");
    // A map whose only attribute has a tag's name would read as that tag: escaped with $M.
    const bool escape = static_cast<bool>(find_tag(value));
    if (escape) out += "{\"$M\":";
    append_item(out, value);
    if (escape) out += '}';
  } else if (type == "L") {
    each([&](std::string_view element) { append_value(out, element); });
  } else if (type == "SS" || type == "BS") {
    tagged(type == "SS" ? "$SS" : "$BS", [&](std::string_view element) { append_string(out, element, type); });
  } else if (type == "NS") {
    tagged("$NS", [&](std::string_view element) { append_number(out, element); });
  } else {
    throw bad_answer(fmt::format("has an attribute of unknown type '{}'", type));
  }
}

void append_item(std::string& out, std::string_view map) {
  out += '{';
  bool first = true;
  for_each_member(map, [&](std::string_view name, std::string_view value) {
    if (!first) out += ',';
    first = false;
    append_string(out, name, "name");
    out += ':';
    append_value(out, value);
  });
  out += '}';
}

std::string item_text(std::string_view compact_map) {
  std::string out;
  out.reserve(compact_map.size());
  append_item(out, compact_map);
  return out;
}

// ---- Requests ------------------------------------------------------------------------------

void check_table_name(const std::string& name) {
  const bool good = name.size() >= 3 && name.size() <= 255 && std::all_of(name.begin(), name.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                             c == '-' || c == '.';
                    });
  if (!good) throw invalid_input(fmt::format("'{}' is not a DynamoDB table name: 3 to 255 of A-Z a-z 0-9 _ - .", name));
}

std::string json_quoted(std::string_view text) {
  std::string out;
  append_json_quoted(out, text);
  return out;
}

// The key strings of an item of ours (already converted from DynamoDB).
ItemKey key_of(std::string_view item, const KeySchema& schema) {
  const auto read = [&](const std::string& name) {
    const auto value = find_member_unchecked(item, name);
    const auto text = value ? json_string_value(*value) : std::nullopt;
    if (!text) throw bad_answer(fmt::format("lacks the string key attribute '{}'", name));
    return *text;
  };
  ItemKey key{read(schema.partition_key)};
  if (schema.sort_key) key.sort = read(*schema.sort_key);
  return key;
}

std::string key_string(const ItemKey& key) { return key.partition + '\0' + key.sort.value_or(""); }

}  // namespace

namespace dynamodb {

std::string to_attribute_map(std::string_view item) {
  const JsonObject parsed = parse_json_object(item, "the item", table_detail::kMaxItemDepth);
  table_detail::check_tags(parsed.text);
  return attribute_map(parsed.text);
}

std::string from_attribute_map(std::string_view map) {
  return item_text(parse_json_object(map, "the attribute map", kMaxAnswerDepth).text);
}

}  // namespace dynamodb

DynamoDbTable::DynamoDbTable(std::shared_ptr<const aws::AwsClient> client, DynamoDbTableOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  if (!client_) throw invalid_input("DynamoDbTable needs a DynamoDB client");
  check_table_name(options_.name);
  if (options_.create_if_missing && !options_.key_schema)
    throw invalid_input(fmt::format("creating DynamoDB table '{}' needs its key schema", options_.name));
  open_table();
}

DynamoDbTable::~DynamoDbTable() = default;

std::string DynamoDbTable::call(const std::string& operation, const std::string& body) const {
  return client_->call(aws::json_request("DynamoDB_20120810.", operation, body)).body;
}

// A DescribeTable answer of another shape is DynamoDB's fault (or a proxy's): Error(internal),
// never a JSON library's exception (found by fuzz/aws_json_fuzz.cc).
void DynamoDbTable::open_table() try {
  const std::string name_body = "{\"TableName\":" + json_quoted(options_.name) + "}";
  nlohmann::json table;
  const auto describe = [&] { table = nlohmann::json::parse(call("DescribeTable", name_body)).at("Table"); };
  try {
    describe();
  } catch (const Error& e) {
    if (e.code() != ErrorCode::not_found) throw;
    if (!options_.create_if_missing)
      throw Error(ErrorCode::not_found, fmt::format("DynamoDB table '{}' does not exist (region {}, endpoint {})",
                                                    options_.name, client_->region(), client_->endpoint()));
    const KeySchema& schema = *options_.key_schema;
    nlohmann::json create = {{"TableName", options_.name}, {"BillingMode", "PAY_PER_REQUEST"}};
    create["AttributeDefinitions"].push_back({{"AttributeName", schema.partition_key}, {"AttributeType", "S"}});
    create["KeySchema"].push_back({{"AttributeName", schema.partition_key}, {"KeyType", "HASH"}});
    if (schema.sort_key) {
      create["AttributeDefinitions"].push_back({{"AttributeName", *schema.sort_key}, {"AttributeType", "S"}});
      create["KeySchema"].push_back({{"AttributeName", *schema.sort_key}, {"KeyType", "RANGE"}});
    }
    try {
      call("CreateTable", create.dump());
    } catch (const Error& c) {
      if (c.code() != ErrorCode::conflict) throw;  // ResourceInUse: created by someone else meanwhile
    }
    describe();
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.create_timeout;
  while (table.value("TableStatus", "") != "ACTIVE") {
    if (std::chrono::steady_clock::now() >= deadline)
      throw Error(ErrorCode::transient, fmt::format("DynamoDB table '{}' is not ACTIVE after {} s", options_.name,
                                                    options_.create_timeout.count()));
    wait(std::chrono::milliseconds(500));  // CreateTable takes seconds on AWS
    describe();
  }

  std::map<std::string, std::string> types;
  for (const auto& d : table.at("AttributeDefinitions"))
    types[d.at("AttributeName").get<std::string>()] = d.at("AttributeType").get<std::string>();
  KeySchema actual;
  for (const auto& k : table.at("KeySchema")) {
    const auto attribute = k.at("AttributeName").get<std::string>();
    if (types[attribute] != "S")
      throw invalid_input(
          fmt::format("DynamoDB table '{}': the key attribute '{}' is of type {}; sentiflow's keys "
                      "are strings (S)",
                      options_.name, attribute, types[attribute]));
    if (k.at("KeyType") == "HASH") {
      actual.partition_key = attribute;
    } else {
      actual.sort_key = attribute;
    }
  }
  if (options_.key_schema && *options_.key_schema != actual)
    throw invalid_input(fmt::format("DynamoDB table '{}' has the key ({}{}), not ({}{})", options_.name,
                                    actual.partition_key, actual.sort_key ? ", " + *actual.sort_key : "",
                                    options_.key_schema->partition_key,
                                    options_.key_schema->sort_key ? ", " + *options_.key_schema->sort_key : ""));
  schema_ = std::move(actual);
} catch (const nlohmann::json::exception& e) {
  throw Error(ErrorCode::internal,
              fmt::format("DynamoDB DescribeTable: an answer of an unexpected shape: {}", e.what()));
}

const KeySchema& DynamoDbTable::key_schema() const { return schema_; }

TableLimits DynamoDbTable::limits() const { return TableLimits{}; }

std::string DynamoDbTable::key_json(const ItemKey& key) const {
  const TableLimits limits = this->limits();
  const auto attribute = [](std::string& out, const std::string& name, const std::string& value, size_t max) {
    if (value.empty()) throw invalid_input(fmt::format("the key attribute '{}' is empty", name));
    if (value.size() > max)
      throw invalid_input(
          fmt::format("the key attribute '{}' is {} bytes; at most {} are allowed", name, value.size(), max));
    append_json_quoted(out, name);
    out += ":{\"S\":";
    append_json_quoted(out, value);
    out += '}';
  };
  if (key.sort.has_value() != schema_.sort_key.has_value())
    throw invalid_input(schema_.sort_key ? fmt::format("the key needs a sort key ('{}')", *schema_.sort_key)
                                         : "the table has no sort key, but the key has one");
  std::string out = "{";
  attribute(out, schema_.partition_key, key.partition, limits.max_partition_key_bytes);
  if (schema_.sort_key) {
    out += ',';
    attribute(out, *schema_.sort_key, *key.sort, limits.max_sort_key_bytes);
  }
  out += '}';
  return out;
}

void DynamoDbTable::wait(std::chrono::milliseconds duration) const {
  if (options_.sleep) {
    options_.sleep(duration);
  } else {
    std::this_thread::sleep_for(duration);
  }
}

void DynamoDbTable::put(std::string_view item) {
  const auto parsed = parse_item(item, schema_, limits());
  call("PutItem", "{\"TableName\":" + json_quoted(options_.name) + ",\"Item\":" + attribute_map(parsed.text) + "}");
}

std::vector<std::string> DynamoDbTable::put_batch(std::span<const std::string> items) {
  const TableLimits limits = this->limits();
  if (items.empty()) throw invalid_input("a batch needs at least one item");
  if (items.size() > limits.max_batch_items)
    throw invalid_input(fmt::format("a batch holds at most {} items, not {}", limits.max_batch_items, items.size()));
  std::map<std::string, size_t> index;  // key -> position in `items`
  std::vector<std::string> requests;    // each item's PutRequest
  for (size_t i = 0; i < items.size(); ++i) {
    auto parsed = parse_item(items[i], schema_, limits);
    if (!index.emplace(key_string(parsed.key), i).second)
      throw invalid_input(fmt::format("the batch holds two items with the key '{}'", parsed.key.partition));
    requests.push_back("{\"PutRequest\":{\"Item\":" + attribute_map(parsed.text) + "}}");
  }
  std::vector<size_t> pending(items.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  const std::string table = json_quoted(options_.name);
  Backoff backoff(options_.batch_backoff_base, options_.batch_backoff_cap);  // per call: no shared state
  for (int attempt = 0; attempt < std::max(options_.batch_attempts, 1) && !pending.empty(); ++attempt) {
    if (attempt > 0) wait(backoff.delay(static_cast<unsigned>(attempt - 1)));
    std::string body = "{\"RequestItems\":{" + table + ":[";
    for (size_t k = 0; k < pending.size(); ++k) body += (k ? "," : "") + requests[pending[k]];
    body += "]}}";
    const JsonObject answer =
        parse_json_object(call("BatchWriteItem", body), "DynamoDB's BatchWriteItem answer", kMaxAnswerDepth);
    std::vector<size_t> left;
    if (const JsonMember* unprocessed = answer.find("UnprocessedItems")) {
      for_each_member(unprocessed->value, [&](std::string_view, std::string_view writes) {
        for_each_element(writes, [&](std::string_view write) {
          const auto put = find_member_unchecked(write, "PutRequest");
          const auto item = put ? find_member_unchecked(*put, "Item") : std::nullopt;
          if (!item) throw bad_answer("is an unprocessed write without a PutRequest");
          const auto found = index.find(key_string(key_of(item_text(*item), schema_)));
          if (found == index.end()) throw bad_answer("is an unprocessed item that was not in the batch");
          left.push_back(found->second);
        });
      });
    }
    pending = std::move(left);
  }
  std::vector<std::string> unstored;
  for (size_t i : pending) unstored.push_back(items[i]);
  return unstored;
}

std::optional<std::string> DynamoDbTable::get(const ItemKey& key) {
  const std::string body = "{\"TableName\":" + json_quoted(options_.name) + ",\"Key\":" + key_json(key) +
                           ",\"ConsistentRead\":" + (options_.consistent_read ? "true" : "false") + "}";
  const JsonObject answer = parse_json_object(call("GetItem", body), "DynamoDB's GetItem answer", kMaxAnswerDepth);
  const JsonMember* item = answer.find("Item");
  if (!item) return std::nullopt;
  return item_text(item->value);
}

bool DynamoDbTable::remove(const ItemKey& key) {
  const std::string body =
      "{\"TableName\":" + json_quoted(options_.name) + ",\"Key\":" + key_json(key) + ",\"ReturnValues\":\"ALL_OLD\"}";
  const JsonObject answer =
      parse_json_object(call("DeleteItem", body), "DynamoDB's DeleteItem answer", kMaxAnswerDepth);
  const JsonMember* old = answer.find("Attributes");
  return old != nullptr && old->value != "{}";
}

int64_t DynamoDbTable::count() {
  int64_t total = 0;
  std::string start;  // the last page's LastEvaluatedKey, as DynamoDB wrote it
  do {
    std::string body = "{\"TableName\":" + json_quoted(options_.name) +
                       ",\"Select\":\"COUNT\",\"ConsistentRead\":" + (options_.consistent_read ? "true" : "false");
    if (!start.empty()) body += ",\"ExclusiveStartKey\":" + start;
    body += '}';
    const JsonObject answer = parse_json_object(call("Scan", body), "DynamoDB's Scan answer", kMaxAnswerDepth);
    const JsonMember* count = answer.find("Count");
    const auto text = count ? json_scalar_text(count->value) : std::nullopt;
    if (!text || !is_json_number(*text)) throw Error(ErrorCode::internal, "DynamoDB's Scan answer has no Count");
    total += std::stoll(*text);
    const JsonMember* last = answer.find("LastEvaluatedKey");
    start = last ? std::string(last->value) : std::string();
  } while (!start.empty());
  return total;
}

ScanPage DynamoDbTable::scan(const ScanRequest& request) {
  const TableLimits limits = this->limits();
  if (request.total_segments < 1 || request.total_segments > limits.max_total_segments)
    throw invalid_input(
        fmt::format("total_segments must be 1 to {}, not {}", limits.max_total_segments, request.total_segments));
  if (request.segment < 0 || request.segment >= request.total_segments)
    throw invalid_input(fmt::format("segment must be 0 to {}, not {}", request.total_segments - 1, request.segment));
  if (request.limit < 1 || request.limit > limits.max_page_items)
    throw invalid_input(fmt::format("a scan's limit must be 1 to {}, not {}", limits.max_page_items, request.limit));

  std::string body = "{\"TableName\":" + json_quoted(options_.name) + ",\"Limit\":" + std::to_string(request.limit) +
                     ",\"ConsistentRead\":" + (options_.consistent_read ? "true" : "false");
  if (request.total_segments > 1)
    body += fmt::format(",\"Segment\":{},\"TotalSegments\":{}", request.segment, request.total_segments);
  if (!request.start_token.empty()) {
    // The token: base64 of {"table":…,"segment":…,"total":…,"key":[partition(, sort)]}.
    ItemKey start;
    try {
      const auto token = nlohmann::json::parse(base64_decode(request.start_token));
      if (token.at("table") != options_.name || token.at("segment") != request.segment ||
          token.at("total") != request.total_segments)
        throw invalid_input("");
      const auto& key = token.at("key");
      start.partition = key.at(0).get<std::string>();
      if (schema_.sort_key) start.sort = key.at(1).get<std::string>();
      if (key.size() != (schema_.sort_key ? 2u : 1u)) throw invalid_input("");
    } catch (const std::exception&) {
      throw invalid_input(fmt::format("the scan token is not one that table '{}' issued for segment {} of {}",
                                      options_.name, request.segment, request.total_segments));
    }
    body += ",\"ExclusiveStartKey\":" + key_json(start);
  }
  body += '}';

  const JsonObject answer = parse_json_object(call("Scan", body), "DynamoDB's Scan answer", kMaxAnswerDepth);
  ScanPage page;
  uint64_t bytes = 0;
  bool cut = false;  // the page stopped before DynamoDB's: it would have passed max_page_bytes
  if (const JsonMember* items = answer.find("Items")) {
    for_each_element(items->value, [&](std::string_view map) {
      if (cut) return;
      std::string item = item_text(map);
      if (!page.items.empty() && bytes + item.size() > limits.max_page_bytes) {
        cut = true;
        return;
      }
      bytes += item.size();
      page.items.push_back(std::move(item));
    });
  }
  std::optional<ItemKey> last;
  if (cut) {
    last = key_of(page.items.back(), schema_);
  } else if (const JsonMember* evaluated = answer.find("LastEvaluatedKey")) {
    last = key_of(item_text(evaluated->value), schema_);
  }
  if (last) {
    nlohmann::json token = {{"table", options_.name},
                            {"segment", request.segment},
                            {"total", request.total_segments},
                            {"key", nlohmann::json::array({last->partition})}};
    if (last->sort) token["key"].push_back(*last->sort);
    page.next_token = base64_encode(token.dump());
  }
  return page;
}

void DynamoDbTable::drop() { call("DeleteTable", "{\"TableName\":" + json_quoted(options_.name) + "}"); }

}  // namespace sentiflow
