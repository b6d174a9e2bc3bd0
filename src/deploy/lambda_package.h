// The Lambda deployment package: one zip for the `provided.al2023` runtime that holds the
// sentiflow binary, every shared library it loads, the dynamic loader and the pipeline file
// (`sentiflow package`, docs/LAMBDA.md "Packaging and deployment").
//
// Amazon Linux 2023 ships glibc 2.34, older than the one we build against, so the zip brings
// its own glibc and loader (as aws-lambda-cpp's packager does) and never touches the system's:
//
//   bootstrap                     a static launcher (deploy/bootstrap.cc) that runs
//                                 runtime/lib/<loader> --library-path runtime/lib bin/sentiflow ARGS...
//   bin/sentiflow                 this binary, its debug sections stripped
//   runtime/lib/<loader>, runtime/lib/<soname>…
//                                 the libraries as the loader resolves them here
//   pipeline.yaml                 the pipeline file, as written (its ${VAR}s resolve on Lambda)
//   <model>                       a fastText sentiment.model file, at its path relative to the
//                                 pipeline file (the built-in model is compiled into the binary)
//
// Why runtime/lib and not lib/: Lambda's default LD_LIBRARY_PATH names /var/task and
// /var/task/lib, so a library there would be loaded by every dynamically linked program of the
// sandbox (an extension, a layer's tool) in place of the system's, and our glibc, newer than
// Amazon Linux's, would make them fail. No folder of the zip but runtime/lib holds a library,
// and only our launcher names it (--library-path, not the environment, so that no child
// process inherits it).
// The lexicons, the built-in fastText model and the dashboard are compiled into the binary, so
// no other data files are needed.
// The launcher is static, so the zip runs in an otherwise empty root: no shell, no libc there.
//
// Functions here are thread-safe; they read the files named and write only `out`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "config/pipeline_config.h"

namespace sentiflow::deploy {

// What a dynamically linked executable loads, in the loader's own view (`<loader> --list`).
struct SharedLibraries {
  std::filesystem::path loader;  // PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2
  // soname -> the file it resolves to here (the loader's search: RUNPATH, ld.so.cache, ...);
  // in the loader's order, without the vDSO and the loader itself.
  std::vector<std::pair<std::string, std::filesystem::path>> libraries;
};

// The folder of the zip that holds the loader and the libraries: one Lambda's default
// LD_LIBRARY_PATH does not name (see the top of this file). deploy/bootstrap.cc has it too.
inline constexpr const char* kPackageLibraryFolder = "runtime/lib";

// Returns the libraries `executable` loads. Throws Error(invalid_input) for a file that is not
// a dynamically linked ELF executable or whose libraries are not all found; Error(internal)
// when the loader cannot be run.
SharedLibraries shared_libraries(const std::filesystem::path& executable);

struct PackageOptions {
  std::filesystem::path pipeline_file;  // validated by the caller; stored as pipeline.yaml
  std::filesystem::path out;            // the zip; replaced when it exists
  std::filesystem::path binary;         // the sentiflow executable to package
  std::filesystem::path bootstrap;      // the static launcher (target sentiflow-bootstrap)
  bool strip = true;                    // strip debug sections from the binary (objcopy)
  // Data files the pipeline names (a fastText model): path inside the zip, relative to
  // pipeline.yaml as the file names it -> the file here.
  std::vector<std::pair<std::string, std::filesystem::path>> data_files{};
};

// The data files of a pipeline for its zip: sentiment.model when the engine is fasttext and the
// model is a file, at its path relative to the pipeline file's folder (so that the relative path
// the file writes finds it in /var/task). Throws Error(invalid_input) for a model outside that
// folder: it could not be found on Lambda.
std::vector<std::pair<std::string, std::filesystem::path>> pipeline_data_files(
    const std::filesystem::path& pipeline_file, const PipelineConfig& config);

struct PackageEntry {
  std::string name;              // path inside the zip
  std::filesystem::path source;  // the file whose bytes it holds
  bool executable = false;       // mode 0755, else 0644
  uint64_t bytes = 0;            // uncompressed size
};

struct PackageSummary {
  std::vector<PackageEntry> entries;  // in the zip's order (sorted by name)
  uint64_t zip_bytes = 0;
  uint64_t unzipped_bytes = 0;
  std::vector<std::string> warnings;
};

// The sentiflow-bootstrap launcher that belongs to `binary`: the file of that name in the
// binary's own folder (both are built together).
std::filesystem::path default_bootstrap(const std::filesystem::path& binary);

// Writes the zip. Entries are sorted, carry a fixed timestamp (1980-01-01 00:00) and Unix modes
// in their external attributes, so the same inputs give the same bytes. Throws
// Error(invalid_input) for a missing input, a bootstrap that is not a static executable or an
// `out` that cannot be written; Error(internal) for a failure of libzip or objcopy.
PackageSummary write_package(const PackageOptions& options);

}  // namespace sentiflow::deploy
