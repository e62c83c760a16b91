#pragma once

#include <cstddef>
#include <cstdint>

namespace pimap::imap {

// Bounds on what one client may make the command parser hold. Every limit turns into a ParseError that
// names it (the edge answers `BAD <reason>` / `NO [TOOBIG]`), and the parser resynchronises at the next
// line: a limit never costs the connection.
struct ParserLimits {
  // Command text excluding literal payloads, summed over all lines of one command (RFC 9051 §4 leaves
  // this to the server; profile §14 fixes 64 KiB).
  std::size_t max_line_length = 64 * 1024;
  // One literal ({n}, {n+}, ~{n}). Checked when announced, before the client sends it.
  std::uint64_t max_literal_size = 50ull * 1024 * 1024;
  // All literals of one command together (MULTIAPPEND carries several messages).
  std::uint64_t max_command_literal_bytes = 100ull * 1024 * 1024;
  // Largest non-synchronising literal. Set to 4096 to enforce LITERAL- (RFC 7888 §4).
  std::uint64_t max_nonsync_literal_size = 50ull * 1024 * 1024;
  // Parentheses, NOT/OR chains in SEARCH, XZIP inside XZIP: anything the grammar recurses on.
  std::size_t max_nesting_depth = 32;
  // Tokens of one command (atoms, strings, numbers, list items, sequence-set ranges).
  std::size_t max_arguments = 10000;
};

}  // namespace pimap::imap
