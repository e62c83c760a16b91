// Round trips: parse -> re-serialise -> parse gives the same decoded content (the edge relays and
// rewrites store responses, so re-encoding must never change meaning), and OwnedResponse copies.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "pimap/imap/response_owned.hpp"
#include "pimap/imap/response_reader.hpp"
#include "pimap/imap/response_tree.hpp"

namespace pimap::imap {
namespace {

std::string recorded(const char* name) {
  std::ifstream f(std::string(PIMAP_IMAP_TEST_DIR) + "/response_data/" + name, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> split(const std::string& stream) {
  ResponseReader reader;
  reader.feed(stream);
  Response r;
  std::vector<std::string> out;
  while (reader.next(r) == ReadStatus::response) out.emplace_back(r.raw);
  return out;
}

std::string canon_value(std::string_view raw) {
  ResponseTree t;
  StringArena a;
  if (parse_tree(raw, t, a)) return "<unparsable>";
  return serialize_tree(t);
}

std::string str(NStringView s) { return s.nil ? "NIL" : "\"" + std::string(s.str) + "\""; }

// Decoded content of a response, independent of how strings were encoded on the wire.
std::string describe(const Response& r) {
  std::ostringstream o;
  o << static_cast<int>(r.kind) << '|' << r.tag << '|' << to_string(r.untagged) << '|' << to_string(r.status) << '|'
    << r.code.name << '|' << r.text << '|' << r.number << '|';
  for (auto a : r.atoms) o << a << ',';
  o << '|' << r.list.mailbox << (r.list.delimiter ? *r.list.delimiter : '-');
  for (auto a : r.list.attributes) o << a << ',';
  o << '|' << r.status_data.mailbox;
  for (const auto& i : r.status_data.items) o << i.name << '=' << i.value << ',';
  o << '|';
  for (auto n : r.search.numbers) o << n << ',';
  o << '|' << r.esearch.tag.value_or("") << r.esearch.count.value_or(0);
  o << '|' << r.vanished.uids.raw();
  for (const auto& [k, v] : r.id.fields) o << k << '=' << str(v) << ',';
  o << '|' << r.metadata.mailbox;
  for (const auto& [k, v] : r.metadata.entries) o << k << '=' << str(v) << ',';
  for (const auto& d : r.namespaces.personal) o << d.prefix << ',';
  for (const auto& it : r.fetch.items) {
    o << "\n  " << it.name << '[' << it.section << ']' << it.origin << ' ' << str(it.string) << ' ' << it.number;
    for (auto f : it.flags) o << f << ',';
    if (it.attr == FetchAttr::envelope || it.attr == FetchAttr::bodystructure || it.attr == FetchAttr::body ||
        it.attr == FetchAttr::other) {
      o << ' ' << canon_value(it.raw);
    }
  }
  o << '|' << serialize_tree(r.tree);
  return o.str();
}

// Re-encodes an untagged data response from its value tree: quoted strings may become literals and
// vice versa, the decoded content must not change.
std::string reencode(std::string_view raw) {
  std::string_view body = raw.substr(2, raw.size() - 4);  // "* " ... CRLF
  std::string prefix = "* ";
  if (!body.empty() && body[0] >= '0' && body[0] <= '9') {
    const auto sp = body.find(' ');
    prefix += std::string(body.substr(0, sp + 1));
    body.remove_prefix(sp + 1);
  }
  const auto sp = body.find(' ');
  if (sp == std::string_view::npos) return std::string(raw);
  prefix += std::string(body.substr(0, sp + 1));
  body.remove_prefix(sp + 1);
  ResponseTree t;
  StringArena a;
  if (parse_tree(body, t, a)) return {};
  return prefix + serialize_tree(t) + "\r\n";
}

TEST(ResponseRoundTrip, DataResponsesSurviveReencoding) {
  int checked = 0;
  for (const char* name : {"dovecot-session1.txt", "dovecot-session2.txt"}) {
    for (const std::string& raw : split(recorded(name))) {
      Response a;
      ASSERT_FALSE(parse_response(raw, a));
      // Status responses carry free text, which is not a value list.
      if (!a.is_untagged() || a.untagged == UntaggedKind::condition || a.untagged == UntaggedKind::capability ||
          a.untagged == UntaggedKind::enabled) {
        continue;
      }
      const std::string again = reencode(raw);
      ASSERT_FALSE(again.empty()) << raw;
      Response b;
      const ResponseError err = parse_response(again, b);
      ASSERT_FALSE(err) << err.message() << "\n" << again;
      EXPECT_EQ(describe(a), describe(b)) << raw;
      ++checked;
    }
  }
  EXPECT_GT(checked, 40);
}

TEST(ResponseRoundTrip, TreeSerialisationIsStable) {
  using namespace std::string_literals;
  const std::string values =
      "NIL atom \"quoted \\\"x\\\"\" {5}\r\na\r\nbc (1 (2 (3)) \"\") BODY[HEADER.FIELDS (A B)]<0> \\Seen ~{2}\r\n\0\1"s;
  ResponseTree t;
  StringArena a;
  ASSERT_FALSE(parse_tree(values, t, a));
  ASSERT_EQ(t.size(), 8u);
  EXPECT_TRUE(t[0].is_nil());
  EXPECT_EQ(t[2].text(), "quoted \"x\"");
  EXPECT_EQ(t[3].text(), "a\r\nbc");
  EXPECT_EQ(t[5].text(), "BODY[HEADER.FIELDS (A B)]<0>");
  const std::string once = serialize_tree(t);
  ResponseTree t2;
  ASSERT_FALSE(parse_tree(once, t2, a));
  EXPECT_EQ(serialize_tree(t2), once);
  EXPECT_EQ(t2[3].text(), "a\r\nbc");
  EXPECT_NE(once.find("{5}\r\na\r\nbc"), std::string::npos);
  EXPECT_EQ(t2[7].text(), "\0\1"s);
}

TEST(ResponseRoundTrip, OwnedResponseSurvivesMovesAndTheSourceBuffer) {
  std::vector<OwnedResponse> kept;
  {
    ResponseReader reader;
    reader.feed(recorded("dovecot-session1.txt"));
    Response r;
    while (reader.next(r) == ReadStatus::response) kept.emplace_back(r.raw);
  }  // reader and its buffer are gone
  ASSERT_GT(kept.size(), 100u);
  std::vector<OwnedResponse> moved;
  for (auto& k : kept) moved.push_back(std::move(k));
  int fetches = 0;
  for (const auto& o : moved) {
    EXPECT_FALSE(o.error());
    EXPECT_EQ(o->raw, o.raw());
    if (o->untagged == UntaggedKind::fetch) {
      ++fetches;
      // views must point into the owned copy
      for (const auto& it : o->fetch.items) {
        EXPECT_GE(it.raw.data(), o.raw().data());
        EXPECT_LE(it.raw.data() + it.raw.size(), o.raw().data() + o.raw().size());
      }
    }
  }
  EXPECT_EQ(fetches, 13);
  // Small responses fit std::string's inline buffer; OwnedResponse must not rely on it.
  OwnedResponse small("* 1 EXISTS\r\n");
  OwnedResponse other = std::move(small);
  EXPECT_EQ(other->untagged, UntaggedKind::exists);
  EXPECT_EQ(other->raw, "* 1 EXISTS\r\n");
  OwnedResponse bad("* 1 FETCH (UID\r\n");
  EXPECT_TRUE(bad.error());
  EXPECT_EQ(bad->raw, "* 1 FETCH (UID\r\n");
}

}  // namespace
}  // namespace pimap::imap
