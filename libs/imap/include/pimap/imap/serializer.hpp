#pragma once

// Writes commands and values in IMAP syntax, choosing for every string the form no parser can read two
// ways: an atom only when all characters are atom characters and the text is not "NIL"; a quoted string
// when it has no CR, LF, NUL or 8-bit byte and fits SerializeOptions::max_quoted_length; otherwise a
// literal ({n}, {n+} when the peer has LITERAL+, ~{n} for APPEND data with NUL bytes).
//
// parse_command(serialize(cmd)) == cmd for every command the parser produces.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pimap/imap/command.hpp"

namespace pimap::imap {

struct SerializeOptions {
  bool literal_plus = false;               // peer advertised LITERAL+: every literal is {n+}
  bool literal_minus = false;              // peer advertised LITERAL-: {n+} up to 4096 bytes
  std::size_t max_quoted_length = 1024;    // longer strings go as literals
};

enum class StringForm : std::uint8_t { atom, quoted, literal };

// The form astring() / string() would choose.
StringForm astring_form(std::string_view s, const SerializeOptions& options = {});
StringForm string_form(std::string_view s, const SerializeOptions& options = {});

class Serializer {
 public:
  explicit Serializer(std::string& out, SerializeOptions options = {});

  Serializer& raw(std::string_view bytes);  // verbatim (atoms, keywords, tags)
  Serializer& sp();
  Serializer& crlf();
  Serializer& number(std::uint64_t n);
  Serializer& astring(std::string_view s);
  Serializer& string(std::string_view s);   // quoted or literal, never an atom
  Serializer& nstring(std::optional<std::string_view> s);
  Serializer& list_mailbox(std::string_view s);
  Serializer& literal(std::string_view data, bool binary = false);
  Serializer& sequence_set(const SequenceSet& set);
  Serializer& date(const Date& d);
  Serializer& date_time(const DateTime& dt);
  Serializer& flag_list(const std::vector<std::string_view>& flags);
  Serializer& fetch_att(const FetchAtt& att);
  Serializer& search_key(const SearchKey& key);
  Serializer& arg(const Arg& a);
  // A whole command, tag to CRLF.
  Serializer& command(const Command& cmd);

  // Offsets in the output just after each synchronising literal announcement ("{n}\r\n"): a sender must
  // stop there and wait for the server's "+" before writing on. Empty with LITERAL+.
  const std::vector<std::size_t>& sync_points() const { return sync_points_; }

 private:
  void quoted(std::string_view s);
  void body(const Command& cmd);
  void section(const Section& s);

  std::string& out_;
  SerializeOptions options_;
  std::vector<std::size_t> sync_points_;
};

std::string serialize(const Command& cmd, const SerializeOptions& options = {});
std::string to_string(const SequenceSet& set);

}  // namespace pimap::imap
