#include "pimap/kit/redaction.hpp"

#include <gtest/gtest.h>

namespace pimap::kit {
namespace {

TEST(Redaction, CredentialKeysAreSensitive) {
  for (const char* key : {"password", "master_password", "PASSWORD", "passwd", "pass", "smsc_pass", "pwd",
                          "secret", "client_secret", "authorization", "Proxy-Authorization", "token",
                          "access.token", "cookie", "api_key", "apikey", "credentials", "password_file"})
    EXPECT_TRUE(is_sensitive_key(key)) << key;
}

TEST(Redaction, OrdinaryKeysAreNot) {
  for (const char* key : {"user", "device_id", "passage", "compass", "bypass_count", "tokens_total", "keyword",
                          "mailbox", "key", "auth_method", "conn"})
    EXPECT_FALSE(is_sensitive_key(key)) << key;
}

}  // namespace
}  // namespace pimap::kit
