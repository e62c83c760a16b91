#pragma once
// HTTP/1.1 listener for Dovecot's push_notification calls (Boost.Beast, kept in one translation unit
// because Beast is expensive to compile). Keep-alive, 1 MiB body limit, 30 s idle timeout. Each
// request is handed to a handler that answers asynchronously, from any thread.

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace pimap::store_watcher {

class IntakeServer {
 public:
  using Respond = std::function<void(int status, std::string body)>;
  using Handler = std::function<void(std::string_view method, std::string_view target, std::string_view body,
                                     Respond respond)>;

  IntakeServer(boost::asio::io_context& io, Handler handler);
  ~IntakeServer();
  IntakeServer(const IntakeServer&) = delete;
  IntakeServer& operator=(const IntakeServer&) = delete;

  // Binds host:port (port 0 = any); returns an error message or "".
  std::string listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const;
  // Closes the listener; connections finish the request in flight, then close.
  void stop_accepting();
  // Requests read but not answered yet.
  std::size_t in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pimap::store_watcher
