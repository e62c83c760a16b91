#pragma once
// One device's IMAP state machine on the HTTPS binding, living across HTTP requests (profile §10).
//
// A Session owns a Pipe and the ImapConnection that talks to it. Requests take turns binding to it:
//   - run_batch(): in-response mode. The batch's bytes go to the state machine; the response is done
//     when every tag of the batch has its tagged completion, or when the final "+" of a command that
//     needs client data arrives (that "+" line ends the response; the next POST carries the data).
//     A batch ending in IDLE is a long-lived response: after "+ idling" it waits for the first event
//     (or the heartbeat, which adds "* OK still here"), then the session sends DONE itself and the
//     response ends with DONE's completion.
//   - open_stream(): persistent chunked mode. Every complete response goes to the sink as it is
//     written (one chunk each, "+" lines included: IDLE works as over TCP).
// Output written between requests (events, a BYE) waits in the pipe and comes first in the next one.
//
// Once the state machine prints "* SESSIONID <id>", the session registers under that id, so later
// requests carrying the PIMAPSESSION cookie find it; it unregisters when the IMAP connection ends
// (LOGOUT, idle timeout, eviction). A session that never got an id (before login, plain IMAP login)
// lives for one request.
//
// Between requests a device has no live in-band connection (profile §11: it must get wake-ups), so
// `options.linger` after its last request ends with none waiting, the session parks: the
// ImapConnection is closed as after a dropped TCP connection (the session service detaches it and
// keeps its checkpoint; the store connection goes back), and only the id stays, in the Registry's
// parked set. The next request with the cookie resumes it (resume(), like a cookie from another
// edge) `quiet`ly: the resume's SESSION / FOLDER / SESSIONID lines are left out, so the device sees
// what an in-memory session would have said (queued events first, profile §10).
//
// Single-threaded: everything runs on the HTTPS binding's io_context.

#include "https_batch.hpp"
#include "https_output.hpp"
#include "https_pipe.hpp"
#include "https_request.hpp"

#include <pimap/imap/command_parser.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <list>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace pimap::edge {
struct FrontContext;
}

namespace pimap::edge::https {

struct SessionOptions {
  std::chrono::milliseconds heartbeat{std::chrono::minutes(5)};
  // Idle time after a request before the session parks (see above); short, so that a device without
  // a request pending counts as gone, but long enough that back-to-back batches don't churn.
  std::chrono::milliseconds linger{200};
  std::chrono::milliseconds parked_for{std::chrono::minutes(30)};  // the IMAP idle limit (Registry::park)
  std::size_t max_response_bytes = 64 << 20;  // one in-response answer; past it the request fails (500)
  std::size_t max_backlog_bytes = 1 << 20;    // output held between requests
  Limits limits;
  imap::ParserLimits parser;  // the same limits the state machine parses with
};

class Registry;

class Session : public std::enable_shared_from_this<Session> {
 public:
  struct BatchResult {
    // 200; 500 when the state machine failed (a fault, not an IMAP NO); 401 when the session ended
    // before this request's turn came.
    int status = 200;
    std::string body;           // the responses, in order
    std::string new_session_id; // set once, on the response that first carries * SESSIONID
    bool ended = false;         // the IMAP connection ended (LOGOUT): the cookie is void now
  };
  using BatchDone = std::function<void(BatchResult)>;
  // One complete response; `end` after the last one (the IMAP connection ended).
  using StreamSink = std::function<void(std::string_view response, bool end)>;

  static std::shared_ptr<Session> create(boost::asio::any_io_executor executor,
                                         std::shared_ptr<const FrontContext> front, const SessionOptions& options,
                                         Registry& registry, const boost::asio::ip::tcp::endpoint& peer);
  // A session this edge does not hold, resumed from its cookie (ImapConnection::start_resumed):
  // `done` gets the session with the resume's output waiting for the first request, or null and the
  // HTTP status to answer (401 unknown or expired, 503 unavailable). `quiet` (set when the session
  // was parked here: the output that waited, Registry::unpark): the device does not expect the
  // resume's SESSION / FOLDER / SESSIONID lines (a RESYNC and the FOLDER that scopes it are kept);
  // the waiting output comes first.
  static void resume(boost::asio::any_io_executor executor, std::shared_ptr<const FrontContext> front,
                     const SessionOptions& options, Registry& registry, const boost::asio::ip::tcp::endpoint& peer,
                     std::string session_id, std::optional<std::string> quiet,
                     std::function<void(std::shared_ptr<Session>, int status)> done);
  Session(boost::asio::any_io_executor executor, const SessionOptions& options, Registry& registry,
          const boost::asio::ip::tcp::endpoint& peer);
  ~Session();

