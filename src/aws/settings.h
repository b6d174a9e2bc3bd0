// Where the AWS settings come from: the pipeline file's `aws:` section, the environment, and
// the shared files ~/.aws/credentials and ~/.aws/config with their profiles.
//
// The environment is read through an Environment function, not getenv() directly, so that tests
// (and several pipelines in one process) pass their own. Values in the pipeline file beat
// environment variables, as everywhere in sentiflow. Pure functions over their inputs, apart
// from reading the shared files; thread-safe.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sentiflow::aws {

// The pipeline file's `aws:` section (config's PipelineConfig::Aws, which aws/ cannot name: it
// sits below config/). Unset values fall back to the standard AWS settings.
struct AwsSettings {
  std::optional<std::string> region{};
  std::optional<std::string> profile{};
  std::optional<std::string> endpoint_url{};
};

// The value of an environment variable; nullopt when it is unset or empty (the SDKs treat an
// empty AWS_REGION, AWS_PROFILE... as unset too).
using Environment = std::function<std::optional<std::string>(std::string_view name)>;

// The process's environment (getenv).
Environment process_environment();
// A fixed set of variables, for tests.
Environment fixed_environment(std::map<std::string, std::string, std::less<>> variables);

// The profile in use: the pipeline file's, else AWS_PROFILE, else "default". `named` says
// whether someone chose it (a chosen profile that exists in neither file is an error; a missing
// "default" is not).
struct ProfileChoice {
  std::string name;
  bool named = false;
  bool from_pipeline_file = false;
};
ProfileChoice choose_profile(const AwsSettings& settings, const Environment& env);

// An INI file as the AWS CLI reads it: "[section]" headers, "key = value" lines (keys
// lower-cased, values trimmed), '#' and ';' comment lines; indented lines continue a nested
// block (e.g. "s3 =" followed by "  addressing_style = path"), which is skipped. Sections by name.
using IniSection = std::map<std::string, std::string, std::less<>>;
using IniFile = std::map<std::string, IniSection, std::less<>>;
IniFile parse_ini(std::string_view text);

// AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials; AWS_CONFIG_FILE or ~/.aws/config (a
// leading "~/" expands to HOME).
std::filesystem::path credentials_file_path(const Environment& env);
std::filesystem::path config_file_path(const Environment& env);

// The keys of profile `name`: the config file's section ("[default]" or "[profile default]" for
// the default profile, "[profile NAME]" for others) overlaid by the credentials file's "[NAME]".
// nullopt when neither file has the profile; a missing file counts as empty. Throws
// Error(invalid_input) for a file that exists but cannot be read.
std::optional<IniSection> load_profile(std::string_view name, const Environment& env);

}  // namespace sentiflow::aws
