#include "https_connection.hpp"

#include "https_coding.hpp"
#include "imap_connection.hpp"

#include <pimap/imap/command_parser.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdio>
#include <optional>

namespace pimap::edge::https {

namespace {

namespace http = boost::beast::http;
using Parser = http::request_parser<http::string_body>;

std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
  }
}

// A batch may start a new IMAP connection despite a stale cookie when it logs in first (a device
// whose session expired here, or that moves over from the TCP binding).
bool starts_with_login(std::string_view body) {
  auto first = imap::parse_command(body);
  const auto* cmd = std::get_if<imap::Command>(&first);
  return cmd && (cmd->kind == imap::CommandKind::login || cmd->kind == imap::CommandKind::authenticate);
}

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(std::shared_ptr<net::Connection> conn, std::shared_ptr<const BindingContext> ctx)
      : conn_(std::move(conn)), ctx_(std::move(ctx)), timer_(conn_->executor()) {}

  void start() {
    await_request();
    read();
  }

 private:
  enum class Phase : unsigned char { idle, head, body, running, streaming, closing };

  void read() {
    if (phase_ == Phase::closing) return;
    conn_->async_read_some([self = shared_from_this()](boost::system::error_code ec,
                                                       std::span<const char> data) -> std::size_t {
      if (ec) {
        self->gone();
        return 0;
      }
      self->in_.append(data.data(), data.size());
      self->process();
      self->read();
      return data.size();
    });
  }

  void gone() {
    phase_ = Phase::closing;
    timer_.cancel();
    if (session_ && bound_here_) session_->abandon();
    bound_here_ = false;
    session_.reset();
  }

  void arm(std::chrono::milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      if (self->phase_ == Phase::idle) return self->close();
      if (self->phase_ == Phase::head || self->phase_ == Phase::body) {
        self->respond_error(408, "The request did not arrive in time", true);
      }
    });
  }

  void await_request() {
    phase_ = Phase::idle;
    parser_.reset();
    decision_ = {};
    if (in_.empty()) in_ = std::string();  // an idle connection keeps no buffer
    arm(ctx_->http.keepalive_timeout);
  }

  void process() {
    while (phase_ == Phase::idle || phase_ == Phase::head || phase_ == Phase::body || phase_ == Phase::streaming) {
      if (in_.empty()) return;
      if (phase_ == Phase::idle) {
        phase_ = Phase::head;
        arm(ctx_->http.request_timeout);
      }
      if (!parser_) {
        parser_ = std::make_unique<Parser>();
        parser_->header_limit(static_cast<std::uint32_t>(ctx_->http.max_header_bytes));
        parser_->body_limit(ctx_->session.limits.max_body);
        parser_->eager(false);  // stop after the head: it is classified before any body is taken
      }
      boost::beast::error_code ec;
      const std::size_t n = parser_->put(boost::asio::buffer(in_.data(), in_.size()), ec);
      in_.erase(0, n);
      if (ec == http::error::need_more) {
        if (n == 0) return;
        continue;
      }
      if (ec) {
        if (phase_ == Phase::streaming) {
          if (session_ && bound_here_) session_->abandon();
          bound_here_ = false;
          session_.reset();
          stream_open_ = false;
          // The head is only sent with the first response, so a stream broken before it still gets
          // its status; after it, closing is the only way to say it.
          if (stream_head_sent_) return close();
          phase_ = Phase::body;
        }
        if (ec == http::error::body_limit) return respond_error(413, "Batch too large", true);
        return respond_error(400, "Malformed HTTP request: " + ec.message(), true);
      }
      if (phase_ == Phase::head && parser_->is_header_done() && !on_head()) return;
      if (parser_->is_done()) {
        on_complete();
        continue;
      }
      if (n == 0) return;
    }
  }

  bool on_head() {
    const auto& req = parser_->get();
    RequestHead h;
    h.method = sv(req.method_string());
    h.target = sv(req.target());
    h.content_type = sv(req[http::field::content_type]);
    h.content_encoding = sv(req[http::field::content_encoding]);
    h.accept_encoding = sv(req[http::field::accept_encoding]);
    h.accept = sv(req[http::field::accept]);
    h.cookie = sv(req[http::field::cookie]);
    h.chunked = parser_->chunked();
    if (auto len = parser_->content_length()) h.content_length = *len;
    decision_ = classify(h, ctx_->http.path, ctx_->session.limits);
    keep_alive_ = req.keep_alive();
    if (decision_.status != 0) {
      respond_error(decision_.status, decision_.reason, true);
      return false;
    }
    if (boost::beast::iequals(req[http::field::expect], "100-continue")) {
      write("HTTP/1.1 100 Continue\r\n\r\n");  // interim only: never a final status
    }
    phase_ = Phase::body;
    parser_->eager(true);
    if (decision_.mode == Mode::chunked) {
      parser_->body_limit(boost::none);  // a stream lasts as long as the device likes
      return start_stream();
    }
    return true;
  }

  void on_complete() {
    timer_.cancel();
    if (phase_ == Phase::streaming) {
      stream_body_done_ = true;
      parser_.reset();
      if (stream_open_ && session_) session_->stream_end();
      return;
    }
    phase_ = Phase::running;
    std::string raw = std::move(parser_->get().body());
    parser_.reset();
    run_batch(std::move(raw));
  }

  // --- in-response mode ---

  void run_batch(std::string raw) {
    auto body = decode_body(decision_.request_coding, raw, ctx_->session.limits.max_body);
    if (!body) {
      return respond_error(decision_.request_coding == Coding::identity ? 413 : 400,
                           "The body does not decode as " + std::string(coding_name(decision_.request_coding)) +
                               " within the batch limit",
                           false);
    }
    std::shared_ptr<Session> s;
    if (decision_.session) {
      s = ctx_->registry->find(*decision_.session);
      if (!s && !starts_with_login(*body)) {
        // Not held here (another edge had it, or it outlived this edge's in-memory limit): the
        // session service may still know the cookie.
        auto parked_here = ctx_->registry->unpark(*decision_.session);
        return Session::resume(conn_->executor(), ctx_->front, ctx_->session, *ctx_->registry, conn_->peer(),
                               *decision_.session, std::move(parked_here),
                               [weak = weak_from_this(), body = std::move(*body)](std::shared_ptr<Session> r,
                                                                                  int status) mutable {
                                 auto self = weak.lock();
                                 if (!self || self->phase_ != Phase::running) return;
                                 if (!r) {
                                   return self->respond_error(status, status == 401 ? "Unknown or expired session"
                                                                                    : "Session service unavailable",
                                                              false);
                                 }
                                 self->bind_batch(std::move(r), std::move(body));
                               });
      }
    }
    if (!s) s = Session::create(conn_->executor(), ctx_->front, ctx_->session, *ctx_->registry, conn_->peer());
    bind_batch(std::move(s), std::move(*body));
  }

  void bind_batch(std::shared_ptr<Session> s, std::string body) {
    session_ = s;
    s->wait_turn([weak = weak_from_this(), s, body = std::move(body)]() mutable {
      auto self = weak.lock();
      if (!self || self->phase_ != Phase::running) return s->pass_turn();
      Batch plan = s->check_batch(body);
      if (plan.status != 0) {
        s->pass_turn();
        self->session_.reset();
        return self->respond_error(plan.status, plan.reason, false);
      }
      self->bound_here_ = true;
      s->run_batch(std::move(body), std::move(plan), self->conn_->peer(),
                   [weak](Session::BatchResult r) {
                     if (auto me = weak.lock()) me->batch_done(std::move(r));
                   });
    });
  }

  void batch_done(Session::BatchResult r) {
    bound_here_ = false;
    session_.reset();
    if (phase_ != Phase::running) return;
    if (r.status == 401) return respond_error(401, "Unknown or expired session", false);
    std::string extra;
    if (!r.new_session_id.empty()) {
      extra += "Set-Cookie: " + session_set_cookie(r.new_session_id, ctx_->http.path) + "\r\n";
    } else if (r.ended && decision_.session) {
      extra += "Set-Cookie: PIMAPSESSION=; Max-Age=0; Secure; HttpOnly; SameSite=Strict; Path=" + ctx_->http.path + "\r\n";
    }
    std::string body;
    Encoder enc(decision_.response_coding);
    if (!enc.write(r.body, body) || !enc.finish(body)) r.status = 500;
    respond(r.status, body, extra, !keep_alive_ || r.status == 500);
  }

  // --- persistent chunked mode ---

  bool start_stream() {
    phase_ = Phase::streaming;
    timer_.cancel();  // from here on the IMAP state machine's own idle limits apply
    encoder_ = std::make_unique<Encoder>(decision_.response_coding);
    decoder_ = std::make_unique<Decoder>(decision_.request_coding);
    on_chunk_ = [this](std::uint64_t, boost::beast::string_view data, boost::beast::error_code&) -> std::size_t {
      stream_in(sv(data));
      return data.size();
    };
    parser_->on_chunk_body(on_chunk_);
    std::shared_ptr<Session> s;
    if (decision_.session) {
      s = ctx_->registry->find(*decision_.session);
      if (!s) {
        // Not held here (parked, or another edge had it): resumed as for an in-response batch; the
        // stream's first chunks wait in stream_early_ meanwhile.
        auto parked_here = ctx_->registry->unpark(*decision_.session);
        Session::resume(conn_->executor(), ctx_->front, ctx_->session, *ctx_->registry, conn_->peer(),
                        *decision_.session, std::move(parked_here), [weak = weak_from_this()](std::shared_ptr<Session> r, int status) {
                          auto self = weak.lock();
                          if (!self || self->phase_ != Phase::streaming || self->stream_head_sent_) return;
                          if (!r) {
                            return self->respond_error(status, status == 401 ? "Unknown or expired session"
                                                                             : "Session service unavailable",
                                                       true);
                          }
                          self->bind_stream(std::move(r));
                        });
        return true;
      }
    } else {
      s = Session::create(conn_->executor(), ctx_->front, ctx_->session, *ctx_->registry, conn_->peer());
    }
    bind_stream(std::move(s));
    return true;
  }

  void bind_stream(std::shared_ptr<Session> s) {
    session_ = s;
    s->wait_turn([weak = weak_from_this(), s] {
      auto self = weak.lock();
      if (!self || self->phase_ != Phase::streaming) return s->pass_turn();
      self->bound_here_ = true;
      s->open_stream(self->conn_->peer(), [weak](std::string_view response, bool end) {
        if (auto me = weak.lock()) me->stream_out(response, end);
      });
      self->stream_open_ = true;
      if (!self->stream_early_.empty()) s->stream_input(std::exchange(self->stream_early_, {}));
      if (self->stream_body_done_) s->stream_end();
    });
  }

  void stream_in(std::string_view data) {
    std::string plain;
    if (!decoder_->write(data, plain)) {
      if (session_ && bound_here_) session_->abandon();
      bound_here_ = false;
      session_.reset();
      phase_ = Phase::closing;
      conn_->abort();
      return;
    }
    if (stream_open_ && session_) {
      session_->stream_input(plain);
    } else {
      stream_early_ += plain;
    }
  }

  void stream_out(std::string_view response, bool end) {
    if (!stream_head_sent_) {
      stream_head_sent_ = true;
      std::string head = "HTTP/1.1 200 OK\r\nContent-Type: " + content_type() + "\r\nTransfer-Encoding: chunked\r\n";
      if (decision_.response_coding != Coding::identity) {
        head += "Content-Encoding: " + std::string(coding_name(decision_.response_coding)) + "\r\n";
      }
      head += "Cache-Control: no-store\r\n\r\n";
      write(head);
    }
    std::string data;
    if (!response.empty()) encoder_->write(response, data);
    if (end) encoder_->finish(data);
    if (!data.empty()) {
      char size[24];
      std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      write(std::string(size) + data + "\r\n");
    }
    if (!end) return;
    write("0\r\n\r\n");
    bound_here_ = false;
    session_.reset();
    stream_open_ = false;
    encoder_.reset();
    decoder_.reset();
    on_chunk_ = nullptr;
    if (!stream_body_done_ || !keep_alive_) return close();  // the IMAP side ended first (LOGOUT)
    stream_body_done_ = false;
    stream_head_sent_ = false;
    await_request();
    process();
  }

  // --- responses ---

  std::string content_type() const {
    return decision_.pimap_content_type ? "application/vnd.pimap" : "text/plain; charset=utf-8";
  }

  void respond(int status, std::string_view body, std::string_view extra_headers, bool close_after) {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
    head += "Content-Type: " + content_type() + "\r\n";
    if (decision_.response_coding != Coding::identity && status == 200) {
      head += "Content-Encoding: " + std::string(coding_name(decision_.response_coding)) + "\r\n";
      head += "Vary: Accept-Encoding\r\n";
    }
    head += "Cache-Control: no-store\r\n";
    head += extra_headers;
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (close_after) head += "Connection: close\r\n";
    head += "\r\n";
    write(head + std::string(body));
    if (close_after) return close();
    await_request();
    process();
  }

  void respond_error(int status, std::string_view reason, bool close_after) {
    timer_.cancel();
    const std::string extra = status == 405 ? "Allow: POST\r\n" : "";
    decision_.response_coding = Coding::identity;
    decision_.pimap_content_type = false;
    respond(status, std::string(reason) + "\r\n", extra, close_after);
  }

  void write(std::string_view bytes) {
    if (phase_ == Phase::closing) return;
    if (conn_->write(bytes)) {
      gone();
      conn_->abort();
    }
  }

  void close() {
    if (phase_ == Phase::closing && !conn_->is_open()) return;
    gone();
    conn_->close();
  }

  std::shared_ptr<net::Connection> conn_;
  std::shared_ptr<const BindingContext> ctx_;
  boost::asio::steady_timer timer_;
  std::unique_ptr<Parser> parser_;
  std::string in_;
  Phase phase_ = Phase::idle;
  Decision decision_;
  bool keep_alive_ = true;
  std::shared_ptr<Session> session_;
  bool bound_here_ = false;  // session_ is serving this connection's request (not waiting for its turn)
  // Persistent chunked mode.
  std::unique_ptr<Encoder> encoder_;
  std::unique_ptr<Decoder> decoder_;
  std::function<std::size_t(std::uint64_t, boost::beast::string_view, boost::beast::error_code&)> on_chunk_;
  std::string stream_early_;  // decoded input that arrived before the session's turn
  bool stream_open_ = false;
  bool stream_body_done_ = false;
  bool stream_head_sent_ = false;  // the 200 head goes out with the first response
};

}  // namespace

void serve_http(std::shared_ptr<net::Connection> conn, std::shared_ptr<const BindingContext> ctx) {
  std::make_shared<HttpConnection>(std::move(conn), std::move(ctx))->start();
}

}  // namespace pimap::edge::https
