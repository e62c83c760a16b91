#include <pimap/redis/reply.hpp>

#include <charconv>

namespace pimap::redis {

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::io: return "io";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::protocol: return "protocol";
    case ErrorKind::server: return "server";
    case ErrorKind::pool_exhausted: return "pool_exhausted";
    case ErrorKind::unexpected: return "unexpected";
  }
  return "unknown";
}

Reply Reply::make_string(std::string s) {
  Reply r;
  r.type_ = Type::string;
  r.str_ = std::move(s);
  return r;
}
Reply Reply::make_status(std::string s) {
  Reply r;
  r.type_ = Type::status;
  r.str_ = std::move(s);
  return r;
}
Reply Reply::make_error(std::string s) {
  Reply r;
  r.type_ = Type::error;
  r.str_ = std::move(s);
  return r;
}
Reply Reply::make_integer(long long v) {
  Reply r;
  r.type_ = Type::integer;
  r.integer_ = v;
  return r;
}
Reply Reply::make_array(std::vector<Reply> elements) {
  Reply r;
  r.type_ = Type::array;
  r.elements_ = std::move(elements);
  return r;
}

Result<long long> Reply::as_integer() const {
  if (type_ == Type::integer) return integer_;
  if (type_ == Type::string || type_ == Type::status) {
    long long v = 0;
    const char* end = str_.data() + str_.size();
    auto [ptr, ec] = std::from_chars(str_.data(), end, v);
    if (ec == std::errc() && ptr == end && !str_.empty()) return v;
  }
  return Error{ErrorKind::unexpected, "expected an integer reply, got " + debug_string()};
}

Result<std::string> Reply::as_string() const {
  if (type_ == Type::string || type_ == Type::status) return str_;
  if (type_ == Type::integer) return std::to_string(integer_);
  return Error{ErrorKind::unexpected, "expected a string reply, got " + debug_string()};
}

Result<std::optional<std::string>> Reply::as_optional_string() const {
  if (type_ == Type::nil) return std::optional<std::string>{};
  auto s = as_string();
  if (!s) return s.error();
  return std::optional<std::string>(std::move(s).value());
}

std::string Reply::debug_string() const {
  switch (type_) {
    case Type::nil: return "nil";
    case Type::string: return "string(" + std::to_string(str_.size()) + " bytes)";
    case Type::status: return "status(" + str_ + ")";
    case Type::integer: return "integer(" + std::to_string(integer_) + ")";
    case Type::error: return "error(" + str_ + ")";
    case Type::array: return "array(" + std::to_string(elements_.size()) + ")";
  }
  return "?";
}

Result<Reply> check(Reply reply) {
  if (reply.is_error()) return Error{ErrorKind::server, std::string(reply.str())};
  return reply;
}

}  // namespace pimap::redis
