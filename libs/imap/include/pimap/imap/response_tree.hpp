#pragma once

// A generic IMAP value tree: what the parser keeps of responses and FETCH attributes it has no typed
// model for, and what lazily decoded raw values (parse_tree) turn into. Stored flat in pre-order so a
// tree is one vector, reusable without reallocating.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pimap/imap/response_error.hpp"
#include "pimap/imap/response_types.hpp"

namespace pimap::imap {

enum class TreeKind : std::uint8_t {
  nil,      // NIL
  atom,     // atoms and numbers (text as sent), including `\Flag` and `BODY[...]<n>`-style tokens
  string,   // quoted string (unescaped) or literal payload
  list,     // ( ... )
};

class ResponseTree;

// A handle on one node of a ResponseTree.
class TreeNode {
 public:
  TreeNode(const ResponseTree* t, std::uint32_t i) noexcept : tree_(t), index_(i) {}
  TreeKind kind() const noexcept;
  // Atom text or decoded string; empty for nil and lists.
  std::string_view text() const noexcept;
  bool is_nil() const noexcept { return kind() == TreeKind::nil; }
  bool is_list() const noexcept { return kind() == TreeKind::list; }
  // Direct children of a list.
  std::uint32_t size() const noexcept;
  TreeNode operator[](std::uint32_t i) const noexcept;  // i < size()
  bool is_atom(std::string_view s) const noexcept;      // case-insensitive atom compare
  std::uint32_t index() const noexcept { return index_; }

 private:
  const ResponseTree* tree_;
  std::uint32_t index_;
};

class ResponseTree {
 public:
  struct Node {
    TreeKind kind = TreeKind::nil;
    std::uint32_t end = 0;       // one past the last node of this subtree
    std::uint32_t children = 0;  // direct children (lists)
    std::string_view text;
  };

  // The top level of a tree is an implicit list: the values of a response after its name.
  std::uint32_t size() const noexcept { return top_; }
  TreeNode operator[](std::uint32_t i) const noexcept;
  bool empty() const noexcept { return nodes_.empty(); }
  void clear() noexcept {
    nodes_.clear();
    top_ = 0;
  }
  const std::vector<Node>& nodes() const noexcept { return nodes_; }

  // Builder interface (used by the parsers): add() appends a node under `parent` (npos: top level);
  // a list is closed with close() after its children were added.
  static constexpr std::uint32_t npos = UINT32_MAX;
  std::uint32_t add(TreeKind k, std::string_view text, std::uint32_t parent);
  void close(std::uint32_t list) noexcept {
    nodes_[list].end = static_cast<std::uint32_t>(nodes_.size());
  }

 private:
  std::vector<Node> nodes_;
  std::uint32_t top_ = 0;
};

// Parses a sequence of space-separated IMAP values (atoms, NIL, quoted strings, literals, literal8,
// parenthesised lists) into a tree, e.g. a raw FETCH attribute value. Strings with escapes go into
// `arena`. Returns an error for anything else.
ResponseError parse_tree(std::string_view values, ResponseTree& out, StringArena& arena,
                         std::size_t max_depth = ResponseLimits{}.max_depth);

// Serialises a tree back to IMAP syntax: atoms as-is, strings as quoted strings when they can be,
// literals otherwise. parse_tree(serialize_tree(t)) reproduces t.
std::string serialize_tree(const ResponseTree& t);

}  // namespace pimap::imap
