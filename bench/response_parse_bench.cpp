// Throughput of the IMAP response reader on a 10 MB FETCH stream shaped like Dovecot 2.3's output
// (see libs/imap/test/response_data): per message a metadata FETCH (UID FLAGS MODSEQ INTERNALDATE
// RFC822.SIZE ENVELOPE BODYSTRUCTURE with nested multiparts, quoted strings and now and then a
// literal), and for every third message a BODY[] literal of 1-7 KB: about half the bytes are
// literal payload, half structured text.
//   cmake --preset release && cmake --build build/release --target response_parse_bench
//   build/release/bench/response_parse_bench
// Goal: >= 400 MB/s for BM_ReadFetchStream on one core (-O2).

#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>

#include "pimap/imap/response_body.hpp"
#include "pimap/imap/response_reader.hpp"

namespace {

using namespace pimap::imap;

constexpr std::size_t kTarget = 10 * 1000 * 1000;
constexpr std::size_t kReadChunk = 64 * 1024;  // what the client reads per socket read

std::string address(std::mt19937& rng, int i) {
  static const char* const names[] = {"Alice Example", "Bob", "Carol \\\"CJ\\\" Jones", "Dave"};
  std::string a = "(";
  a += (rng() % 3 == 0) ? std::string("NIL") : "\"" + std::string(names[rng() % 4]) + "\"";
  a += " NIL \"user" + std::to_string(i % 97) + "\" \"example.test\")";
  return a;
}

std::string text_part(std::mt19937& rng, const char* subtype) {
  return std::string("(\"text\" \"") + subtype + "\" (\"charset\" \"utf-8\") NIL NIL \"" +
         (rng() % 2 ? "quoted-printable" : "base64") + "\" " + std::to_string(100 + rng() % 9000) + " " +
         std::to_string(1 + rng() % 200) + " NIL NIL NIL NIL)";
}

std::string bodystructure(std::mt19937& rng, int depth) {
  switch (depth > 2 ? 0 : rng() % 4) {
    case 0:
      return text_part(rng, "plain");
    case 1:
      return "(" + text_part(rng, "plain") + text_part(rng, "html") +
             " \"alternative\" (\"boundary\" \"===============" + std::to_string(rng()) + "==\") NIL NIL NIL)";
    case 2:
      return "(" + bodystructure(rng, depth + 1) +
             "(\"application\" \"pdf\" (\"name\" \"report.pdf\") NIL NIL \"base64\" " + std::to_string(rng() % 900000) +
             " NIL (\"attachment\" (\"filename\" \"report.pdf\")) NIL NIL) \"mixed\" (\"boundary\" \"b" +
             std::to_string(rng()) + "\") NIL NIL NIL)";
    default:
      return "(" + text_part(rng, "plain") +
             "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 2211 (NIL \"fwd\" (" + address(rng, 1) + ") NIL NIL ((NIL NIL "
             "\"y\" \"example.test\")) NIL NIL NIL NIL) " +
             bodystructure(rng, depth + 1) + " 40 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"c\") NIL NIL NIL)";
  }
}

std::string make_stream(bool with_bodies) {
  std::mt19937 rng(20240601);
  std::string s;
  s.reserve(kTarget + 100000);
  for (int i = 1; s.size() < kTarget; ++i) {
    std::string subject = "Re: quarterly numbers " + std::to_string(rng() % 100000);
    // Dovecot sends strings with quotes or backslashes as literals.
    const std::string odd = subject + " \"q\" \\ x";
    const std::string subj_wire =
        rng() % 10 == 0 ? "{" + std::to_string(odd.size()) + "}\r\n" + odd : "\"" + subject + "\"";
    s += "* " + std::to_string(i) + " FETCH (UID " + std::to_string(1000 + i) + " FLAGS (\\Seen $Label" +
         std::to_string(i % 5) + ") MODSEQ (" + std::to_string(90000 + i) +
         ") INTERNALDATE \"17-Jul-2024 02:44:25 +0000\" RFC822.SIZE " + std::to_string(2000 + rng() % 50000) +
         " ENVELOPE (\"Wed, 17 Jul 2024 02:23:25 -0700\" " + subj_wire + " (" + address(rng, i) + ") (" +
         address(rng, i) + ") (" + address(rng, i) + ") (" + address(rng, i + 1) + address(rng, i + 2) +
         ") NIL NIL NIL \"<" + std::to_string(rng()) + "@example.test>\") BODYSTRUCTURE " + bodystructure(rng, 0) +
         ")\r\n";
    if (with_bodies && i % 3 == 0) {
      const std::size_t n = 1000 + rng() % 6000;
      std::string body(n, 'x');
      for (std::size_t k = 76; k < n; k += 78) {
        body[k - 1] = '\r';
        body[k] = '\n';
      }
      s += "* " + std::to_string(i) + " FETCH (UID " + std::to_string(1000 + i) + " BODY[] {" + std::to_string(n) +
           "}\r\n" + body + ")\r\n";
    }
  }
  s += "A42 OK Fetch completed (0.001 + 0.000 secs).\r\n";
  return s;
}

const std::string& stream_with_bodies() {
  static const std::string s = make_stream(true);
  return s;
}
const std::string& stream_text_only() {
  static const std::string s = make_stream(false);
  return s;
}

// Feeds `data` in socket-sized reads and parses every response; optionally decodes ENVELOPE and
// BODYSTRUCTURE too.
void read_stream(benchmark::State& state, const std::string& data, bool decode) {
  std::size_t responses = 0;
  FetchBodyStructure body;
  FetchEnvelope env;
  for (auto _ : state) {
    ResponseReader reader;
    Response r;
    for (std::size_t pos = 0; pos < data.size(); pos += kReadChunk) {
      const std::size_t n = std::min(kReadChunk, data.size() - pos);
      auto area = reader.prepare(n);
      std::memcpy(area.data(), data.data() + pos, n);
      reader.commit(n);
      while (reader.next(r) == ReadStatus::response) {
        ++responses;
        if (decode) {
          if (const FetchItem* b = r.fetch.find(FetchAttr::bodystructure)) {
            if (parse_bodystructure(b->raw, body)) state.SkipWithError("bodystructure");
          }
          if (const FetchItem* e = r.fetch.find(FetchAttr::envelope)) {
            if (parse_envelope(e->raw, env)) state.SkipWithError("envelope");
          }
        }
        benchmark::DoNotOptimize(r.fetch.items.data());
      }
    }
    if (reader.next(r) == ReadStatus::error) state.SkipWithError("parse error");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
  state.counters["responses_per_iter"] = static_cast<double>(responses) / static_cast<double>(state.iterations());
  state.counters["MB_per_s"] = benchmark::Counter(static_cast<double>(data.size()) / 1e6,
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

// The goal metric: frame + parse (FETCH items typed; ENVELOPE/BODYSTRUCTURE delimited, decoded lazily).
void BM_ReadFetchStream(benchmark::State& state) { read_stream(state, stream_with_bodies(), false); }
// Same stream, and every ENVELOPE and BODYSTRUCTURE fully decoded as well.
void BM_ReadFetchStreamDecodeAll(benchmark::State& state) { read_stream(state, stream_with_bodies(), true); }
// Worst case for the parser: metadata only, no literal payload to skip.
void BM_ReadMetadataOnly(benchmark::State& state) { read_stream(state, stream_text_only(), false); }
void BM_ReadMetadataOnlyDecodeAll(benchmark::State& state) { read_stream(state, stream_text_only(), true); }

BENCHMARK(BM_ReadFetchStream)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadFetchStreamDecodeAll)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadMetadataOnly)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadMetadataOnlyDecodeAll)->Unit(benchmark::kMillisecond);

}  // namespace
