// libs/net is built with BOOST_ASIO_NO_DEPRECATED, which changes the return type (not the mangled
// name) of Asio's error_code& overloads such as basic_socket::close(ec). This file instantiates them
// (async_connect closes between attempts); built without the macro, the linker could pick our copy
// for libs/net's calls and crash. Until pimap_edge_core gets the definition from CMake, set it here.
#ifndef BOOST_ASIO_NO_DEPRECATED
#define BOOST_ASIO_NO_DEPRECATED
#endif

#include "store_connection.hpp"

#include <pimap/net/error.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>

namespace pimap::edge {

namespace {

// Commands bigger than this (APPEND of a large message) are written piecewise, waiting for the
// kernel to take each piece, so the output queue stays bounded.
constexpr std::size_t kWriteChunk = 256 * 1024;

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view strip_crlf(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string> capability_code(const imap::Response& r) {
  std::vector<std::string> caps;
  if (r.code.kind != imap::ResponseCodeKind::capability) return caps;
  for (auto atom : r.code.list) caps.push_back(upper(atom));
  return caps;
}

StoreStatus status_of(imap::ResponseStatus s) {
  switch (s) {
    case imap::ResponseStatus::ok: return StoreStatus::ok;
    case imap::ResponseStatus::no: return StoreStatus::no;
    default: return StoreStatus::bad;
  }
}

// Status of a tagged line the parser could not read in full ("A1 OK [X-WEIRD ...] done").
StoreStatus status_of_raw(std::string_view raw, std::string_view tag) {
  std::string_view rest = raw.substr(std::min(raw.size(), tag.size() + 1));
  const std::string word = upper(rest.substr(0, rest.find(' ')));
  if (word == "OK") return StoreStatus::ok;
  if (word == "NO") return StoreStatus::no;
  return StoreStatus::bad;
}

std::string describe(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::eof) return "Store closed the connection";
  if (ec == net::errc::handshake_timeout) return "Store TLS handshake timed out";
  if (ec.category() == net::tls_category()) return "Store TLS failed: " + ec.message();
  return "Store connection failed: " + ec.message();
}

}  // namespace

std::shared_ptr<StoreConnection> StoreConnection::create(boost::asio::any_io_executor executor,
                                                         std::shared_ptr<const StoreEndpoint> endpoint) {
  return std::make_shared<StoreConnection>(std::move(executor), std::move(endpoint));
}

StoreConnection::StoreConnection(boost::asio::any_io_executor executor, std::shared_ptr<const StoreEndpoint> endpoint)
    : executor_(executor),
      endpoint_(std::move(endpoint)),
      resolver_(executor),
      socket_(executor),
      timer_(executor) {}

StoreConnection::~StoreConnection() {
  if (conn_) conn_->abort();
}

void StoreConnection::open(OnReply done) {
  if (state_ != State::idle) {
    boost::asio::post(executor_, [done = std::move(done)] { done({StoreStatus::bad, "Already opened", {}, {}}); });
    return;
  }
  state_ = State::connecting;
  done_ = std::move(done);
  arm_timer(endpoint_->connect_timeout);
  resolver_.async_resolve(
      endpoint_->host, std::to_string(endpoint_->port),
      [self = shared_from_this()](boost::system::error_code ec, boost::asio::ip::tcp::resolver::results_type results) {
        if (self->state_ != State::connecting) return;
        if (ec) return self->fail("Store address not resolved: " + ec.message());
        boost::asio::async_connect(self->socket_, results,
                                   [self](boost::system::error_code cec, const boost::asio::ip::tcp::endpoint&) {
                                     if (self->state_ != State::connecting) return;
                                     if (cec) return self->fail("Store connect failed: " + cec.message());
                                     self->on_connected();
                                   });
      });
}

void StoreConnection::on_connected() {
  net::ConnectionOptions options;
  options.handshake_timeout = endpoint_->connect_timeout;
  options.max_output_bytes = 4 * kWriteChunk;
  options.close_timeout = std::chrono::milliseconds(2'000);
  conn_ = net::Connection::create(std::move(socket_), options);
  if (endpoint_->connections) {
    endpoint_->connections->Increment();
    // Released when the socket closes, however that happens.
    conn_->hold_slot(std::shared_ptr<void>(nullptr, [g = endpoint_->connections](void*) { g->Decrement(); }));
  }
  conn_->start_tls(
      *endpoint_->tls,
      [self = shared_from_this()](boost::system::error_code ec) {
        if (self->state_ != State::connecting) return;
        if (ec) return self->fail(describe(ec));
        self->state_ = State::greeting;
        self->read();
      },
      endpoint_->server_name);
}

void StoreConnection::command(std::string command, OnResponse on_untagged, OnReply done,
                              std::chrono::milliseconds timeout) {
  if (state_ != State::ready || busy()) {
    StoreReply r{state_ == State::ready ? StoreStatus::bad : StoreStatus::unavailable,
                 state_ == State::ready ? "Store connection busy" : "Store connection not available", {}, {}};
    boost::asio::post(executor_, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
    return;
  }
  tag_ = "e" + std::to_string(++next_tag_);
  on_untagged_ = std::move(on_untagged);
  done_ = std::move(done);
  arm_timer(timeout.count() > 0 ? timeout : endpoint_->command_timeout);
  auto data = std::make_shared<std::string>();
  data->reserve(tag_.size() + 1 + command.size());
  data->append(tag_).append(" ").append(command);
  command.clear();
  write_from(std::move(data), 0);
}

void StoreConnection::write_from(std::shared_ptr<std::string> data, std::size_t offset) {
  while (offset < data->size()) {
    if (!conn_ || state_ != State::ready) return;
    if (conn_->queued_output_bytes() >= kWriteChunk) {
      conn_->async_flush([self = shared_from_this(), data, offset](boost::system::error_code ec) {
        if (ec) return self->fail(describe(ec));
        self->write_from(data, offset);
      });
      return;
    }
    const std::size_t n = std::min(kWriteChunk, data->size() - offset);
    if (auto ec = conn_->write(std::string_view(*data).substr(offset, n))) return fail(describe(ec));
    offset += n;
  }
}

void StoreConnection::pause_reading() {
  if (paused_) return;
  paused_ = true;
  ++timer_generation_;  // the silence that follows is the device's, not the store's
}

void StoreConnection::resume_reading() {
  if (!paused_) return;
  paused_ = false;
  if (busy() && active_timeout_.count() > 0) arm_timer(active_timeout_);
  read();
}

void StoreConnection::read() {
  if (reading_ || paused_ || !conn_ || state_ == State::closed) return;
  reading_ = true;
  conn_->async_read_some([self = shared_from_this()](boost::system::error_code ec,
                                                     std::span<const char> data) -> std::size_t {
    self->reading_ = false;
    if (ec) {
      self->fail(describe(ec));
      return 0;
    }
    self->on_input(data);
    self->read();
    return data.size();
  });
}

void StoreConnection::on_input(std::span<const char> data) {
  // Progress: a long literal keeps its command alive.
  if (busy() && active_timeout_.count() > 0) arm_timer(active_timeout_);
  reader_.feed(std::string_view(data.data(), data.size()));
  while (state_ != State::closed) {
    const imap::ReadStatus st = reader_.next(response_);
    if (st == imap::ReadStatus::need_more) break;
    if (st == imap::ReadStatus::error) {
      handle_unparsable();
      continue;
    }
    handle(response_);
  }
}

void StoreConnection::handle(const imap::Response& r) {
  if (state_ == State::greeting) {
    if (r.is_untagged() && r.status == imap::ResponseStatus::ok) {
      state_ = State::ready;
      timer_.cancel();
      ++timer_generation_;
      StoreReply reply{StoreStatus::ok, std::string(strip_crlf(r.raw)), capability_code(r), upper(r.code.name)};
      return complete(std::move(reply));
    }
    return fail("Store refused the connection: " + std::string(strip_crlf(r.raw)));
  }
  if (r.is_tagged()) {
    if (!busy() || r.tag != tag_) return;  // not ours (cannot happen with a sane store); ignore
    StoreReply reply{status_of(r.status), std::string(strip_crlf(r.raw.substr(r.tag.size() + 1))),
                     capability_code(r), upper(r.code.name)};
    count(reply.status);
    return complete(std::move(reply));
  }
  if (r.is_continuation()) return;  // every literal we send is non-synchronising: nothing to wait for
  if (busy()) {
    if (on_untagged_) on_untagged_(r);
  } else if (unsolicited_) {
    unsolicited_(r);
  }
}

void StoreConnection::handle_unparsable() {
  // The reader skipped a response our parser cannot read. If its bytes are still there the device
  // may well understand them: pass them on. If they were discarded (over the reader's limits), the
  // command's output is incomplete and the stream cannot be trusted.
  const std::string_view raw = response_.raw;
  if (raw.empty()) return fail("Store response over limits: " + reader_.error().message());
  if (raw.front() == '+') return;
  if (raw.front() != '*') {
    if (busy() && state_ == State::ready && response_.tag == tag_) {
      StoreReply reply{status_of_raw(raw, tag_), std::string(strip_crlf(raw.substr(tag_.size() + 1))), {}, {}};
      count(reply.status);
      complete(std::move(reply));
    }
    return;
  }
  imap::Response fallback;
  fallback.kind = imap::ResponseKind::untagged;
  fallback.untagged = imap::UntaggedKind::other;
  fallback.raw = raw;
  handle(fallback);
}

void StoreConnection::complete(StoreReply reply) {
  timer_.cancel();
  ++timer_generation_;
  active_timeout_ = std::chrono::milliseconds(0);
  tag_.clear();
  on_untagged_ = nullptr;
  auto done = std::exchange(done_, nullptr);
  if (done) done(std::move(reply));
}

void StoreConnection::fail(std::string reason) {
  if (state_ == State::closed) return;
  const bool was_busy = busy() && state_ != State::connecting && state_ != State::greeting;
  state_ = State::closed;
  timer_.cancel();
  ++timer_generation_;
  resolver_.cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);  // ends a connect in progress
  if (conn_) conn_->abort();
  if (was_busy) count(StoreStatus::unavailable);
  tag_.clear();
  on_untagged_ = nullptr;
  unsolicited_ = nullptr;
  if (auto done = std::exchange(done_, nullptr)) {
    boost::asio::post(executor_, [done = std::move(done), reason = std::move(reason)] {
      done({StoreStatus::unavailable, reason, {}, {}});
    });
  }
}

void StoreConnection::logout() {
  if (state_ != State::ready || busy()) return abort();
  state_ = State::closed;
  unsolicited_ = nullptr;
  timer_.cancel();
  ++timer_generation_;
  (void)conn_->write("e" + std::to_string(++next_tag_) + " LOGOUT\r\n");
  conn_->close();
}

void StoreConnection::abort() { fail("Store connection closed"); }

void StoreConnection::arm_timer(std::chrono::milliseconds timeout) {
  active_timeout_ = state_ == State::ready ? timeout : std::chrono::milliseconds(0);
  const std::uint64_t generation = ++timer_generation_;
  timer_.expires_after(timeout);
  timer_.async_wait([weak = weak_from_this(), generation](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || generation != self->timer_generation_) return;
    self->fail(self->state_ == State::ready ? "Store command timed out" : "Store connect timed out");
  });
}

void StoreConnection::count(StoreStatus status) {
  if (auto* c = endpoint_->commands[static_cast<std::size_t>(status)]) c->Increment();
}

}  // namespace pimap::edge
