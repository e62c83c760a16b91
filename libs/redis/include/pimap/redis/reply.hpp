#pragma once
// A Redis reply copied out of hiredis into an owned value tree, so it can outlive the connection and
// be handed between threads. Typed accessors return Results instead of asserting on the shape.

#include <pimap/redis/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pimap::redis {

class Reply {
 public:
  enum class Type { nil, string, status, integer, array, error };

  Reply() = default;  // nil
  static Reply make_string(std::string s);
  static Reply make_status(std::string s);
  static Reply make_error(std::string s);
  static Reply make_integer(long long v);
  static Reply make_array(std::vector<Reply> elements);

  Type type() const noexcept { return type_; }
  bool is_nil() const noexcept { return type_ == Type::nil; }
  bool is_error() const noexcept { return type_ == Type::error; }
  bool is_array() const noexcept { return type_ == Type::array; }

  // Raw accessors: valid for the matching type, empty/zero otherwise.
  std::string_view str() const noexcept { return str_; }  // string, status or error text
  long long integer() const noexcept { return integer_; }
  const std::vector<Reply>& elements() const noexcept { return elements_; }

  // Checked accessors. A bulk string holding a decimal number converts to an integer, because
  // Redis returns numbers as strings in many places (HGET, Lua tables, stream fields).
  Result<long long> as_integer() const;
  Result<std::string> as_string() const;           // string or status
  Result<std::optional<std::string>> as_optional_string() const;  // nil -> nullopt

  std::string debug_string() const;

 private:
  Type type_ = Type::nil;
  long long integer_ = 0;
  std::string str_;
  std::vector<Reply> elements_;
};

// Turns an error reply into an Error; any other reply passes through.
Result<Reply> check(Reply reply);

}  // namespace pimap::redis
