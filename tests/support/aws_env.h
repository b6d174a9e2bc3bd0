// Taking the standard AWS settings away from the processes a test starts, so that a command on
// an AWS URI fails early ("no AWS region is set") instead of reaching for the network, whatever
// the machine's environment or ~/.aws holds.
#pragma once

#include <cstdlib>

namespace sentiflow::testing_support {

inline void hide_aws_settings() {
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"}) ::unsetenv(name);
  ::setenv("AWS_CONFIG_FILE", "/nonexistent/sentiflow-test-aws-config", 1);
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/sentiflow-test-aws-credentials", 1);
  ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

}  // namespace sentiflow::testing_support
