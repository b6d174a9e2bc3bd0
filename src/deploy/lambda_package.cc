#include "deploy/lambda_package.h"

#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>

#include "core/error.h"
#include "core/strings.h"
#include "core/temp_file.h"

extern char** environ;

namespace sentiflow::deploy {
namespace {

namespace fs = std::filesystem;

// Lambda's limits on a function's code: 50 MB zipped (a direct upload), 250 MB unzipped.
constexpr uint64_t kMaxZipBytes = 50'000'000;
constexpr uint64_t kMaxUnzippedBytes = 250ull * 1024 * 1024;

// The fixed timestamp of every entry, 1980-01-01 00:00 in MS-DOS form (the oldest a zip can
// say): a zip built twice from the same files has the same bytes.
constexpr zip_uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;  // year-1980, month, day
constexpr zip_uint16_t kDosTime = 0;

struct ElfFacts {
  bool dynamic = false;     // has a PT_INTERP
  std::string interpreter;  // its path
};

// The program headers of an ELF64 executable: is it dynamic, and which loader does it name?
ElfFacts read_elf(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw invalid_input(fmt::format("cannot read {}", file.string()));
  Elf64_Ehdr header{};
  in.read(reinterpret_cast<char*>(&header), sizeof header);
  if (!in || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64)
    throw invalid_input(fmt::format("{} is not a 64-bit ELF executable", file.string()));
  ElfFacts facts;
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(static_cast<std::streamoff>(header.e_phoff + static_cast<uint64_t>(i) * header.e_phentsize));
    in.read(reinterpret_cast<char*>(&ph), sizeof ph);
    if (!in) throw invalid_input(fmt::format("{}: truncated ELF program headers", file.string()));
    if (ph.p_type != PT_INTERP) continue;
    std::string interpreter(ph.p_filesz, '\0');
    in.seekg(static_cast<std::streamoff>(ph.p_offset));
    in.read(interpreter.data(), static_cast<std::streamsize>(interpreter.size()));
    if (!in) throw invalid_input(fmt::format("{}: truncated ELF interpreter", file.string()));
    facts.dynamic = true;
    facts.interpreter = interpreter.c_str();  // drop the terminating NUL
  }
  return facts;
}

struct Finished {
  int status = -1;  // exit status, -1 when killed by a signal
  std::string out;
};

// Runs argv[0] (a path, no PATH search when it has a '/') with stdout captured; stderr is
// inherited so that the tool's own message reaches the user. The environment is ours without
// LD_PRELOAD and LD_LIBRARY_PATH: the package must hold the system's libraries, not a
// developer's overrides.
Finished run_capturing(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    throw Error(ErrorCode::internal, fmt::format("pipe: {}", std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e)
    if (!std::string_view(*e).starts_with("LD_PRELOAD=") && !std::string_view(*e).starts_with("LD_LIBRARY_PATH="))
      env.push_back(*e);
  env.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    throw Error(ErrorCode::internal, fmt::format("cannot run {}: {}", argv[0], std::strerror(spawned)));
  }
  Finished finished;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n > 0) {
      finished.out.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(pipe_fds[0]);
  int raw = 0;
  while (::waitpid(pid, &raw, 0) < 0 && errno == EINTR) {}
  finished.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return finished;
}

// A temporary file removed when it goes out of scope.
std::string zip_error_text(zip_t* archive) { return zip_strerror(archive); }

}  // namespace

SharedLibraries shared_libraries(const fs::path& executable) {
  const ElfFacts facts = read_elf(executable);
  if (!facts.dynamic)
    throw invalid_input(
        fmt::format("{} is not dynamically linked: it needs no libraries of its own", executable.string()));
  // The loader's own answer (`ld.so --list`, what ldd runs): it applies RUNPATH, ld.so.cache
  // and the default folders exactly as it will when the binary starts.
  const Finished listed = run_capturing({facts.interpreter, "--list", executable.string()});
  if (listed.status != 0)
    throw invalid_input(
        fmt::format("{} --list {} failed (exit status {})", facts.interpreter, executable.string(), listed.status));
  SharedLibraries result;
  result.loader = facts.interpreter;
  std::vector<std::string> missing;
  for (const auto& raw_line : split(listed.out, '\n')) {
    const std::string_view line = trim(raw_line);
    if (line.empty()) continue;
    const auto arrow = line.find(" => ");
    if (arrow == std::string_view::npos) continue;  // the vDSO and the loader itself: "NAME (0x...)"
    const std::string soname(trim(line.substr(0, arrow)));
    std::string_view target = trim(line.substr(arrow + 4));
    if (target.starts_with("not found")) {
      missing.push_back(soname);
      continue;
    }
    if (const auto address = target.rfind(" ("); address != std::string_view::npos) target = target.substr(0, address);
    if (target.empty() || target.front() != '/') continue;  // a library without a file (none today)
    result.libraries.emplace_back(soname, fs::path(target));
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw invalid_input(fmt::format("{} needs libraries that are not found here: {}", executable.string(), list));
  }
  return result;
}

fs::path default_bootstrap(const fs::path& binary) { return binary.parent_path() / "sentiflow-bootstrap"; }

