#include "pimap/imap/mailbox_name.hpp"

#include <gtest/gtest.h>

namespace pimap::imap {
namespace {

TEST(MailboxName, InboxIsCaseInsensitiveOtherNamesAreNot) {
  EXPECT_TRUE(same_mailbox("INBOX", "inbox"));
  EXPECT_TRUE(same_mailbox("InBoX", "INBOX"));
  EXPECT_TRUE(same_mailbox("Work", "Work"));
  EXPECT_FALSE(same_mailbox("Work", "work"));
  EXPECT_FALSE(same_mailbox("INBOX", "INBOX.Sub"));
  EXPECT_FALSE(same_mailbox("INBOX", "INBO["));  // '[' | 0x20 is '{', not a letter: no false match
  EXPECT_FALSE(is_inbox("inbo"));
}

}  // namespace
}  // namespace pimap::imap
