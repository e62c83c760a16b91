#include <pimap/redis/script.hpp>

#include <openssl/evp.h>

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

}  // namespace pimap::redis
