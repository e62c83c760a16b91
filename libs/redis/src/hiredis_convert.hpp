#pragma once
// Internal: hiredis reply -> owned Reply.

#include <pimap/redis/reply.hpp>

#include <hiredis/hiredis.h>

namespace pimap::redis::detail {

inline Reply convert(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING: return Reply::make_string(std::string(r->str, r->len));
    case REDIS_REPLY_STATUS: return Reply::make_status(std::string(r->str, r->len));
    case REDIS_REPLY_ERROR: return Reply::make_error(std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER: return Reply::make_integer(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) elements.push_back(convert(r->element[i]));
      return Reply::make_array(std::move(elements));
    }
    default: return Reply{};
  }
}

}  // namespace pimap::redis::detail
