#pragma once
// HTTPS binding (profile §10): what a request asks for, decided from its head alone — pure functions,
// so every status rule is unit tested without a socket (services/edge/test/https_request_test.cpp).
//
//   POST <path> with Content-Type application/vnd.pimap or application/vnd.lemonade (parameters
//   allowed), Content-Encoding identity/gzip/deflate:
//     Transfer-Encoding: chunked  -> persistent chunked mode (both directions)
//     otherwise                   -> in-response mode (one batch, one response)
//   other method -> 405, other path -> 404, other content type or coding -> 415,
//   Content-Length above the batch limit -> 413 (before the body is read).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pimap::edge::https {

struct Limits {
  std::size_t max_body = 1024 * 1024;  // bytes of a batch, after content decoding too
  std::size_t max_commands = 100;      // commands in one batch
};

enum class Coding : std::uint8_t { identity, gzip, deflate };

enum class Mode : std::uint8_t { in_response, chunked };

struct RequestHead {
  std::string_view method;
  std::string_view target;  // request-target as sent, query included
  std::string_view content_type;
  std::string_view content_encoding;
  std::string_view accept_encoding;
  std::string_view accept;
  std::string_view cookie;
  bool chunked = false;
  std::optional<std::uint64_t> content_length;
};

struct Decision {
  int status = 0;  // 0: serve it; otherwise the HTTP status to answer with
  std::string reason;  // for an error status: the body text
  Mode mode = Mode::in_response;
  Coding request_coding = Coding::identity;
  Coding response_coding = Coding::identity;
  bool pimap_content_type = false;  // answer with application/vnd.pimap instead of text/plain
  std::optional<std::string> session;  // PIMAPSESSION cookie value, when sent
};

Decision classify(const RequestHead& head, std::string_view path, const Limits& limits);

// The PIMAPSESSION value of a Cookie header (RFC 6265 §5.4 syntax: "a=b; c=d"); nullopt when absent.
std::optional<std::string> session_cookie(std::string_view cookie_header);

// The coding to answer with: gzip or deflate when the client accepts one (q > 0), gzip preferred.
Coding choose_response_coding(std::string_view accept_encoding);

// A request Content-Encoding we can decode; nullopt for anything else (-> 415).
std::optional<Coding> request_coding(std::string_view content_encoding);

std::string_view coding_name(Coding c);

// The Set-Cookie value for a session (profile §10); `path` is the binding's path.
std::string session_set_cookie(std::string_view session_id, std::string_view path);

}  // namespace pimap::edge::https
