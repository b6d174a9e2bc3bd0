#include "cli/app.h"

int main(int argc, char** argv) { return sentiflow::cli::run(argc, argv); }
