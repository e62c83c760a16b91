#include "pimap/imap/response_owned.hpp"

#include <cstring>

#include "pimap/imap/response_reader.hpp"

namespace pimap::imap {

OwnedResponse::OwnedResponse(std::string_view raw, const ResponseLimits& limits)
    : bytes_(new char[raw.size() + 1]), size_(raw.size()) {
  if (!raw.empty()) std::memcpy(bytes_.get(), raw.data(), raw.size());
  error_ = parse_response(this->raw(), response_, limits);
  if (error_) response_.raw = this->raw();
}

}  // namespace pimap::imap
