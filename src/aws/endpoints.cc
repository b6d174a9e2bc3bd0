#include "aws/endpoints.h"

#include "aws/sigv4.h"
#include "core/error.h"
#include "core/strings.h"

namespace sentiflow::aws {
namespace {

// A region goes into a host name: only what region names are made of may pass.
void check_region(std::string_view region, std::string_view where) {
  const bool valid = !region.empty() && region.size() <= 64 && region.front() != '-' &&
                     region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string_view::npos;
  if (!valid)
    throw invalid_input("the AWS region '" + std::string(region) + "' from " + std::string(where) +
                        " is not a region name such as us-east-1");
}

std::string checked_endpoint(std::string url, std::string_view where) {
  while (url.ends_with('/')) url.pop_back();
  UrlParts parts;
  try {
    parts = split_url(url);
  } catch (const Error&) {
    throw invalid_input(std::string(where) + " is not an http(s) URL: " + url);
  }
  if ((parts.scheme != "http" && parts.scheme != "https") || !parts.query.empty())
    throw invalid_input(std::string(where) + " is not an http(s) URL without a query: " + url);
  return url;
}

}  // namespace

std::string resolve_region(const AwsSettings& settings, const Environment& env) {
  if (settings.region && !settings.region->empty()) {
    check_region(*settings.region, "aws.region in the pipeline file");
    return *settings.region;
  }
  for (const char* variable : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (auto region = env(variable)) {
      check_region(*region, variable);
      return std::move(*region);
    }
  }
  const auto profile = choose_profile(settings, env);
  if (const auto keys = load_profile(profile.name, env)) {
    if (const auto found = keys->find("region"); found != keys->end() && !found->second.empty()) {
      check_region(found->second, "the profile '" + profile.name + "'");
      return found->second;
    }
  }
  throw invalid_input(
      "no AWS region is set: set aws.region in the pipeline file, AWS_REGION, or region in the "
      "profile '" +
      profile.name + "' of " + config_file_path(env).string());
}

std::string endpoint_variable(const ServiceInfo& service) {
  std::string name = "AWS_ENDPOINT_URL_";
  for (const char c : to_upper_ascii(service.id)) name += c == ' ' ? '_' : c;
  return name;
}

std::string resolve_endpoint(const ServiceInfo& service, std::string_view region, const AwsSettings& settings,
                             const Environment& env) {
  if (settings.endpoint_url && !settings.endpoint_url->empty())
    return checked_endpoint(*settings.endpoint_url, "aws.endpoint_url in the pipeline file");
  const auto variable = endpoint_variable(service);
  if (auto url = env(variable)) return checked_endpoint(std::move(*url), variable);
  if (auto url = env("AWS_ENDPOINT_URL")) return checked_endpoint(std::move(*url), "AWS_ENDPOINT_URL");
  check_region(region, "the region setting");
  const std::string_view suffix = region.starts_with("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return "https://" + std::string(service.endpoint_prefix) + "." + std::string(region) + "." + std::string(suffix);
}

bool is_aws_endpoint(std::string_view endpoint) {
  const auto scheme_end = endpoint.find("://");
  std::string_view host = scheme_end == std::string_view::npos ? endpoint : endpoint.substr(scheme_end + 3);
  host = host.substr(0, host.find_first_of(":/"));
  const std::string lower = to_lower_ascii(host);
  return lower.ends_with(".amazonaws.com") || lower.ends_with(".amazonaws.com.cn");
}

}  // namespace sentiflow::aws
