// `sentiflow template FILE [--out PATH]`: the AWS SAM template of a pipeline (deploy/README.md).
#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "config/loader.h"
#include "core/error.h"
#include "deploy/sam_template.h"

namespace sentiflow::cli {

void add_template_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("template", "Render the AWS SAM template that deploys a pipeline to Lambda");
  struct Options {
    std::string file;
    std::string out;
    deploy::SamTemplateOptions render;
  };
  auto options = std::make_shared<Options>();
  cmd->add_option("FILE", options->file, "The pipeline file (YAML), with dynamodb://, sqs:// and s3:// URIs")
      ->required();
  cmd->add_option("--out", options->out, "Write the template to PATH instead of stdout");
  cmd->add_option("--code-uri", options->render.code_uri,
                  "The functions' code: the zip of `sentiflow package`, relative to the template's folder")
      ->capture_default_str();
  cmd->add_option("--log-retention", options->render.log_retention_days, "Days CloudWatch Logs keeps the logs")
      ->capture_default_str();
  cmd->footer(
      "Exit status: 0 rendered, 2 the file is invalid or cannot be deployed (local URIs, a visibility timeout\n"
      "under 6x the function timeout, ...). Deploy with `sam deploy --guided` (deploy/README.md).");
  cmd->callback([options, &status] {
    const PipelineConfig config = load_pipeline_or_throw(options->file);
    const deploy::SamTemplate rendered = deploy::render_sam_template(config, options->render);
    for (const auto& warning : rendered.warnings) std::cerr << "warning: " << warning << "\n";
    if (options->out.empty()) {
      std::cout << rendered.yaml;
    } else {
      Output out(options->out);  // whole or not at all
      out.buffer() = rendered.yaml;
      out.commit();
      std::cerr << fmt::format("wrote {} ({} bytes)\n", options->out, rendered.yaml.size());
    }
    status = 0;
  });
}

}  // namespace sentiflow::cli
