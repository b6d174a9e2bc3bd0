// The server's half of SigV4 for strict fakes of AWS services on 127.0.0.1: recompute the
// signature from the request as it arrived and compare, as AWS does.
#pragma once

#include <httplib.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "aws/sigv4.h"
#include "core/strings.h"
#include "core/time.h"

namespace sentiflow::testing_support {

// True when `req`'s Authorization header is the one `credentials` give for `service` in
// us-east-1: the request as received (method, `base_url` + its raw target, body), only the
// headers its SignedHeaders list names, signed anew at its X-Amz-Date. Since the whole header is
// compared, the key id, date, region and service of the credential scope must match as well.
// False for a missing or malformed Authorization or X-Amz-Date. `base_url` is the fake's own
// "http://127.0.0.1:<port>", without a trailing slash.
inline bool signature_holds(const httplib::Request& req, const std::string& base_url, std::string_view service,
                            const aws::Credentials& credentials) {
  const auto authorization = req.get_header_value("Authorization");
  const auto names_at = authorization.find("SignedHeaders=");
  if (names_at == std::string::npos) return false;
  const auto names_end = authorization.find(',', names_at);
  const auto names = split(std::string_view(authorization).substr(names_at + 14, names_end - names_at - 14), ';');
  aws::SigningRequest request{.method = req.method, .url = base_url + req.target, .body = req.body};
  for (const auto& [name, value] : req.headers) {
    const auto lower = to_lower_ascii(name);
    if (std::find(names.begin(), names.end(), lower) != names.end()) request.headers.emplace_back(name, value);
  }
  const auto date = req.get_header_value("X-Amz-Date");  // 20260102T030405Z
  if (date.size() != 16) return false;
  const auto time = parse_utc(date.substr(0, 4) + "-" + date.substr(4, 2) + "-" + date.substr(6, 2) + "T" +
                              date.substr(9, 2) + ":" + date.substr(11, 2) + ":" + date.substr(13, 2) + "Z");
  return aws::sign_request(request, credentials, "us-east-1", service, time).authorization == authorization;
}

}  // namespace sentiflow::testing_support
