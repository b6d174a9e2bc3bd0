// The one error type of sentiflow.
//
// Every failure that crosses a component boundary is an Error: a code that callers
// decide on (retry, dead-letter, exit status) and a message a user can act on. Code
// never inspects the message text. Error is thrown as an exception and also kept as a value
// (a batch entry's failure); copying it is cheap enough.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace sentiflow {

enum class ErrorCode {
  invalid_input,  // the user's input is wrong: fix it and try again (exit status 2)
  not_found,      // a named thing does not exist
  throttled,      // a peer asked us to slow down: retry later
  transient,      // a temporary failure (network, 5xx): retry
  conflict,       // a concurrent change won, or a condition did not hold
  internal,       // a bug or an unexpected state
};

// "invalid_input", "not_found", ... as used in logs, error records and JSON.
std::string_view to_string(ErrorCode code);

// Whether an operation that failed with `code` may succeed when simply tried again.
bool is_retryable(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}

  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Shorthand for the most common error: the user gave us something we cannot use.
inline Error invalid_input(std::string message) { return Error(ErrorCode::invalid_input, std::move(message)); }

// The process exit status DESIGN.md gives an error: 2 for bad usage or input, else 1.
int exit_status(ErrorCode code);

}  // namespace sentiflow