  // Whether a request is bound now (requests take turns; see wait_turn).
  bool busy() const { return bound_; }
  // Runs `turn` once no request is bound. A long-lived IDLE response in progress is ended (DONE) so
  // that the newer request gets its turn.
  // The turn must bind (run_batch / open_stream) or give the turn up with pass_turn().
  void wait_turn(std::function<void()> turn);
  void pass_turn() { unbind(); }

  // `body` is decoded; `plan` comes from check_batch().
  void run_batch(std::string body, Batch plan, const boost::asio::ip::tcp::endpoint& peer, BatchDone done);
  // Checks a body against the session's state: a body that answers a pending continuation starts
  // with the client data.
  Batch check_batch(std::string_view body) const;

  void open_stream(const boost::asio::ip::tcp::endpoint& peer, StreamSink sink);
  void stream_input(std::string_view bytes);
  // The client ended its request body: the response ends once every command it sent is complete
  // (an IDLE still running is ended with DONE).
  void stream_end();

  // The HTTP connection went away mid-request: a pending IDLE is ended, output goes to the backlog.
  void abandon();

  const std::string& id() const { return id_; }

 private:
  enum class Pending : unsigned char { none, sasl, literal };

  void on_output(std::string_view bytes);
  void on_response(const Response& r);
  void on_closed(bool aborted);
  void track_stream_input(std::string_view bytes);
  void maybe_end_stream();
  void finish_batch(int status);
  void inject_done();
  void unbind();
  void learn_id(std::string_view line);
  void arm_linger();
  void park();
  // Quiet resume: whether `r` is left out; `before` gets a held FOLDER line to say first.
  bool quiet_drop(const Response& r, std::string& before);

  boost::asio::any_io_executor executor_;
  SessionOptions options_;
  Registry& registry_;
  std::shared_ptr<Pipe> pipe_;
  OutputScanner scanner_;
  boost::asio::steady_timer heartbeat_;  // while bound: the long poll's heartbeat; unbound: the linger
  std::string id_;
  bool id_announced_ = false;
  bool ended_ = false;
  bool bye_ = false;  // the state machine said BYE: it is closing
  bool aborted_ = false;
  bool bound_ = false;
  enum class Quiet : unsigned char { off, head, body };
  Quiet quiet_ = Quiet::off;
  std::string quiet_folder_;  // a FOLDER line of the resume head, said only if a RESYNC follows
  std::string carried_;       // output that waited when the session parked, for the next request
  // Lists, not deques: an empty std::deque allocates its first block (~600 bytes) per session.
  std::list<std::function<void()>> turns_;

  // In-response mode.
  BatchDone batch_done_;
  std::string response_;
  std::list<std::string> awaiting_;
  Tail tail_ = Tail::complete;
  std::size_t plus_left_ = 0;
  bool long_poll_ = false;
  bool done_injected_ = false;
  bool overflow_ = false;
  Pending pending_ = Pending::none;
  std::string pending_tag_;
  std::string pending_partial_;  // Pending::literal: the command so far

  // Persistent chunked mode.
  StreamSink sink_;
  bool stream_ending_ = false;
  // Tags of the stream's commands still running, read from the client's input with the same parser
  // the state machine uses; null between streams.
  std::unique_ptr<imap::CommandParser> stream_parser_;
  bool stream_idle_ = false;
};

// Sessions of this edge by session id. Single-threaded (the HTTPS io_context).
class Registry {
 public:
  std::shared_ptr<Session> find(const std::string& id) const;
  void add(const std::string& id, std::shared_ptr<Session> s) { sessions_[id] = std::move(s); }
  void remove(const std::string& id, const Session* s);
  std::size_t size() const { return sessions_.size(); }
  // Shutdown: every session's IMAP connection is closed.
  void clear() { sessions_.clear(); }

  // Parked sessions (closed here between requests, see Session): `s` leaves the live set, its id is
  // remembered for `forget_after` (the IMAP idle limit; after it a cookie resumes as from another edge)
  // with the output that waited for the next request (the completion of an abandoned IDLE).
  void park(const std::string& id, const Session* s, std::chrono::milliseconds forget_after, std::string backlog);
  // Whether `id` was parked here, and its waiting output (forgets it).
  std::optional<std::string> unpark(const std::string& id);
  std::size_t parked() const { return parked_.size(); }

 private:
  struct Parked {
    std::chrono::steady_clock::time_point forget_at;
    std::string backlog;
  };
  std::unordered_map<std::string, std::shared_ptr<Session>> sessions_;
  std::unordered_map<std::string, Parked> parked_;
  std::size_t prune_at_ = 1024;
};

}  // namespace pimap::edge::https
