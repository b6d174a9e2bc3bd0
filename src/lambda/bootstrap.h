// The binary's other life: Lambda's `bootstrap` (docs/LAMBDA.md). With AWS_LAMBDA_RUNTIME_API
// set, main() hands the process to the Runtime API loop (lambda/runtime_loop.h) instead of the
// command line, with the handler the function names and JSON log lines.
#pragma once

namespace sentiflow::lambda {

// True when AWS_LAMBDA_RUNTIME_API is set and the binary got no argument or one naming a
// handler (producer, consumer).
bool wants_lambda_runtime(int argc, char** argv);

// Runs the Runtime API loop with the handler named by argv[1], else by _HANDLER; its
// initialisation loads the pipeline file and opens the run state (init_lambda_function). The
// log level is SENTIFLOW_LOG_LEVEL, else Lambda's AWS_LAMBDA_LOG_LEVEL, else info. Returns the
// process's exit status when the loop ends (it does not while Lambda keeps the process).
int run_lambda_bootstrap(int argc, char** argv);

}  // namespace sentiflow::lambda
