#include "aws/settings.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"

namespace sentiflow::aws {
namespace {

std::filesystem::path expand_home(const std::string& path, const Environment& env) {
  if (path.starts_with("~/")) {
    if (const auto home = env("HOME")) return std::filesystem::path(*home) / path.substr(2);
  }
  return path;
}

IniFile read_ini(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return {};
  std::ifstream in(file, std::ios::binary);
  if (!in) throw invalid_input("cannot read the AWS shared file " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  return parse_ini(text.str());
}

}  // namespace

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

Environment fixed_environment(std::map<std::string, std::string, std::less<>> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    const auto found = variables.find(name);
    if (found == variables.end() || found->second.empty()) return std::nullopt;
    return found->second;
  };
}

ProfileChoice choose_profile(const AwsSettings& settings, const Environment& env) {
  if (settings.profile && !settings.profile->empty()) return {*settings.profile, true, true};
  if (auto name = env("AWS_PROFILE")) return {std::move(*name), true, false};
  return {"default", false, false};
}

IniFile parse_ini(std::string_view text) {
  IniFile out;
  IniSection* section = nullptr;
  bool in_nested_block = false;
  for (auto line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto content = trim(line);
    if (content.empty() || content.front() == '#' || content.front() == ';') continue;
    const bool indented = line.front() == ' ' || line.front() == '\t';
    if (indented && in_nested_block) continue;  // e.g. "  addressing_style = path" under "s3 ="
    if (content.front() == '[' && content.back() == ']') {
      section = &out[std::string(trim(content.substr(1, content.size() - 2)))];
      in_nested_block = false;
      continue;
    }
    const auto equals = content.find('=');
    if (section == nullptr || equals == std::string_view::npos) continue;  // as the CLI, ignore stray lines
    const auto value = trim(content.substr(equals + 1));
    in_nested_block = value.empty();
    (*section)[to_lower_ascii(trim(content.substr(0, equals)))] = std::string(value);
  }
  return out;
}

std::filesystem::path credentials_file_path(const Environment& env) {
  return expand_home(env("AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"), env);
}

std::filesystem::path config_file_path(const Environment& env) {
  return expand_home(env("AWS_CONFIG_FILE").value_or("~/.aws/config"), env);
}

std::optional<IniSection> load_profile(std::string_view name, const Environment& env) {
  const auto config = read_ini(config_file_path(env));
  const auto credentials = read_ini(credentials_file_path(env));
  std::optional<IniSection> out;
  auto overlay = [&out](const IniFile& file, const std::string& section) {
    const auto found = file.find(section);
    if (found == file.end()) return;
    if (!out) out.emplace();
    for (const auto& [key, value] : found->second) (*out)[key] = value;
  };
  const std::string profile(name);
  if (name == "default") overlay(config, "default");
  overlay(config, "profile " + profile);
  overlay(credentials, profile);
  return out;
}

}  // namespace sentiflow::aws
