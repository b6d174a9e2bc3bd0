#include "core/error.h"

namespace sentiflow {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_input: return "invalid_input";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::throttled: return "throttled";
    case ErrorCode::transient: return "transient";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::internal: return "internal";
  }
  return "internal";
}

bool is_retryable(ErrorCode code) { return code == ErrorCode::throttled || code == ErrorCode::transient; }

int exit_status(ErrorCode code) { return code == ErrorCode::invalid_input ? 2 : 1; }

}  // namespace sentiflow
