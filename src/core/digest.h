// Hashes and encodings over OpenSSL: MD5 (SQS's md5OfBody, S3's ETag), SHA-256 (the sink's
// object names, SigV4) and base64 (binary attributes in JSON). Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace sentiflow {

// Lower-case hex digests.
std::string md5_hex(std::string_view data);
std::string sha256_hex(std::string_view data);

// Lower-case hex of raw bytes, and back: from_hex reads either case and throws
// Error(invalid_input) for an odd length or a character that is no hex digit.
std::string to_hex(std::string_view bytes);
std::string from_hex(std::string_view hex);

// Standard base64 (RFC 4648, with padding). decode throws Error(invalid_input) for text that
// is not base64.
std::string base64_encode(std::string_view bytes);
std::string base64_decode(std::string_view text);

}  // namespace sentiflow
