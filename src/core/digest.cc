#include "core/digest.h"

#include <openssl/evp.h>

#include <string>

#include "core/error.h"

namespace sentiflow {
namespace {

// OpenSSL 3 looks an algorithm up by name on every EVP_Digest call with EVP_md5(); fetching it
// once and reusing one context per thread makes a short digest (an SQS body's md5OfBody, on
// every message) several times faster.
struct Digester {
  EVP_MD* md;
  EVP_MD_CTX* context;
  explicit Digester(const char* name) : md(EVP_MD_fetch(nullptr, name, nullptr)), context(EVP_MD_CTX_new()) {
    if (md == nullptr || context == nullptr)
      throw Error(ErrorCode::internal, "OpenSSL has no digest " + std::string(name));
  }
  ~Digester() {
    EVP_MD_CTX_free(context);
    EVP_MD_free(md);
  }
  Digester(const Digester&) = delete;
  Digester& operator=(const Digester&) = delete;

  std::string hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestInit_ex(context, md, nullptr) != 1 || EVP_DigestUpdate(context, data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(context, digest, &length) != 1)
      throw Error(ErrorCode::internal, "OpenSSL could not compute a digest");
    return to_hex(std::string_view(reinterpret_cast<const char*>(digest), length));
  }
};

}  // namespace

std::string md5_hex(std::string_view data) {
  thread_local Digester md5("MD5");
  return md5.hex(data);
}

std::string sha256_hex(std::string_view data) {
  thread_local Digester sha256("SHA256");
  return sha256.hex(data);
}

std::string from_hex(std::string_view hex) {
  const auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw invalid_input("not a hex digit: '" + std::string(1, c) + "'");
  };
  if (hex.size() % 2 != 0) throw invalid_input("hex text of odd length " + std::to_string(hex.size()));
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(value(hex[2 * i]) * 16 + value(hex[2 * i + 1]));
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xF];
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64_decode(std::string_view text) {
  // EVP_DecodeBlock accepts no line breaks, pads its output with zero bytes for '=' and skips
  // nothing, so the padding is checked and removed here.
  if (text.size() % 4 != 0) throw invalid_input("base64 text must be a multiple of 4 characters long");
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) throw invalid_input("the text is not base64");
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

}  // namespace sentiflow
