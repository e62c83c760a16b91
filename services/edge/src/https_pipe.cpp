#include "https_pipe.hpp"

#include <pimap/net/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace pimap::edge::https {

Pipe::Pipe(boost::asio::any_io_executor executor, boost::asio::ip::tcp::endpoint peer, std::size_t max_backlog)
    : executor_(std::move(executor)), peer_(std::move(peer)), max_backlog_(max_backlog) {}

void Pipe::deliver(std::string_view bytes) {
  if (!open_) return;
  inbox_.append(bytes);
  stats_.bytes_in += bytes.size();
  hand_over();
}

void Pipe::async_read_some(ReadHandler handler) {
  read_handler_ = std::move(handler);
  if (!open_) {
    boost::asio::post(executor_, [self = shared_from_this(), h = std::exchange(read_handler_, {})] {
      h(boost::asio::error::operation_aborted, {});
    });
    return;
  }
  if (!inbox_.empty()) hand_over();
}

void Pipe::hand_over() {
  if (!read_handler_ || inbox_.empty() || handing_over_) return;
  handing_over_ = true;
  boost::asio::post(executor_, [self = shared_from_this()] {
    self->handing_over_ = false;
    if (!self->read_handler_ || !self->open_) return;
    auto h = std::exchange(self->read_handler_, {});
    std::string data = std::exchange(self->inbox_, {});
    const std::size_t used = h({}, std::span<const char>(data.data(), data.size()));
    // Unconsumed input stays in front of whatever arrives next.
    if (used < data.size()) self->inbox_.insert(0, data, used, std::string::npos);
    self->hand_over();
  });
}

Pipe::error_code Pipe::write(std::string_view bytes) {
  if (!open_) return net::errc::bad_state;
  stats_.bytes_out += bytes.size();
  if (output_) {
    if (!output_(bytes)) return net::errc::slow_consumer;
    return {};
  }
  if (backlog_.size() + bytes.size() > max_backlog_) return net::errc::slow_consumer;
  backlog_.append(bytes);
  return {};
}

void Pipe::async_flush(Handler handler) {
  boost::asio::post(executor_, [h = std::move(handler)] { h({}); });
}

void Pipe::start_tls(const net::TlsContext&, Handler handler, std::string_view) {
  // The HTTPS binding is TLS already; STARTTLS is never offered on it.
  boost::asio::post(executor_, [h = std::move(handler)] { h(net::errc::bad_state); });
}

void Pipe::close(Handler handler) { shut(false, std::move(handler)); }

void Pipe::abort() { shut(true, {}); }

void Pipe::shut(bool aborted, Handler handler) {
  if (!open_) {
    if (handler) boost::asio::post(executor_, [h = std::move(handler)] { h({}); });
    return;
  }
  open_ = false;
  auto self = shared_from_this();
  if (read_handler_) {
    boost::asio::post(executor_, [self, h = std::exchange(read_handler_, {})] {
      h(boost::asio::error::operation_aborted, {});
    });
  }
  if (handler) boost::asio::post(executor_, [h = std::move(handler)] { h({}); });
  output_ = {};
  if (auto closed = std::exchange(closed_, {})) closed(aborted);
  slot_.reset();
}

}  // namespace pimap::edge::https
