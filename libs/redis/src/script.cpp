#include <pimap/redis/script.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <vector>

namespace pimap::redis {
namespace {

std::string sha1_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha1(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0xf]);
  }
  return out;
}

}  // namespace

Script::Script(std::string source) : source_(std::move(source)), sha1_(sha1_hex(source_)) {}

Result<Reply> Script::run(Connection& conn, std::span<const std::string_view> keys,
                          std::span<const std::string_view> args, Retry retry) const {
  const std::string nkeys = std::to_string(keys.size());
  std::vector<std::string_view> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.insert(argv.end(), {"EVALSHA", sha1_, nkeys});
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto reply = conn.command(std::span<const std::string_view>(argv), retry);
  if (!reply && reply.error().kind == ErrorKind::server && reply.error().message.starts_with("NOSCRIPT")) {
    // EVAL also caches the script, so the next run is an EVALSHA hit again.
    argv[0] = "EVAL";
    argv[1] = source_;
    return conn.command(std::span<const std::string_view>(argv), retry);
  }
  return reply;
}

void Script::add(Pipeline& p, std::span<const std::string_view> keys, std::span<const std::string_view> args) const {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.emplace_back(sha1_);
  argv.emplace_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  p.add(std::move(argv));
}

Result<std::vector<Reply>> Script::run_pipeline(Connection& conn, const Pipeline& p, Retry retry) const {
  auto replies = conn.pipeline(p, retry);
  if (!replies) return replies;
  auto noscript = [](const Reply& r) { return r.is_error() && r.str().starts_with("NOSCRIPT"); };
  const auto first = std::find_if(replies->begin(), replies->end(), noscript);
  if (first == replies->end()) return replies;
  if (auto loaded = conn.command({"SCRIPT", "LOAD", source_}, retry); !loaded) return loaded.error();
  const auto from = static_cast<std::size_t>(first - replies->begin());
  Pipeline rest;
  for (std::size_t i = from; i < p.size(); ++i) rest.add(p.commands()[i]);
  auto again = conn.pipeline(rest, retry);
  if (!again) return again;
  for (std::size_t i = from; i < p.size(); ++i) (*replies)[i] = std::move((*again)[i - from]);
  return replies;
}

}  // namespace pimap::redis
