// FileStore: an ObjectStore (store/object_store.h) in a directory, for running the pipeline
// on one machine; a path or `file:///…/` as the sink's store in a pipeline file.
//
// The object under key "run=1/a.jsonl" is the file <root>/run=1/a.jsonl. A put writes a
// temporary file in the same folder, fsyncs it, renames it over the key and fsyncs the
// folder (the fsyncs only with `sync`, the default), so readers (and a crash) see the old object
// or the new one, whole. The content type
// and the ETag (MD5, with the size and mtime it belongs to) are extended attributes of the
// file (user.sentiflow.*), set before the rename; on a file system without them, or for files
// put there by other means, the content type comes from the file's extension and the ETag is
// computed by reading the file.
//
// Keys cannot leave the root: besides check_object_key(), a segment may not exceed 255 bytes
// (a file name's limit) or start with ".sentiflow-tmp-" (our temporary files), and a key
// whose path passes through a symbolic link is refused with invalid_input (every folder is
// opened with O_NOFOLLOW, relative to the one before). A key cannot be both an object and a
// folder ("a" and "a/b"): the second put fails with conflict. Empty folders left by
// remove() are removed.
//
// A FileStore is safe to share between threads, and several processes may use one root.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>

#include "store/object_store.h"

namespace sentiflow {

class FileStore final : public ObjectStore {
 public:
  // Opens the store at `root`, creating the directory when missing (unless `create` is false:
  // then a missing directory is Error(invalid_input) "no store at ROOT", for readers that must
  // not leave a mistyped path behind). Throws Error(invalid_input) when it cannot be created
  // or is not a directory.
  //
  // `sync`: fsync each object and its folder before put() returns, so that a stored object
  // survives a crash of the machine. Without it a put is still atomic and survives a crash of
  // the process (the rename is), which is the promise of a local pipeline with
  // `queue.durability: normal`; the runner syncs only with `durability: full`.
  explicit FileStore(std::filesystem::path root, bool create = true, bool sync = true);
  ~FileStore() override;
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  const std::filesystem::path& root() const { return root_; }

  StoreLimits limits() const override;
  ObjectInfo put(std::string_view key, std::string_view data, std::string_view content_type = "") override;
  std::optional<StoredObject> get(std::string_view key) override;
  std::optional<ObjectInfo> head(std::string_view key) override;
  ListPage list(const ListRequest& request) override;
  void remove(std::string_view key) override;

 private:
  std::filesystem::path root_;
  int root_fd_ = -1;  // every path is opened relative to it
  bool sync_ = true;
  std::atomic<uint64_t> temp_counter_{0};  // names temporary files uniquely within the process
};

}  // namespace sentiflow
