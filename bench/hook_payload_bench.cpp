// The store-watcher's hook parsing (services/store-watcher/src/hook_payload.hpp): the Lua driver's
// JSON for one mail transaction of N messages, as Dovecot (and bench/push_latency/hook_flood.py)
// sends it, to StoreEvents. items_per_second counts events.
//
//   cmake --build build/release --target hook_payload_bench && build/release/bench/hook_payload_bench

#include "hook_payload.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

std::string lua_body(int messages) {
  std::string events;
  const int first = 1000000;
  for (int i = 0; i < messages; ++i) {
    const std::string uid = std::to_string(first + i);
    if (!events.empty()) events += ',';
    events += R"({"type":"MessageAppend","mailbox":"pushbench3","uidvalidity":1795000123,"uid":)" + uid +
              R"(,"from":"bench@example.org","subject":"throughput )" + uid + R"(","date":1795000000})";
  }
  const std::string last = std::to_string(first + messages - 1);
  return R"({"v":1,"user":"user17","events":[)" + events + R"(],"status":{"pushbench3":{"messages":)" + last +
         R"(,"uidnext":)" + last + R"(,"uidvalidity":1795000123,"unseen":)" + last + R"(,"highestmodseq":)" + last +
         "}}}";
}

void BM_LuaPayload(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  const std::string body = lua_body(n);
  for (auto _ : state) {
    auto r = pimap::store_watcher::parse_lua_payload(body, 42);
    if (!r.ok || r.batch.events.size() != static_cast<std::size_t>(n)) state.SkipWithError("did not parse");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}
BENCHMARK(BM_LuaPayload)->Arg(1)->Arg(50);

}  // namespace
