// A disk-fault shim for tests (issue 14, "Disk faults"): loaded with LD_PRELOAD into a
// sentiflow process, it makes file-system calls on one tree fail with a chosen errno, as a
// full, failing or read-only disk would, while the test decides when.
//
//   SENTIFLOW_FAULT_PATH     the tree: calls on files whose path starts with it are affected
//   SENTIFLOW_FAULT_CONTROL  a file the test writes; while it is absent or empty, nothing fails.
//                            Its text: ERRNO [OPS [FIRST [COUNT]]], e.g. "EIO", "ENOSPC write",
//                            "EROFS open,rename 3 2". ERRNO is ENOSPC, EIO, EROFS, EACCES or
//                            EDQUOT; OPS a comma list of open (opening for writing or creating),
//                            write (write, pwrite), sync (fsync, fdatasync), rename, or "all"
//                            (the default); FIRST the 1-based number of the first matching call
//                            that fails (default 1), COUNT how many fail from there (0, the
//                            default: every one). Counting restarts whenever the text changes.
//
// The control file is read again when its size or modification time changes, so a test arms,
// changes and disarms faults in a running process by rewriting it. Only the calls named above
// are wrapped (through dlsym(RTLD_NEXT)); reads always work, as they do on a full disk.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum { OP_OPEN = 1, OP_WRITE = 2, OP_SYNC = 4, OP_RENAME = 8, OP_ALL = 15 };

static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct {
  int loaded;
  struct timespec mtime;
  off_t size;
  int armed;
  int err;
  int ops;
  long first;
  long count;
  long calls;  // matching calls since the text last changed
} g;

