#pragma once

// A Response that owns its bytes, for keeping responses beyond the reader's next read (collected
// results of a command, queues). Costs one copy and one re-parse.

#include <cstddef>
#include <memory>
#include <string_view>

#include "pimap/imap/response.hpp"
#include "pimap/imap/response_error.hpp"

namespace pimap::imap {

class OwnedResponse {
 public:
  OwnedResponse() = default;
  // Copies `raw` (one complete response, CRLF included) and parses the copy; see error().
  explicit OwnedResponse(std::string_view raw, const ResponseLimits& limits = {});

  // Moving keeps every view valid: the bytes live on the heap and the Response's containers move
  // their storage.
  OwnedResponse(OwnedResponse&&) noexcept = default;
  OwnedResponse& operator=(OwnedResponse&&) noexcept = default;
  OwnedResponse(const OwnedResponse&) = delete;
  OwnedResponse& operator=(const OwnedResponse&) = delete;

  const Response& operator*() const noexcept { return response_; }
  const Response* operator->() const noexcept { return &response_; }
  const Response& get() const noexcept { return response_; }
  std::string_view raw() const noexcept { return {bytes_.get(), size_}; }
  // Set if the bytes did not parse (the response is then only good for raw()).
  const ResponseError& error() const noexcept { return error_; }

 private:
  std::unique_ptr<char[]> bytes_;
  std::size_t size_ = 0;
  Response response_;
  ResponseError error_;
};

}  // namespace pimap::imap
