// The command line: parses argv, runs one subcommand, returns the process exit status
// (DESIGN.md: 0 success, 1 the work failed, 2 bad usage or invalid input).
// The only part of sentiflow that knows about argv. Not reentrant: call once per process.
#pragma once

namespace sentiflow::cli {

int run(int argc, char** argv);

}  // namespace sentiflow::cli
