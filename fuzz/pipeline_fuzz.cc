// The pipeline file (config/loader.h), as `validate` and every command read it, with the ${VAR}
// substitution before it. load_pipeline_text never throws for what the file says: every problem is
// an issue in the result, and a file that loads resolves to a file that loads again to the same.
#include "config/loader.h"
#include "fuzz/fuzz_target.h"
#include "support/temp_dir.h"

using namespace sentiflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  testing_support::TempDir& dir = fuzz::fixture<testing_support::TempDir>();
  const std::string_view text = fuzz::as_text(data, size);
  fuzz::answered([&] { (void)substitute_environment(text); });

  const std::filesystem::path file = dir.path() / "pipeline.yaml";
  LoadResult loaded;
  fuzz::require(fuzz::answered([&] { loaded = load_pipeline_text(text, file); }), "the loader never throws");
  fuzz::require(loaded.ok() == loaded.config.has_value(), "a config exactly when there are no errors");
  for (const auto& issue : loaded.errors) fuzz::require(!issue.message.empty(), "every error says what is wrong");
  if (loaded.ok()) {
    const LoadResult again = load_pipeline_text(loaded.resolved.dump(), file);
    fuzz::require(again.ok(), "the resolved file of a valid file is valid");
    fuzz::require(again.resolved == loaded.resolved, "the resolved file resolves to itself");
  }
  return 0;
}
