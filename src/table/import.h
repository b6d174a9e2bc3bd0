// Importing a file of items into any table: `sentiflow table import` (docs/EMBEDDED.md,
// "Command line").
#pragma once

#include <istream>
#include <string_view>

#include "table/local_table.h"
#include "table/table.h"

namespace sentiflow {

// Imports `in` into `table`. A LocalTable imports in its own one transaction (LocalTable::import,
// JSON Lines or CSV). Any other table (DynamoDB) takes JSON Lines only, in put_batch calls of
// limits().max_batch_items, so that import is not atomic: the items of the batches written
// before a failure stay. A batch the backend refuses as invalid (a malformed item, or two lines
// with one key) is put again item by item, in line order, so that each bad line is reported and
// skipped as LocalTable's import does, and a later line with a key replaces an earlier one;
// items still unprocessed after the backend's own retries are put one by one.
// `only_if_empty`: a table with items is left alone (report.table_was_not_empty).
// Returns what was imported and skipped. Throws Error(invalid_input) for CSV into a table other
// than a LocalTable (`uri` names the table in that message) or input that cannot be read to its
// end; the backend's other errors, their message saying near which line and how many items stay.
// Not thread-safe for one `in`; `table` as thread-safe as its own put and put_batch.
ImportReport import_items(Table& table, std::string_view uri, std::istream& in, ImportFormat format,
                          bool only_if_empty);

}  // namespace sentiflow
