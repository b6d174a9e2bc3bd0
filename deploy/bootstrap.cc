// `bootstrap`: the entry point of sentiflow's Lambda zip (src/deploy/lambda_package.h).
//
// Lambda's provided.al2023 runtime runs `$LAMBDA_TASK_ROOT/bootstrap`. The sentiflow binary in
// the zip is built against a newer glibc than Amazon Linux 2023's (2.34), so it must not start
// through the system's loader: this launcher runs it through the loader bundled in the zip, with
// the zip's runtime/lib/ as the only library path, and passes every argument on:
//
//   $ROOT/runtime/lib/ld-linux-x86-64.so.2 --library-path $ROOT/runtime/lib --inhibit-cache
//       $ROOT/bin/sentiflow ARGS...   (one command line)
//
// runtime/lib, not lib/: Lambda puts /var/task/lib on every process's LD_LIBRARY_PATH, and our
// glibc there would break the sandbox's other programs (extensions, layers' tools). The path is
// given to the loader as an argument, not as LD_LIBRARY_PATH, so no child process inherits it.
// (src/deploy/lambda_package.h's kPackageLibraryFolder names the same folder.)
//
// ROOT is $LAMBDA_TASK_ROOT, else the folder this launcher is in. The launcher is linked
// statically (CMake target sentiflow-bootstrap) so that it needs nothing from the root it runs in
// — not even /bin/sh, which a shell-script bootstrap would — and it replaces itself with the
// loader (execv), so Lambda sees one process whose stdout and stderr are sentiflow's own.
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

#if defined(__x86_64__)
constexpr const char* kLoader = "ld-linux-x86-64.so.2";
#elif defined(__aarch64__)
constexpr const char* kLoader = "ld-linux-aarch64.so.1";
#else
#error "sentiflow's Lambda bootstrap knows the loaders of x86_64 and arm64 only"
#endif

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The package's root: LAMBDA_TASK_ROOT, which Lambda always sets; else where this file is
// (/proc/self/exe, or argv[0] where /proc is not mounted, as in a bare chroot).
std::string package_root(const char* argv0) {
  if (const char* root = std::getenv("LAMBDA_TASK_ROOT"); root != nullptr && *root != '\0') return root;
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) return folder_of(std::string(self, static_cast<size_t>(n)));
  return folder_of(argv0 != nullptr ? argv0 : "./bootstrap");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string root = package_root(argc > 0 ? argv[0] : nullptr);
  const std::string library_path = root + "/runtime/lib";
  const std::string loader = library_path + "/" + kLoader;
  const std::string binary = root + "/bin/sentiflow";
  std::vector<char*> args = {const_cast<char*>(loader.c_str()), const_cast<char*>("--library-path"),
                             const_cast<char*>(library_path.c_str()), const_cast<char*>("--inhibit-cache"),
                             const_cast<char*>(binary.c_str())};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(loader.c_str(), args.data());
  // Only reached when the loader cannot be run: the package is broken. Lambda reports the exit
  // (Runtime.ExitError) with this line in the function's log.
  std::fprintf(stderr, "bootstrap: cannot run %s: %s\n", loader.c_str(), std::strerror(errno));
  return 127;
}
