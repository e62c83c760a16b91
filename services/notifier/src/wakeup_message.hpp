#pragma once
// What an out-of-band wake-up says (profile §11), independent of the gateway that carries it:
// - EMN: `<emn mailbox="mailat:user@domain" timestamp="...Z"/>` (text by SMS, WBXML by WAP Push);
// - EXTENDED: `_%$P-IMAP$%_ <seq> <account> <event> [<uid>]`, never a subject, sender or body.

#include <pimap/emn/emn.hpp>
#include <pimap/events.pb.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace pimap::notifier {

// The account an EMN names: the store user, with `mail_domain` added when the user has no domain.
std::string emn_address(std::string_view user, std::string_view mail_domain);

// When the change happened: the store's commit time, else the watcher's observation, else `now`.
std::chrono::sys_seconds event_time(const v1::StoreEvent& e, std::chrono::system_clock::time_point now);

emn::Notification emn_for(const v1::StoreEvent& e, std::string_view mail_domain,
                          std::chrono::system_clock::time_point now);

// `seq` is the device's queue sequence number of the event. `state_comparison` says the device cannot
// catch up from its queue (no session, queue overflow): the message then asks for
// STATE_COMPARISON_SYNC whatever the event was.
std::string extended_message(const v1::StoreEvent& e, std::uint64_t seq, bool state_comparison);

}  // namespace pimap::notifier
