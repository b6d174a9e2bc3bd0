// The version of sentiflow, from CMake's project() (one source of truth).
#pragma once

#include <string_view>

namespace sentiflow {
inline constexpr std::string_view kVersion = SENTIFLOW_VERSION;
}
