// libFuzzer target for the IMAP response side (libs/imap response*): the input is a server -> client
// byte stream.
//   cmake --preset fuzz && cmake --build build/fuzz --target response_fuzz
//   build/fuzz/fuzz/response_fuzz -max_total_time=300 -max_len=65536 fuzz/seeds/response
//
// Besides "no crash, no sanitizer report, no leak" it checks properties that must hold for any input:
//  - framing does not depend on how the stream is split (one chunk vs. chunks chosen by the input);
//  - every returned response is a contiguous, CRLF-terminated piece of the input, in order;
//  - lazily decoded values (ENVELOPE, BODYSTRUCTURE, unknown FETCH items, generic trees) never fail
//    in a way that escapes, and generic trees survive serialise -> parse unchanged.
// Small limits make the limit and resynchronisation paths reachable with small inputs.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "pimap/imap/response_body.hpp"
#include "pimap/imap/response_owned.hpp"
#include "pimap/imap/response_reader.hpp"
#include "pimap/imap/response_tree.hpp"

namespace {

using namespace pimap::imap;

// Names the property that broke: a CI log shows only the fuzzer's output.
void check(bool ok, int line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "response_fuzz: property at line %d does not hold\n", line);
  std::abort();
}

struct Item {
  ReadStatus status;
  std::string raw;
  ResponseErrc err;
};

void exercise(const Response& r) {
  for (const FetchItem& it : r.fetch.items) {
    switch (it.attr) {
      case FetchAttr::envelope: {
        FetchEnvelope e;
        (void)parse_envelope(it.raw, e);
        break;
      }
      case FetchAttr::bodystructure:
      case FetchAttr::body: {
        FetchBodyStructure b;
        if (!parse_bodystructure(it.raw, b, 64)) (void)b.find("1.2.3");
        break;
      }
      default: {
        ResponseTree t;
        StringArena a;
        if (!parse_tree(it.raw, t, a, 64)) {
          const std::string once = serialize_tree(t);
          ResponseTree t2;
          check(!parse_tree(once, t2, a, 64));
          check(serialize_tree(t2) == once);
        }
        break;
      }
    }
  }
  for (std::string_view a : r.atoms) check(!a.empty());
  for (auto range : r.vanished.uids) check(range.first <= range.last);
  if (r.untagged == UntaggedKind::other) {
    const std::string once = serialize_tree(r.tree);
    ResponseTree t2;
    StringArena a;
    check(!parse_tree(once, t2, a, 1024));
    check(serialize_tree(t2) == once);
  }
}

std::vector<Item> read_all(std::string_view data, const std::vector<std::size_t>& chunks, const ResponseLimits& l,
                           bool deep) {
  ResponseReader reader(l);
  Response r;
  std::vector<Item> out;
  std::size_t pos = 0;
  std::size_t k = 0;
  while (pos < data.size()) {
    const std::size_t n = std::min(chunks[k++ % chunks.size()], data.size() - pos);
    reader.feed(data.substr(pos, n));
    pos += n;
    for (;;) {
      const ReadStatus st = reader.next(r);
      if (st == ReadStatus::need_more) break;
      out.push_back({st, std::string(r.raw), st == ReadStatus::error ? reader.error().code : ResponseErrc::ok});
      if (st == ReadStatus::response) {
        check(!r.raw.empty() && r.raw.back() == '\n');
        if (deep) exercise(r);
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  ResponseLimits l;
  l.max_line_bytes = 256;
  l.max_literal_bytes = 512;
  l.max_response_bytes = 2048;
  l.max_depth = 24;

  const auto whole = read_all(in, {in.size() ? in.size() : 1}, l, true);

  // Chunk sizes taken from the input itself.
  std::vector<std::size_t> chunks;
  for (std::size_t i = 0; i < size && chunks.size() < 16; i += 7) chunks.push_back(1 + data[i] % 23);
  if (chunks.empty()) chunks.push_back(1);
  const auto split = read_all(in, chunks, l, false);
  check(split.size() == whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    check(split[i].status == whole[i].status);
    check(split[i].raw == whole[i].raw);
    check(split[i].err == whole[i].err);
  }

  // Responses kept (raw) are pieces of the input, in order.
  std::size_t at = 0;
  for (const auto& it : whole) {
    if (it.raw.empty()) continue;
    const std::size_t found = in.find(it.raw, at);
    check(found != std::string_view::npos);
    at = found + it.raw.size();
  }

  // One response on its own, with default limits; OwnedResponse copies must agree.
  Response r;
  const ResponseError e = parse_response(in, r);
  OwnedResponse owned(in);
  check(static_cast<bool>(owned.error()) == static_cast<bool>(e));
  if (!e) {
    check(owned->untagged == r.untagged && owned->kind == r.kind && owned->tag == r.tag);
    exercise(r);
  }
  return 0;
}
