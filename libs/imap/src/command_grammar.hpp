#pragma once

// Private to the command parser: the grammar of one complete command, split by topic.

#include <memory>
#include <variant>
#include <vector>

#include "command_cursor.hpp"
#include "pimap/imap/command.hpp"
#include "pimap/imap/fetch.hpp"
#include "pimap/imap/parse_error.hpp"
#include "pimap/imap/search.hpp"

namespace pimap::imap::detail {

// command_grammar_fetch.cpp
FetchAtt parse_fetch_att(Cursor& c);
std::vector<FetchAtt> parse_fetch_att_list(Cursor& c);  // "(" att *(SP att) ")"

// command_grammar_search.cpp
SearchKey parse_search_key(Cursor& c, bool allow_none);

// command_grammar.cpp: one command (tag to final CRLF) occupying all of storage->raw.
std::variant<Command, ParseError> parse_grammar(std::shared_ptr<CommandStorage> storage,
                                                const ParserLimits& limits);

}  // namespace pimap::imap::detail
