// ObjectStore: named blobs with S3's model (DESIGN.md, "Where it runs"): the sink's results
// and error records, and whatever a user puts there.
//
// Implementations: FileStore (a directory, store/file_store.h) and S3Store (store/s3_store.h).
// Both run the conformance suite in tests/store/.
//
// A put replaces the whole object at once: a reader sees the old object or the new one, never
// a mix. Keys are S3 keys with the rules of check_object_key() below, which every backend
// applies, so that any key that works on one backend works on all of them (a key S3 would take
// but a directory could not hold is refused everywhere). list() returns keys in lexicographic
// (byte) order, in pages with an opaque continuation token.
//
// Implementations are safe to share between threads. Failures throw Error (core/error.h):
// invalid_input for a bad key or request, conflict when the key cannot be stored because of
// another object (a FileStore cannot hold both "a" and "a/b"), transient or throttled for a
// temporary failure of the backend, internal for anything else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace sentiflow {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;          // MD5 of the content, 32 lower-case hex digits (S3's ETag, without quotes)
  std::string content_type;  // as put; empty in list() results (S3's listing does not return it)
  Millis last_modified{};
};

struct StoredObject {
  ObjectInfo info;
  std::string data;
};

struct StoreLimits {
  size_t max_key_bytes = 1024;      // S3's limit
  size_t max_keys_per_page = 1000;  // S3's ListObjectsV2 MaxKeys
};

struct ListRequest {
  std::string prefix{};              // only keys that start with it; "" for all
  size_t max_keys = 1000;            // 1 to limits().max_keys_per_page
  std::string continuation_token{};  // empty: from the first key; else a page's next_token
};

struct ListPage {
  std::vector<ObjectInfo> objects;  // in lexicographic order of key
  std::string next_token;           // empty when there are no more keys
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual StoreLimits limits() const = 0;

  // Stores `data` under `key`, replacing any object there, and returns its head. An empty
  // content type is guess_content_type(key). Throws Error(invalid_input) for a key that
  // breaks check_object_key() or the backend's rules, or a content type that is not 1-255
  // printable ASCII characters.
  virtual ObjectInfo put(std::string_view key, std::string_view data, std::string_view content_type = "") = 0;

  // The object with its head, or nullopt when there is none under `key`.
  virtual std::optional<StoredObject> get(std::string_view key) = 0;

  // The object's size, ETag, content type and time of last change, or nullopt.
  virtual std::optional<ObjectInfo> head(std::string_view key) = 0;

  // One page of the keys under request.prefix, after the token's position. Throws
  // Error(invalid_input) for max_keys outside its range or a token this store did not issue.
  virtual ListPage list(const ListRequest& request) = 0;

  // Deletes the object; deleting a key with no object succeeds (as on S3).
  virtual void remove(std::string_view key) = 0;
};

// The key rules of every backend: valid UTF-8 of 1 to 1024 bytes; no NUL and no backslash;
// '/' separates segments, and no segment may be empty, "." or ".." (so no leading or trailing
// '/' either). Throws Error(invalid_input) naming the broken rule.
void check_object_key(std::string_view key);

// The content type of a key by its extension: ".jsonl" application/x-ndjson, ".json"
// application/json, ".csv" text/csv, ".gz" application/gzip, ".txt" text/plain, ...;
// application/octet-stream (S3's default) for anything else.
std::string guess_content_type(std::string_view key);

// Throws Error(invalid_input) unless `content_type` is 1-255 printable ASCII characters (it
// becomes an HTTP header on S3).
void check_content_type(std::string_view content_type);

}  // namespace sentiflow
