// `sentiflow package FILE [--out ZIP]`: the Lambda zip of a pipeline (deploy/lambda_package.h).
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "config/loader.h"
#include "core/error.h"
#include "deploy/lambda_package.h"

namespace sentiflow::cli {
namespace {

std::string mebibytes(uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

}  // namespace

void add_package_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("package", "Build the Lambda zip (provided.al2023) of a pipeline");
  struct Options {
    std::string file;
    std::string out = "sentiflow.zip";
    bool no_strip = false;
  };
  auto options = std::make_shared<Options>();
  cmd->add_option("FILE", options->file, "The pipeline file (YAML); the zip holds it as pipeline.yaml")->required();
  cmd->add_option("--out", options->out, "The zip to write")->capture_default_str();
  cmd->add_flag("--no-strip", options->no_strip, "Keep the binary's debug sections (a larger zip)");
  cmd->footer(
      "The zip holds `bootstrap`, this binary, its shared libraries with glibc and the loader, and FILE:\n"
      "it runs on Amazon Linux 2023 whatever its glibc. Exit status: 0 written, 2 invalid file or unwritable zip.");
  cmd->callback([options, &status] {
    const PipelineConfig config = load_pipeline_or_throw(options->file);
    if (config.source.table.backend != TableLocation::Backend::dynamodb ||
        config.queue.url.backend != QueueLocation::Backend::sqs ||
        config.sink.store.backend != StoreLocation::Backend::s3)
      std::cerr << "warning: the pipeline has a local:// table or queue or a folder sink: Lambda has no durable disk "
                   "(only /tmp is writable, and it goes with the sandbox); `sentiflow template` needs dynamodb://, "
                   "sqs:// and s3://\n";
    deploy::PackageOptions package;
    package.pipeline_file = options->file;
    package.out = options->out;
    package.binary = std::filesystem::read_symlink("/proc/self/exe");
    package.bootstrap = deploy::default_bootstrap(package.binary);
    package.strip = !options->no_strip;
    package.data_files = deploy::pipeline_data_files(options->file, config);
    const deploy::PackageSummary summary = deploy::write_package(package);
    for (const auto& warning : summary.warnings) std::cerr << "warning: " << warning << "\n";
    std::cout << fmt::format("{}: {} bytes ({}), {} files, {} unzipped\n", options->out, summary.zip_bytes,
                             mebibytes(summary.zip_bytes), summary.entries.size(), mebibytes(summary.unzipped_bytes));
    status = 0;
  });
}

}  // namespace sentiflow::cli
