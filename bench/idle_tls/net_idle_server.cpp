// net_idle_server: accepts TLS connections, completes the handshake, then waits for input on each
// one exactly as an edge session in IMAP IDLE does (a pending read, an idle timeout armed, no
// buffers). Echoes whatever arrives, so a driver can check that a connection is really alive.
//
//   net_idle_server --cert C --key K [--port P] [--threads N] [--no-lean] [--trim] [--status FILE]
//
// --trim calls malloc_trim(0) once a second, as an edge's housekeeping timer could: it hands the
// pages freed after a burst of handshakes back to the kernel.
//
// Prints "READY <port>" once listening. With --status, rewrites FILE every second with
// "open=<n> tls=<n> lean=<n> failed=<n>" so a driver can tell when all handshakes are done.

#include <pimap/net/connection.hpp>
#include <pimap/net/error.hpp>
#include <pimap/net/io_pool.hpp>
#include <pimap/net/listener.hpp>
#include <pimap/net/tls_context.hpp>

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

using namespace pimap::net;

namespace {

std::atomic<long> g_tls{0}, g_lean{0}, g_failed{0};
volatile std::sig_atomic_t g_stop = 0;

void idle(std::shared_ptr<Connection> c) {
  c->async_read_some([c](Connection::error_code ec, std::span<const char> data) {
    if (ec == errc::idle_timeout) {  // an edge would say BYE; here: keep waiting
      idle(c);
      return std::size_t{0};
    }
    if (ec) {
      g_tls.fetch_sub(1);
      if (c->security() == Security::tls_lean) g_lean.fetch_sub(1);
      c->close();
      return std::size_t{0};
    }
    c->write(std::string_view(data.data(), data.size()));
    idle(c);
    return data.size();
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string cert, key, status;
  unsigned short port = 0;
  std::size_t threads = 2;
  bool lean = true;
  bool trim = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--cert") cert = next();
    else if (a == "--key") key = next();
    else if (a == "--port") port = static_cast<unsigned short>(std::stoi(next()));
    else if (a == "--threads") threads = std::stoul(next());
    else if (a == "--no-lean") lean = false;
    else if (a == "--trim") trim = true;
    else if (a == "--status") status = next();
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  ServerTlsOptions tls_options;
  tls_options.cert_chain_file = cert;
  tls_options.key_file = key;
  tls_options.lean_records = lean;
  auto tls = std::make_shared<TlsContext>(TlsContext::server(tls_options));

  IoPool pool(threads);
  ListenerOptions options;
  options.port = port;
  options.max_connections = 19'950;
  options.connection.handshake_timeout = std::chrono::seconds(30);
  options.connection.idle_timeout = std::chrono::minutes(29);  // IMAP IDLE's autologout horizon
  auto listener = Listener::create(pool, options, [tls](std::shared_ptr<Connection> c) {
    c->start_tls(*tls, [c](Connection::error_code ec) {
      if (ec) {
        g_failed.fetch_add(1);
        return;
      }
      g_tls.fetch_add(1);
      if (c->security() == Security::tls_lean) g_lean.fetch_add(1);
      idle(c);
    });
  });
  listener->start();
  pool.start();
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::cout << "READY " << listener->port() << std::endl;

  while (!g_stop) {
    if (trim) malloc_trim(0);
    if (!status.empty()) {
      const std::string tmp = status + ".tmp";
      {
        std::ofstream f(tmp);
        f << "open=" << listener->stats().open << " tls=" << g_tls.load()
          << " lean=" << g_lean.load() << " failed=" << g_failed.load()
          << " refused=" << listener->stats().refused_limit << "\n";
      }
      std::rename(tmp.c_str(), status.c_str());
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  listener->stop_accepting();
  pool.stop();
  pool.join();
  return 0;
}
