#include "store/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <queue>
#include <random>
#include <utility>

#include "core/error.h"
#include "core/strings.h"
#include "core/utf8.h"

namespace sentiflow {
namespace {

constexpr std::string_view kTempPrefix = ".sentiflow-tmp-";
constexpr const char* kContentTypeAttribute = "user.sentiflow.content_type";
// "<md5 hex> <size> <mtime ns>": the ETag, valid while the file keeps that size and mtime.
constexpr const char* kEtagAttribute = "user.sentiflow.etag";
constexpr size_t kMaxSegmentBytes = 255;  // NAME_MAX
constexpr int kPutAttempts = 4;           // a concurrent remove() may delete a folder under us
constexpr std::string_view kTokenPrefix = "1.";

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// The error for a failed system call; the code tells a caller whether trying again may help.
Error io_error(int err, std::string_view what) {
  const std::string message = fmt::format("{}: {}", what, std::strerror(err));
  switch (err) {
    case EACCES:
    case EPERM:
    case EROFS: return Error(ErrorCode::invalid_input, message);  // the user fixes permissions or the path
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EAGAIN:
    case EINTR: return Error(ErrorCode::transient, message);
    default: return Error(ErrorCode::internal, message);
  }
}

struct KeyPath {
  std::vector<std::string> folders;
  std::string name;
};

// Splits a key into folders and a file name, with the rules a directory adds to S3's.
KeyPath split_key(std::string_view key) {
  check_object_key(key);
  const auto segments = split(key, '/');
  for (const auto segment : segments) {
    if (segment.size() > kMaxSegmentBytes)
      throw invalid_input(fmt::format("object key '{}' has a segment of {} bytes; a file store allows at most {}", key,
                                      segment.size(), kMaxSegmentBytes));
    if (segment.starts_with(kTempPrefix))
      throw invalid_input(fmt::format("object key '{}': segments starting with '{}' are reserved", key, kTempPrefix));
  }
  KeyPath path;
  for (size_t i = 0; i + 1 < segments.size(); ++i) path.folders.emplace_back(segments[i]);
  path.name = std::string(segments.back());
  return path;
}

bool is_symlink_at(int dir, const std::string& name) {
  struct stat st {};
  return ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

Error symlink_error(std::string_view key, const std::string& segment) {
  return invalid_input(
      fmt::format("object key '{}' passes through the symbolic link '{}'; keys may not leave the store", key, segment));
}

// Reads the whole file in chunks, handing each to `take`.
template <typename Take>
void read_chunks(int fd, std::string_view key, Take&& take) {
  char buffer[1 << 16];
  for (off_t offset = 0;;) {
    const ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error(errno, fmt::format("reading object '{}'", key));
    if (n == 0) return;
    take(std::string_view(buffer, static_cast<size_t>(n)));
    offset += n;
  }
}

std::string read_all(int fd, std::string_view key) {
  std::string data;
  read_chunks(fd, key, [&](std::string_view chunk) { data.append(chunk); });
  return data;
}

// MD5 (S3's ETag) of `data`, or of the file `fd` when `data` is null, in lower-case hex.
std::string md5_hex(const std::string_view* data, int fd = -1, std::string_view key = {}) {
  const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_md5(), nullptr) != 1)
    throw Error(ErrorCode::internal, "OpenSSL could not start an MD5");
  const auto update = [&](std::string_view chunk) {
    if (EVP_DigestUpdate(context.get(), chunk.data(), chunk.size()) != 1)
      throw Error(ErrorCode::internal, "OpenSSL could not compute an MD5");
  };
  if (data != nullptr)
    update(*data);
  else
    read_chunks(fd, key, update);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1)
    throw Error(ErrorCode::internal, "OpenSSL could not finish an MD5");
  std::string hex;
  for (unsigned i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::optional<std::string> get_attribute(int fd, const char* name) {
  char value[512];
  const ssize_t n = ::fgetxattr(fd, name, value, sizeof value);
  if (n < 0) return std::nullopt;
  return std::string(value, static_cast<size_t>(n));
}

// Extended attributes are an optimisation: a file system without them (ENOTSUP) still works.
void set_attribute(int fd, const char* name, std::string_view value, std::string_view key) {
  if (::fsetxattr(fd, name, value.data(), value.size(), 0) != 0 && errno != ENOTSUP && errno != EOPNOTSUPP)
    throw io_error(errno, fmt::format("storing the metadata of object '{}'", key));
}

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string etag_record(const std::string& md5, const struct stat& st) {
  return fmt::format("{} {} {}", md5, st.st_size, mtime_ns(st));
}

// The head of an open regular file; `with_content_type` false leaves it empty (as list() does).
// `data`, when the caller has read the file already, saves reading it again for the ETag.
ObjectInfo info_of(int fd, const struct stat& st, std::string_view key, const std::string& name, bool with_content_type,
                   const std::string_view* data = nullptr) {
  ObjectInfo info;
  info.key = std::string(key);
  info.size = static_cast<uint64_t>(st.st_size);
  info.last_modified = Millis(std::chrono::milliseconds(mtime_ns(st) / 1'000'000));
  const auto recorded = get_attribute(fd, kEtagAttribute);
  const auto space = recorded ? recorded->find(' ') : std::string::npos;
  if (recorded && space != std::string::npos &&
      recorded->substr(space + 1) == fmt::format("{} {}", st.st_size, mtime_ns(st)))
    info.etag = recorded->substr(0, space);
  else  // put there by other means, or changed since: compute it
    info.etag = md5_hex(data, fd, key);
  if (with_content_type)
    info.content_type = get_attribute(fd, kContentTypeAttribute).value_or(guess_content_type(name));
  return info;
}

bool is_valid_key(std::string_view key) {
  try {
    split_key(key);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

namespace {

// The folders of a key, opened one by one below the root without following links: element 0
// is the root, the last is the folder that holds the object. nullopt when a folder is missing
// (or is a file) and `create` is false.
std::optional<std::vector<Fd>> open_folders(int root_fd, std::string_view key, const KeyPath& path, bool create) {
  std::vector<Fd> folders;
  folders.emplace_back(::dup(root_fd));
  if (folders.back().get() < 0) throw io_error(errno, "duplicating the store's root descriptor");
  for (const auto& segment : path.folders) {
    const int parent = folders.back().get();
    int fd = ::openat(parent, segment.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(parent, segment.c_str(), 0755) == 0)
        ::fsync(parent);  // the new folder's entry survives a crash with the object
      else if (errno != EEXIST)
        throw io_error(errno, fmt::format("creating the folder '{}' of object '{}'", segment, key));
      fd = ::openat(parent, segment.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      const int err = errno;
      if (err == ELOOP || ((err == ENOTDIR) && is_symlink_at(parent, segment))) throw symlink_error(key, segment);
      if (err == ENOTDIR && create)
        throw Error(ErrorCode::conflict,
                    fmt::format("object key '{}' needs '{}' to be a folder, but it is an object", key, segment));
      if (err == ENOENT || err == ENOTDIR) return std::nullopt;
      throw io_error(err, fmt::format("opening the folder '{}' of object '{}'", segment, key));
    }
    folders.emplace_back(fd);
  }
  return folders;
}

// The object's file, opened for reading; nullopt when there is none (a folder is not one).
std::optional<std::pair<Fd, struct stat>> open_object(int folder, std::string_view key, const std::string& name) {
  Fd fd(::openat(folder, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ELOOP) throw symlink_error(key, name);
    if (errno == ENOENT) return std::nullopt;
    throw io_error(errno, fmt::format("opening object '{}'", key));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw io_error(errno, fmt::format("reading the head of object '{}'", key));
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  return std::make_pair(std::move(fd), st);
}

}  // namespace

FileStore::FileStore(std::filesystem::path root, bool create, bool sync) : root_(std::move(root)), sync_(sync) {
  if (create) {
    std::error_code ec;
    std::filesystem::create_directories(root_, ec);
    if (ec) throw invalid_input(fmt::format("cannot create the store folder {}: {}", root_.string(), ec.message()));
  }
  root_fd_ = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0 && !create && errno == ENOENT) throw invalid_input(fmt::format("no store at {}", root_.string()));
  if (root_fd_ < 0)
    throw invalid_input(fmt::format("cannot open the store folder {}: {}", root_.string(), std::strerror(errno)));
}

FileStore::~FileStore() {
  if (root_fd_ >= 0) ::close(root_fd_);
}

StoreLimits FileStore::limits() const { return StoreLimits{}; }

ObjectInfo FileStore::put(std::string_view key, std::string_view data, std::string_view content_type) {
  const KeyPath path = split_key(key);
  const std::string type = content_type.empty() ? guess_content_type(key) : std::string(content_type);
  check_content_type(type);
  const std::string md5 = md5_hex(&data);

  for (int attempt = 1;; ++attempt) {
    auto folders = open_folders(root_fd_, key, path, true);
    const int folder = folders->back().get();
    struct stat existing {};
    if (::fstatat(folder, path.name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISLNK(existing.st_mode)) throw symlink_error(key, path.name);
      if (S_ISDIR(existing.st_mode))
        throw Error(ErrorCode::conflict,
                    fmt::format("object key '{}' is a folder of other objects; it cannot be an object too", key));
    }
    const std::string temp =
        fmt::format("{}{}-{}-{:08x}", kTempPrefix, ::getpid(), temp_counter_++, std::random_device{}());
    Fd fd(::openat(folder, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0 && errno == ENOENT && attempt < kPutAttempts) continue;  // the folder was just removed
    if (fd.get() < 0) throw io_error(errno, fmt::format("creating a temporary file for object '{}'", key));
    // Removes the temporary file on every way out but the rename.
    struct TempGuard {
      int folder;
      const std::string& name;
      bool armed = true;
      ~TempGuard() {
        if (armed) ::unlinkat(folder, name.c_str(), 0);
      }
    } guard{folder, temp};

    for (size_t done = 0; done < data.size();) {
      const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw io_error(errno, fmt::format("writing object '{}'", key));
      done += static_cast<size_t>(n);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw io_error(errno, fmt::format("writing object '{}'", key));
    set_attribute(fd.get(), kContentTypeAttribute, type, key);
    set_attribute(fd.get(), kEtagAttribute, etag_record(md5, st), key);
    if (sync_ && ::fsync(fd.get()) != 0) throw io_error(errno, fmt::format("syncing object '{}'", key));
    if (::renameat(folder, temp.c_str(), folder, path.name.c_str()) != 0) {
      const int err = errno;
      if (err == ENOENT && attempt < kPutAttempts) continue;
      if (err == EISDIR || err == ENOTEMPTY || err == EEXIST)
        throw Error(ErrorCode::conflict,
                    fmt::format("object key '{}' is a folder of other objects; it cannot be an object too", key));
      throw io_error(err, fmt::format("renaming object '{}' into place", key));
    }
    guard.armed = false;
    if (sync_ && ::fsync(folder) != 0) throw io_error(errno, fmt::format("syncing the folder of object '{}'", key));
    ObjectInfo info;
    info.key = std::string(key);
    info.size = data.size();
    info.etag = md5;
    info.content_type = type;
    info.last_modified = Millis(std::chrono::milliseconds(mtime_ns(st) / 1'000'000));
    return info;
  }
}

std::optional<StoredObject> FileStore::get(std::string_view key) {
  const KeyPath path = split_key(key);
  auto folders = open_folders(root_fd_, key, path, false);
  if (!folders) return std::nullopt;
  auto file = open_object(folders->back().get(), key, path.name);
  if (!file) return std::nullopt;
  StoredObject object;
  object.data = read_all(file->first.get(), key);
  const std::string_view data = object.data;
  object.info = info_of(file->first.get(), file->second, key, path.name, true, &data);
  if (object.info.size != object.data.size()) {  // written to in place by other means while we read
    object.info.size = object.data.size();
    object.info.etag = md5_hex(&data);
  }
  return object;
}

std::optional<ObjectInfo> FileStore::head(std::string_view key) {
  const KeyPath path = split_key(key);
  auto folders = open_folders(root_fd_, key, path, false);
  if (!folders) return std::nullopt;
  auto file = open_object(folders->back().get(), key, path.name);
  if (!file) return std::nullopt;
  return info_of(file->first.get(), file->second, key, path.name, true);
}

namespace {

// Collects the smallest `wanted` keys that start with `prefix` and sort after `start_after`,
// walking the folder tree below `folder` (whose keys start with `folder_key`).
class KeyCollector {
 public:
  KeyCollector(std::string prefix, std::string start_after, size_t wanted)
      : prefix_(std::move(prefix)), start_after_(std::move(start_after)), wanted_(wanted) {}

  void walk(int folder, const std::string& folder_key) {
    // A descriptor of its own: a dup() would share the read position with `folder`, and so
    // with the root descriptor that every call starts from. closedir() closes it.
    const int copy = ::openat(folder, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (copy < 0) throw io_error(errno, "listing the store");
    DIR* dir = ::fdopendir(copy);
    if (dir == nullptr) {
      const int err = errno;
      ::close(copy);
      throw io_error(err, "listing the store");
    }
    const std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, &::closedir);
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == ".." || name.starts_with(kTempPrefix)) continue;
      unsigned char type = entry->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (::fstatat(folder, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR : DT_LNK;
      }
      const std::string key = folder_key + name;
      if (type == DT_REG) {
        if (key.starts_with(prefix_) && key > start_after_ && is_valid_key(key)) offer(key);
      } else if (type == DT_DIR) {
        const std::string inner = key + "/";
        const bool may_match = inner.starts_with(prefix_) || prefix_.starts_with(inner);
        // Every key inside sorts after `inner`'s first characters: skip a folder that lies
        // wholly before the start or after the largest key we would keep.
        const bool before_start = start_after_.compare(0, inner.size(), inner) > 0;
        const bool after_kept = keys_.size() == wanted_ && inner > keys_.top();
        if (!may_match || before_start || after_kept) continue;
        Fd inner_fd(::openat(folder, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (inner_fd.get() >= 0) walk(inner_fd.get(), inner);
      }
      // Links and other files are not objects.
    }
  }

  std::vector<std::string> sorted() {
    std::vector<std::string> keys;
    while (!keys_.empty()) {
      keys.push_back(keys_.top());
      keys_.pop();
    }
    std::reverse(keys.begin(), keys.end());
    return keys;
  }

 private:
  void offer(const std::string& key) {
    if (keys_.size() < wanted_) {
      keys_.push(key);
    } else if (key < keys_.top()) {
      keys_.pop();
      keys_.push(key);
    }
  }

  std::string prefix_;
  std::string start_after_;
  size_t wanted_;
  std::priority_queue<std::string> keys_;  // the largest kept key on top
};

}  // namespace

ListPage FileStore::list(const ListRequest& request) {
  if (request.max_keys < 1 || request.max_keys > limits().max_keys_per_page)
    throw invalid_input(fmt::format("list: max_keys {} is outside 1-{}", request.max_keys, limits().max_keys_per_page));
  std::string start_after;
  if (!request.continuation_token.empty()) {
    // A token is "1." and the last key of the page before (version 1 of the format).
    if (!request.continuation_token.starts_with(kTokenPrefix) ||
        !is_valid_key(std::string_view(request.continuation_token).substr(kTokenPrefix.size())))
      throw invalid_input("list: the continuation token is not one this store gave");
    start_after = request.continuation_token.substr(kTokenPrefix.size());
  }
  ListPage page;
  // Start in the deepest folder the prefix names; a prefix whose folders cannot exist
  // matches no key.
  const auto slash = request.prefix.rfind('/');
  std::string folder_key;
  std::optional<std::vector<Fd>> folders;
  if (slash == std::string::npos) {
    folders = open_folders(root_fd_, request.prefix, KeyPath{}, false);
  } else {
    folder_key = request.prefix.substr(0, slash + 1);
    const std::string folder_path = request.prefix.substr(0, slash);
    if (!is_valid_key(folder_path)) return page;
    KeyPath path = split_key(folder_path + "/x");
    folders = open_folders(root_fd_, folder_path, path, false);
  }
  if (!folders) return page;

  KeyCollector collector(request.prefix, start_after, request.max_keys + 1);
  collector.walk(folders->back().get(), folder_key);
  std::vector<std::string> keys = collector.sorted();
  if (keys.size() > request.max_keys) {
    keys.resize(request.max_keys);
    page.next_token = std::string(kTokenPrefix) + keys.back();
  }
  for (const auto& key : keys) {
    try {
      const KeyPath path = split_key(key);
      auto key_folders = open_folders(root_fd_, key, path, false);
      if (!key_folders) continue;
      auto file = open_object(key_folders->back().get(), key, path.name);
      if (!file) continue;  // removed since the walk
      page.objects.push_back(info_of(file->first.get(), file->second, key, path.name, false));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::invalid_input) throw;  // a link appeared since the walk: not an object
    }
  }
  return page;
}

void FileStore::remove(std::string_view key) {
  const KeyPath path = split_key(key);
  auto folders = open_folders(root_fd_, key, path, false);
  if (!folders) return;
  const int folder = folders->back().get();
  struct stat st {};
  if (::fstatat(folder, path.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (S_ISLNK(st.st_mode)) throw symlink_error(key, path.name);
  if (!S_ISREG(st.st_mode)) return;  // a folder is not an object
  if (::unlinkat(folder, path.name.c_str(), 0) != 0 && errno != ENOENT)
    throw io_error(errno, fmt::format("deleting object '{}'", key));
  ::fsync(folder);
  // Folders exist only for the keys in them: remove the ones this delete left empty.
  for (size_t level = path.folders.size(); level > 0; --level) {
    if (::unlinkat((*folders)[level - 1].get(), path.folders[level - 1].c_str(), AT_REMOVEDIR) != 0) break;
  }
}

}  // namespace sentiflow
