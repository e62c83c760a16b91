#pragma once
// HTTPS in-response mode (profile §10): what a request body holds, checked before any of it runs.
//
// A batch is one or more complete tagged commands, literals inline (a synchronising literal's data
// simply follows its announcement; the edge's "+" for it is not part of the response). Only the last
// command may need a continuation from the client — IDLE (long-lived response), AUTHENTICATE
// without an initial response, or a literal whose data is not in the body; a command after such a
// one is 400. A body the IMAP grammar rejects, or one that ends inside a command line, is 400: the
// edge could not tell which responses complete it. More than Limits::max_commands commands is 413.

#include <pimap/imap/limits.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pimap::edge::https {

enum class Tail : unsigned char {
  complete,      // every command can run to its tagged completion
  idle,          // the last command is IDLE: long-lived response
  sasl,          // the last command is AUTHENTICATE without an initial response: the response
                 // ends with its "+" line and the next POST starts with the SASL line
  literal,       // the body ends right after a literal announcement: the response ends with the
                 // "+" for it and the next POST starts with the literal data
};

struct Batch {
  int status = 0;  // 0: run it; 400 or 413 otherwise
  std::string reason;
  std::vector<std::string> tags;  // every command's tag, in order
  Tail tail = Tail::complete;
  // "+" lines the edge will write while running the batch (one per synchronising literal, plus the
  // final one of IDLE / AUTHENTICATE); the last of them ends the response when tail != complete.
  std::size_t continuations = 0;
  // Where the last command starts in the body: a literal continuation keeps that command's bytes so
  // the next POST (which carries the rest) can be checked as a whole.
  std::size_t tail_offset = 0;
};

Batch analyze_batch(std::string_view body, const imap::ParserLimits& limits, std::size_t max_commands);

}  // namespace pimap::edge::https
