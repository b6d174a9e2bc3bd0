#include "core/secrets.h"

#include <gtest/gtest.h>

namespace sentiflow {
namespace {

class Secrets : public ::testing::Test {
 protected:
  void TearDown() override { clear_secrets(); }
};

TEST_F(Secrets, NothingRegisteredLeavesTextAsItIs) { EXPECT_EQ(redact_secrets("key=abcdef"), "key=abcdef"); }

TEST_F(Secrets, EveryOccurrenceBecomesItsReference) {
  register_secret("API_KEY", "abcdef");
  EXPECT_EQ(redact_secrets("GET /x?key=abcdef: invalid key abcdef"), "GET /x?key=${API_KEY}: invalid key ${API_KEY}");
}

TEST_F(Secrets, TheLongestValueIsReplacedFirst) {
  register_secret("SHORT", "secret");
  register_secret("LONG", "secret-and-more");
  EXPECT_EQ(redact_secrets("a secret-and-more b secret"), "a ${LONG} b ${SHORT}");
}

TEST_F(Secrets, ValuesTooShortToBeSecretsAreNotRegistered) {
  register_secret("WORKERS", "4");
  register_secret("REGION", "eu");
  EXPECT_EQ(redact_secrets("4 workers in eu"), "4 workers in eu");
}

TEST_F(Secrets, AReferenceThatHoldsItsValueDoesNotLoop) {
  register_secret("ABCD", "ABCD");  // ${ABCD} holds ABCD: the search goes on after it
  EXPECT_EQ(redact_secrets("ABCD ABCD"), "${ABCD} ${ABCD}");
}

// A value that JSON escapes (a quote, a backslash) is found in JSON text too.
TEST_F(Secrets, TheJsonEscapedFormIsRedactedToo) {
  register_secret("TOKEN", R"(ab"c\d)");
  EXPECT_EQ(redact_secrets(R"({"url":"x?t=ab\"c\\d"} and ab"c\d)"), R"({"url":"x?t=${TOKEN}"} and ${TOKEN})");
}

}  // namespace
}  // namespace sentiflow