PackageSummary write_package(const PackageOptions& options) {
  for (const auto& [what, file] :
       {std::pair{"pipeline file", options.pipeline_file}, std::pair{"sentiflow binary", options.binary},
        std::pair{"bootstrap launcher (build target sentiflow-bootstrap)", options.bootstrap}})
    if (!fs::is_regular_file(file)) throw invalid_input(fmt::format("the {} {} does not exist", what, file.string()));
  if (read_elf(options.bootstrap).dynamic)
    throw invalid_input(
        fmt::format("{} is dynamically linked; the bootstrap must be static so that it runs without a "
                    "libc of the system's",
                    options.bootstrap.string()));
  if (options.out.empty()) throw invalid_input("no zip file given");
  const fs::path out = fs::absolute(options.out);
  if (fs::is_directory(out)) throw invalid_input(fmt::format("{} is a folder; name the zip file", out.string()));

  const SharedLibraries libraries = shared_libraries(options.binary);
  PackageSummary summary;

  // The binary without its debug sections (a RelWithDebInfo build is several times larger);
  // the zip's size is download time at every cold start.
  std::optional<TempFile> stripped;
  fs::path binary = options.binary;
  if (options.strip) {
    stripped.emplace(out);
    const Finished done =
        run_capturing({"objcopy", "--strip-debug", options.binary.string(), stripped->path().string()});
    if (done.status != 0)
      throw Error(ErrorCode::internal, fmt::format("objcopy --strip-debug {} failed (exit status {}); package with "
                                                   "--no-strip to skip it",
                                                   options.binary.string(), done.status));
    binary = stripped->path();
  }

  std::vector<PackageEntry> entries;
  entries.push_back({"bootstrap", options.bootstrap, true});
  entries.push_back({"bin/sentiflow", binary, true});
  const std::string lib = std::string(kPackageLibraryFolder) + "/";
  entries.push_back({lib + libraries.loader.filename().string(), fs::canonical(libraries.loader), true});
  for (const auto& [soname, file] : libraries.libraries) entries.push_back({lib + soname, fs::canonical(file), false});
  entries.push_back({"pipeline.yaml", options.pipeline_file, false});
  for (const auto& [name, file] : options.data_files) {
    if (!fs::is_regular_file(file)) throw invalid_input(fmt::format("the data file {} does not exist", file.string()));
    entries.push_back({name, file, false});
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  entries.erase(
      std::unique(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name == b.name; }),
      entries.end());
  for (auto& e : entries) {
    e.bytes = fs::file_size(e.source);
    summary.unzipped_bytes += e.bytes;
  }

  // libzip writes a temporary file next to `out` and renames it over `out` in zip_close, so a
  // failed package never leaves half a zip behind.
  int error = 0;
  zip_t* archive = zip_open(out.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (archive == nullptr) {
    zip_error_t e;
    zip_error_init_with_code(&e, error);
    const std::string text = zip_error_strerror(&e);
    zip_error_fini(&e);
    throw invalid_input(fmt::format("cannot write {}: {}", out.string(), text));
  }
  const auto fail = [&](const std::string& what) {
    const std::string text = zip_error_text(archive);
    zip_discard(archive);
    return Error(ErrorCode::internal, fmt::format("writing {}: {}: {}", out.string(), what, text));
  };
  for (const auto& e : entries) {
    zip_source_t* source = zip_source_file(archive, e.source.c_str(), 0, -1);
    if (source == nullptr) throw fail("reading " + e.source.string());
    const zip_int64_t index = zip_file_add(archive, e.name.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      throw fail("adding " + e.name);
    }
    const auto i = static_cast<zip_uint64_t>(index);
    const zip_uint32_t mode = (e.executable ? 0100755u : 0100644u) << 16;
    // Deflate level 6: level 9 makes the zip 0.5% smaller and takes twice as long.
    if (zip_file_set_external_attributes(archive, i, 0, ZIP_OPSYS_UNIX, mode) != 0 ||
        zip_file_set_dostime(archive, i, kDosTime, kDosDate, 0) != 0 ||
        zip_set_file_compression(archive, i, ZIP_CM_DEFLATE, 6) != 0)
      throw fail("setting the attributes of " + e.name);
  }
  if (zip_close(archive) != 0) {
    const std::string text = zip_error_text(archive);
    zip_discard(archive);
    throw invalid_input(fmt::format("cannot write {}: {}", out.string(), text));
  }
  summary.zip_bytes = fs::file_size(out);
  summary.entries = std::move(entries);
  if (summary.zip_bytes > kMaxZipBytes)
    summary.warnings.push_back(
        fmt::format("the zip is {} bytes, over the 50 MB Lambda takes as a direct upload; "
                    "sam deploy uploads it to S3 first, which allows it",
                    summary.zip_bytes));
  if (summary.unzipped_bytes > kMaxUnzippedBytes)
    summary.warnings.push_back(
        fmt::format("unzipped the package is {} bytes, over Lambda's 250 MB limit", summary.unzipped_bytes));
  return summary;
}

std::vector<std::pair<std::string, fs::path>> pipeline_data_files(const fs::path& pipeline_file,
                                                                  const PipelineConfig& config) {
  std::vector<std::pair<std::string, fs::path>> files;
  if (config.sentiment.engine != SentimentEngine::fasttext || config.sentiment.model == "builtin") return files;
  const fs::path folder = fs::absolute(pipeline_file).parent_path().lexically_normal();
  const fs::path model = fs::path(config.sentiment.model).lexically_normal();
  const fs::path relative = model.lexically_relative(folder);
  if (relative.empty() || *relative.begin() == "..")
    throw invalid_input(fmt::format(
        "sentiment.model {} is outside the pipeline file's folder {}: the zip holds a model at its path relative to "
        "the pipeline file, so move it there and name it by that relative path (or use builtin)",
        model.string(), folder.string()));
  files.emplace_back(relative.generic_string(), model);
  return files;
}

}  // namespace sentiflow::deploy