static int errno_of(const char* name) {
  static const struct {
    const char* name;
    int value;
  } known[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EROFS", EROFS}, {"EACCES", EACCES}, {"EDQUOT", EDQUOT}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; ++i)
    if (strcmp(name, known[i].name) == 0) return known[i].value;
  return 0;
}

static int ops_of(char* text) {
  if (strcmp(text, "all") == 0) return OP_ALL;
  int ops = 0;
  for (char* save = NULL, *op = strtok_r(text, ",", &save); op; op = strtok_r(NULL, ",", &save)) {
    if (strcmp(op, "open") == 0) ops |= OP_OPEN;
    else if (strcmp(op, "write") == 0) ops |= OP_WRITE;
    else if (strcmp(op, "sync") == 0) ops |= OP_SYNC;
    else if (strcmp(op, "rename") == 0) ops |= OP_RENAME;
  }
  return ops;
}

// Re-reads the control file when it changed; with g_mutex held. A text it cannot parse
// disarms the shim and says so on stderr (a test that wrote it wrongly must not pass quietly).
static void load_control(void) {
  const char* control = getenv("SENTIFLOW_FAULT_CONTROL");
  struct stat st;
  if (control == NULL || stat(control, &st) != 0) {
    g.armed = 0;
    g.loaded = 0;
    return;
  }
  if (g.loaded && st.st_size == g.size && st.st_mtim.tv_sec == g.mtime.tv_sec &&
      st.st_mtim.tv_nsec == g.mtime.tv_nsec)
    return;
  g.loaded = 1;
  g.size = st.st_size;
  g.mtime = st.st_mtim;
  g.armed = 0;
  g.calls = 0;
  FILE* f = fopen(control, "r");
  if (f == NULL) return;
  char name[32] = "", ops[64] = "all";
  long first = 1, count = 0;
  const int n = fscanf(f, "%31s %63s %ld %ld", name, ops, &first, &count);
  fclose(f);
  if (n < 1) return;  // empty: disarmed
  g.err = errno_of(name);
  g.ops = ops_of(ops);
  g.first = first < 1 ? 1 : first;
  g.count = count < 0 ? 0 : count;
  if (g.err == 0 || g.ops == 0) {
    fprintf(stderr, "fault_shim: cannot read the control text (want ERRNO [OPS [FIRST [COUNT]]])\n");
    return;
  }
  g.armed = 1;
}

static int under_tree(const char* path) {
  const char* tree = getenv("SENTIFLOW_FAULT_PATH");
  return tree != NULL && *tree != '\0' && path != NULL && strncmp(path, tree, strlen(tree)) == 0;
}

// The path of `name` relative to `dirfd` (AT_FDCWD or a descriptor), or of `fd` when name is NULL.
static int resolve(int dirfd, const char* name, char* out, size_t size) {
  if (name != NULL && name[0] == '/') {
    snprintf(out, size, "%s", name);
    return 1;
  }
  char link[64], dir[4096];
  ssize_t n;
  if (name != NULL && dirfd == AT_FDCWD) {
    if (getcwd(dir, sizeof dir) == NULL) return 0;
    n = (ssize_t)strlen(dir);
  } else {
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    n = readlink(link, dir, sizeof dir - 1);
    if (n < 0) return 0;
    dir[n] = '\0';
  }
  if (name == NULL) snprintf(out, size, "%s", dir);
  else snprintf(out, size, "%s/%s", dir, name);
  return 1;
}

// 0 when the call goes ahead, else the errno it fails with.
static int fault_for(int op, int dirfd, const char* name) {
  pthread_mutex_lock(&g_mutex);
  load_control();
  int armed = g.armed && (g.ops & op);
  pthread_mutex_unlock(&g_mutex);
  if (!armed) return 0;
  char path[8192];
  if (!resolve(dirfd, name, path, sizeof path) || !under_tree(path)) return 0;
  pthread_mutex_lock(&g_mutex);
  int err = 0;
  if (g.armed) {
    const long call = ++g.calls;
    if (call >= g.first && (g.count == 0 || call < g.first + g.count)) err = g.err;
  }
  pthread_mutex_unlock(&g_mutex);
  return err;
}

// The wrapped function's next definition (libc's), looked up once.
#define NEXT(name)                         \
  static __typeof__(name)* next_##name;    \
  if (!next_##name) next_##name = (__typeof__(name)*)dlsym(RTLD_NEXT, #name)
#define FAIL_WITH(e) do { errno = (e); return -1; } while (0)

static int wants_write(int flags) { return (flags & (O_CREAT | O_WRONLY | O_RDWR | O_TRUNC)) != 0; }

int openat(int dirfd, const char* path, int flags, ...) {
  NEXT(openat);
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  int err;
  if (wants_write(flags) && (err = fault_for(OP_OPEN, dirfd, path)) != 0) FAIL_WITH(err);
  return next_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char* path, int flags, ...) {
  NEXT(openat64);
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  int err;
  if (wants_write(flags) && (err = fault_for(OP_OPEN, dirfd, path)) != 0) FAIL_WITH(err);
  return next_openat64(dirfd, path, flags, mode);
}

int open(const char* path, int flags, ...) {
  NEXT(open);
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  int err;
  if (wants_write(flags) && (err = fault_for(OP_OPEN, AT_FDCWD, path)) != 0) FAIL_WITH(err);
  return next_open(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  NEXT(open64);
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  int err;
  if (wants_write(flags) && (err = fault_for(OP_OPEN, AT_FDCWD, path)) != 0) FAIL_WITH(err);
  return next_open64(path, flags, mode);
}

ssize_t write(int fd, const void* data, size_t size) {
  NEXT(write);
  int err;
  if (fd > 2 && (err = fault_for(OP_WRITE, fd, NULL)) != 0) FAIL_WITH(err);
  return next_write(fd, data, size);
}

ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) {
  NEXT(pwrite);
  int err;
  if ((err = fault_for(OP_WRITE, fd, NULL)) != 0) FAIL_WITH(err);
  return next_pwrite(fd, data, size, offset);
}

ssize_t pwrite64(int fd, const void* data, size_t size, off_t offset) {
  NEXT(pwrite64);
  int err;
  if ((err = fault_for(OP_WRITE, fd, NULL)) != 0) FAIL_WITH(err);
  return next_pwrite64(fd, data, size, offset);
}

int fsync(int fd) {
  NEXT(fsync);
  int err;
  if ((err = fault_for(OP_SYNC, fd, NULL)) != 0) FAIL_WITH(err);
  return next_fsync(fd);
}

int fdatasync(int fd) {
  NEXT(fdatasync);
  int err;
  if ((err = fault_for(OP_SYNC, fd, NULL)) != 0) FAIL_WITH(err);
  return next_fdatasync(fd);
}

int rename(const char* from, const char* to) {
  NEXT(rename);
  int err;
  if ((err = fault_for(OP_RENAME, AT_FDCWD, to)) != 0) FAIL_WITH(err);
  return next_rename(from, to);
}

int renameat(int from_dir, const char* from, int to_dir, const char* to) {
  NEXT(renameat);
  int err;
  if ((err = fault_for(OP_RENAME, to_dir, to)) != 0) FAIL_WITH(err);
  return next_renameat(from_dir, from, to_dir, to);
}

int renameat2(int from_dir, const char* from, int to_dir, const char* to, unsigned int flags) {
  NEXT(renameat2);
  int err;
  if ((err = fault_for(OP_RENAME, to_dir, to)) != 0) FAIL_WITH(err);
  return next_renameat2(from_dir, from, to_dir, to, flags);
}
