#include "core/ids.h"

#include <fmt/format.h>

#include <cstdint>

namespace sentiflow {

std::mt19937_64 seeded_random() {
  std::random_device seed;
  return std::mt19937_64(static_cast<uint64_t>(seed()) << 32 ^ seed());
}

std::string random_uuid(std::mt19937_64& random) {
  const uint64_t a = random();
  const uint64_t b = random();
  // The version nibble (4) and the variant bits (10xx) are fixed; the other 122 bits are random.
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffULL);
}

std::string random_uuid() {
  thread_local std::mt19937_64 random = seeded_random();
  return random_uuid(random);
}

}  // namespace sentiflow
