#pragma once
// The UIDs a device currently knows in its selected mailbox, kept as sorted disjoint ranges so that a
// mailbox of 100,000 mostly contiguous messages costs a few bytes.
//
// The store proxy needs it because sequence numbers belong to one IMAP connection: when a device's
// parked backend connection has been closed and a new one re-selects the mailbox, the store numbers
// the messages as they are now, while the device still numbers them as it last heard. reconcile()
// computes the untagged responses that move the device from its view to the store's, so that every
// sequence number after them means the same message on both sides.

#include <pimap/imap/response_types.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pimap::deviceview {

class MailboxView {
 public:
  struct Range {
    std::uint32_t first = 0;
    std::uint32_t last = 0;  // inclusive
    friend bool operator==(const Range&, const Range&) = default;
  };

  MailboxView() = default;
  // Every member of an IMAP uid set as the store sends it (ESEARCH ALL, VANISHED); ranges may be
  // written high:low. A `*` counts as the largest UID.
  static MailboxView from_set(const imap::NumberSet& set);
  static MailboxView from_uids(const std::vector<std::uint32_t>& uids);

  void clear() noexcept { ranges_.clear(); }
  void add(std::uint32_t uid) { add_range(uid, uid); }
  void add_range(std::uint32_t first, std::uint32_t last);
  // True when the uid was present.
  bool remove(std::uint32_t uid);

  bool contains(std::uint32_t uid) const noexcept;
  bool empty() const noexcept { return ranges_.empty(); }
  // Number of messages (the EXISTS count the device has).
  std::uint64_t size() const noexcept;
  // 1-based message sequence number of `uid`, if present.
  std::optional<std::uint64_t> sequence_of(std::uint32_t uid) const noexcept;
  std::optional<std::uint32_t> max() const noexcept;

  const std::vector<Range>& ranges() const noexcept { return ranges_; }
  // IMAP sequence-set syntax ("1:3,7"); empty for an empty view.
  std::string to_string() const;

  // Members of this view that are not in `other`.
  MailboxView minus(const MailboxView& other) const;

  friend bool operator==(const MailboxView&, const MailboxView&) = default;

 private:
  std::vector<Range> ranges_;  // sorted, disjoint, never adjacent
};

struct Reconciliation {
  // Untagged responses for the device, CRLF-terminated, in the order they must be sent: the expunges
  // (one "* n EXPUNGE" per message, highest sequence number first so that every number is still valid
  // when the device applies it; or a single "* VANISHED uids" for a QRESYNC client), then
  // "* n EXISTS" if messages were added.
  std::vector<std::string> lines;
  std::uint64_t exists = 0;  // the device's message count after the lines
};

// What the device (seeing `device`) must be told so that its view becomes `store`.
//
// New messages can only be announced at the end of the sequence (EXISTS). UIDs grow with arrival, so
// the store's new messages normally come after every UID the device knows; if the device was told of a
// later message but not an earlier one, the later ones are reported gone and counted again by EXISTS,
// which keeps every sequence number right at the price of re-listing those messages.
Reconciliation reconcile(const MailboxView& device, const MailboxView& store, bool qresync);

}  // namespace pimap::deviceview
