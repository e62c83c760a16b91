// Throughput of the IMAP command parser (device -> edge) on a stream of typical device commands:
// SELECT QRESYNC, UID FETCH of header fields, UID STORE, UID SEARCH, IDLE/DONE, APPEND with a literal.
// Reports bytes/s and commands/s. Only meaningful from the release preset (-O2):
//   cmake --preset release && cmake --build build/release --target command_parse_bench
//   build/release/bench/command_parse_bench

#include <benchmark/benchmark.h>

#include <string>

#include "pimap/imap/command_parser.hpp"
#include "pimap/imap/serializer.hpp"

using namespace pimap::imap;

namespace {

std::string device_stream(int rounds, std::size_t message_size) {
  const std::string message = [message_size] {
    std::string m = "From: a@example.com\r\nTo: b@example.com\r\nSubject: bench\r\n\r\n";
    while (m.size() < message_size) m += "The quick brown fox jumps over the lazy dog.\r\n";
    m.resize(message_size);
    return m;
  }();
  std::string s;
  for (int i = 0; i < rounds; ++i) {
    const std::string t = "t" + std::to_string(i) + ".";
    s += t + "1 SELECT INBOX (QRESYNC (3857529045 20010715194045000 1:5000))\r\n";
    s += t + "2 UID FETCH 4000:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date "
              "Message-ID In-Reply-To)]) (CHANGEDSINCE 20010715194045000)\r\n";
    s += t + "3 UID STORE 4711,4713:4720 +FLAGS.SILENT (\\Seen $Forwarded)\r\n";
    s += t + "4 UID SEARCH UNSEEN SINCE 1-Jan-2024 NOT DELETED\r\n";
    s += t + "5 IDLE\r\nDONE\r\n";
    s += t + "6 APPEND Sent (\\Seen) \"07-Feb-2024 21:52:25 +0100\" {" + std::to_string(message.size()) +
         "+}\r\n" + message + "\r\n";
    s += t + "7 UID FETCH 4711 (BODY.PEEK[1]<0.4096> BODY.PEEK[2.MIME])\r\n";
    s += t + "8 NOOP\r\n";
  }
  return s;
}

void run(benchmark::State& state, const std::string& stream, std::size_t chunk) {
  std::int64_t commands = 0;
  for (auto _ : state) {
    CommandParser p;
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
      p.feed(std::string_view(stream).substr(i, chunk));
      for (;;) {
        ParseEvent ev = p.next();
        if (std::holds_alternative<NeedMore>(ev)) break;
        if (const auto* c = std::get_if<Command>(&ev)) {
          ++commands;
          if (c->kind == CommandKind::idle) p.expect_idle_done();
          benchmark::DoNotOptimize(c->raw.data());
        } else if (std::holds_alternative<ParseError>(ev)) {
          state.SkipWithError("unexpected parse error");
          return;
        }
      }
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
  state.counters["commands/s"] = benchmark::Counter(static_cast<double>(commands), benchmark::Counter::kIsRate);
}

// Small messages: the parser's per-command cost dominates.
void BM_DeviceStream_SmallAppend(benchmark::State& state) {
  static const std::string stream = device_stream(200, 512);
  run(state, stream, static_cast<std::size_t>(state.range(0)));
}
BENCHMARK(BM_DeviceStream_SmallAppend)->Arg(1460)->Arg(16384);

// Realistic e-mail sizes: literal copying dominates.
void BM_DeviceStream_50KiBAppend(benchmark::State& state) {
  static const std::string stream = device_stream(50, 50 * 1024);
  run(state, stream, static_cast<std::size_t>(state.range(0)));
}
BENCHMARK(BM_DeviceStream_50KiBAppend)->Arg(16384);

// Commands only, no APPEND: the grammar's cost per command.
void BM_FetchStoreOnly(benchmark::State& state) {
  std::string stream;
  for (int i = 0; i < 500; ++i) {
    stream += "f" + std::to_string(i) +
              " UID FETCH 4000:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date "
              "Message-ID)]) (CHANGEDSINCE 20010715194045000)\r\n";
    stream += "s" + std::to_string(i) + " UID STORE 4711 +FLAGS.SILENT (\\Seen)\r\n";
  }
  run(state, stream, 16384);
}
BENCHMARK(BM_FetchStoreOnly);

void BM_SerializeFetch(benchmark::State& state) {
  const auto parsed = parse_command(
      "a UID FETCH 4000:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date "
      "Message-ID)]) (CHANGEDSINCE 20010715194045000)\r\n");
  const Command& cmd = std::get<Command>(parsed);
  std::string out;
  for (auto _ : state) {
    out.clear();
    Serializer(out).command(cmd);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SerializeFetch);

}  // namespace
