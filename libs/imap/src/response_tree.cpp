#include "pimap/imap/response_tree.hpp"

#include <new>

#include "response_lexer.hpp"

namespace pimap::imap {

TreeKind TreeNode::kind() const noexcept { return tree_->nodes()[index_].kind; }
std::string_view TreeNode::text() const noexcept { return tree_->nodes()[index_].text; }
std::uint32_t TreeNode::size() const noexcept { return tree_->nodes()[index_].children; }

TreeNode TreeNode::operator[](std::uint32_t i) const noexcept {
  const auto& nodes = tree_->nodes();
  std::uint32_t c = index_ + 1;
  while (i-- > 0) c = nodes[c].end;
  return {tree_, c};
}

bool TreeNode::is_atom(std::string_view s) const noexcept {
  return kind() == TreeKind::atom && ascii_iequals(text(), s);
}

TreeNode ResponseTree::operator[](std::uint32_t i) const noexcept {
  std::uint32_t c = 0;
  while (i-- > 0) c = nodes_[c].end;
  return {this, c};
}

std::uint32_t ResponseTree::add(TreeKind k, std::string_view text, std::uint32_t parent) {
  const auto idx = static_cast<std::uint32_t>(nodes_.size());
  nodes_.push_back(Node{k, idx + 1, 0, text});
  if (parent == npos) {
    ++top_;
  } else {
    ++nodes_[parent].children;
  }
  return idx;
}

namespace detail {

bool parse_tree_values(Lexer& lx, ResponseTree& out) {
  // Explicit stack of open lists: depth is bounded by the lexer's enter()/leave().
  std::vector<std::uint32_t> open;
  std::uint32_t parent = ResponseTree::npos;
  bool first = true;
  bool after_list = false;
  for (;;) {
    if (lx.at_end()) {
      if (!open.empty()) return lx.fail(ResponseErrc::unexpected_end, "')'");
      return true;
    }
    if (lx.peek() == ')') {
      if (open.empty()) return lx.fail(ResponseErrc::syntax, "value");
      lx.eat(')');
      lx.leave();
      out.close(open.back());
      open.pop_back();
      parent = open.empty() ? ResponseTree::npos : open.back();
      first = false;
      after_list = true;
      continue;
    }
    // Lists may follow a list without a space: THREAD's (2)(3 6), BODYSTRUCTURE's multiparts.
    if (!first && !(after_list && lx.peek() == '(')) {
      if (!lx.sp_lenient()) return false;
      if (lx.peek() == ')' && !open.empty()) continue;  // tolerate "(a )"
    }
    first = false;
    after_list = false;
    const char c = lx.peek();
    if (c == '(') {
      if (!lx.enter()) return false;
      lx.eat('(');
      const std::uint32_t idx = out.add(TreeKind::list, {}, parent);
      open.push_back(idx);
      parent = idx;
      first = true;
    } else if (c == '"' || lx.is_literal_start()) {
      std::string_view s;
      if (!lx.string(s)) return false;
      out.add(TreeKind::string, s, parent);
    } else {
      // atoms may carry a bracketed section with spaces: BODY[HEADER.FIELDS (FROM TO)]<0>
      const char* start = lx.pos();
      std::string_view a = lx.token(kBracket);
      if (lx.peek() == '[') {
        int depth = 0;
        const char* p = lx.pos();
        while (p < lx.end()) {
          if (*p == '[') ++depth;
          else if (*p == ']' && --depth == 0) break;
          else if (*p == '\r' || *p == '\n') break;
          ++p;
        }
        if (p >= lx.end() || *p != ']') return lx.fail_syntax("']'");
        lx.set_pos(p + 1);
        lx.token(0);
        a = std::string_view(start, static_cast<std::size_t>(lx.pos() - start));
      } else if (lx.peek() == ']') {
        lx.eat(']');
        lx.token(0);
        a = std::string_view(start, static_cast<std::size_t>(lx.pos() - start));
      }
      if (a.empty()) return lx.fail_syntax("value");
      out.add(keyword_is(a, "NIL") ? TreeKind::nil : TreeKind::atom, a, parent);
    }
  }
}

}  // namespace detail

ResponseError parse_tree(std::string_view values, ResponseTree& out, StringArena& arena,
                         std::size_t max_depth) {
  out.clear();
  try {
    detail::Lexer lx(values, arena, max_depth, values.data());
    if (!detail::parse_tree_values(lx, out)) return lx.error();
    return {};
  } catch (const std::bad_alloc&) {
    return {ResponseErrc::out_of_memory, 0, {}};
  }
}

namespace {

bool quotable(std::string_view s) noexcept {
  if (s.size() > 1024) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || u >= 0x80) return false;
  }
  return true;
}

void write_node(const ResponseTree& t, std::uint32_t i, std::string& out) {
  const auto& n = t.nodes()[i];
  switch (n.kind) {
    case TreeKind::nil:
      out += "NIL";
      break;
    case TreeKind::atom:
      out += n.text;
      break;
    case TreeKind::string:
      if (quotable(n.text)) {
        out += '"';
        for (char c : n.text) {
          if (c == '"' || c == '\\') out += '\\';
          out += c;
        }
        out += '"';
      } else {
        out += '{';
        out += std::to_string(n.text.size());
        out += "}\r\n";
        out += n.text;
      }
      break;
    case TreeKind::list: {
      out += '(';
      std::uint32_t c = i + 1;
      for (std::uint32_t k = 0; k < n.children; ++k) {
        if (k) out += ' ';
        write_node(t, c, out);
        c = t.nodes()[c].end;
      }
      out += ')';
      break;
    }
  }
}

}  // namespace

std::string serialize_tree(const ResponseTree& t) {
  std::string out;
  std::uint32_t c = 0;
  for (std::uint32_t k = 0; k < t.size(); ++k) {
    if (k) out += ' ';
    write_node(t, c, out);
    c = t.nodes()[c].end;
  }
  return out;
}

}  // namespace pimap::imap
