// Random identifiers in the shapes AWS gives them. Every function is thread-safe (a generator
// passed in belongs to the caller, who must not share it between threads unlocked).
#pragma once

#include <random>
#include <string>

namespace sentiflow {

// A generator seeded with 64 bits from std::random_device: ids need not be secret, only unlikely
// to repeat across processes.
std::mt19937_64 seeded_random();

// A random UUID (version 4, RFC 9562: lower-case hex, 8-4-4-4-12), the shape of Lambda request
// ids, SQS message ids and EventBridge event ids. The first draws from `random`; the second
// from a generator of the calling thread's own, seeded once with seeded_random().
std::string random_uuid(std::mt19937_64& random);
std::string random_uuid();

}  // namespace sentiflow
