// What every fuzz target shares (docs/FUZZING.md): the entry point libFuzzer calls, and the
// checks each target makes of every input.
//
// A target defines LLVMFuzzerTestOneInput. `make fuzz` links it with libFuzzer under ASan and
// UBSan (clang); `make test` links it with fuzz/replay_main.cc, which replays the corpus and then
// mutates it for a fixed time, so that the same targets run wherever the project builds.
//
// The contract a target checks: the code under test either answers or throws the project's
// Error (core/error.h); any other exception escapes the target and is a finding (libFuzzer and
// the replay driver both report an uncaught exception as a crash, with the input). A broken
// property (a good record lost beside a bad one) is a finding too: require() aborts.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.h"
#include "observe/log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace sentiflow::fuzz {

// The input as text (any bytes: invalid UTF-8 is part of what is fuzzed).
inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `fn`; an Error is a refusal, which is a fine answer to a fuzzed input. Returns whether
// `fn` finished without one.
template <typename Fn>
bool answered(Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Aborts, naming the property that broke, when `condition` is false.
inline void require(bool condition, std::string_view property) {
  if (condition) return;
  std::fprintf(stderr, "fuzz target: property broken: %.*s\n", static_cast<int>(property.size()), property.data());
  std::abort();
}

// The target's set-up, a T built by its first input and never destroyed (the folders and servers
// it holds outlive every input, and libFuzzer exits without unwinding), with the project's log
// silenced: a refused input logs a warning, and millions of them would be the run's whole cost.
template <typename T>
T& fixture() {
  static T& instance = []() -> T& {
    log::configure(log::Format::text, log::Level::off);
    return *new T();
  }();
  return instance;
}

}  // namespace sentiflow::fuzz
