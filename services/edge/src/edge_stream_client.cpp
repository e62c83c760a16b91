#include "edge_stream_client.hpp"

#include <pimap/session.grpc.pb.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <unordered_map>

namespace pimap::edge {

namespace {

using Clock = std::chrono::steady_clock;

// A stream that stayed up this long was a working stream: the next break starts the backoff afresh.
constexpr auto kHealthyStream = std::chrono::seconds(5);

std::string key_of(const DeviceRef& d) { return d.user + '\0' + d.device_id; }

void fill(v1::DeviceKey* k, const DeviceRef& d) {
  k->set_user(d.user);
  k->set_device_id(d.device_id);
}

}  // namespace

class EdgeStreamReactor;

struct EdgeStreamClient::Impl : std::enable_shared_from_this<Impl> {
  struct Entry {
    DeviceRef device;
    std::string session_id;
    std::uint64_t epoch = 0;
    std::uint64_t seq = 0;  // the last seq handed to the connection: where a re-attach resumes
    std::weak_ptr<PushTarget> target;
  };

  Impl(kit::GrpcClientOptions grpc, std::string id, boost::asio::any_io_executor ex, kit::Logger l,
       EdgeStreamOptions o)
      : client(std::move(grpc)), stub(client.stub<v1::SessionService>()), edge_id(std::move(id)),
        timer(ex), log(std::move(l)), options(o), backoff(o.initial_backoff) {}

  void open();
  void stream_done(EdgeStreamReactor* s, const grpc::Status& status, bool healthy);
  void deliver(v1::SessionPush push);
  // With `mutex` held: queues a message on the current stream; the returned pointer, if any, must be
  // passed to StartWrite after unlocking.
  const v1::EdgeMessage* enqueue(v1::EdgeMessage msg);
  static v1::EdgeMessage attach_message(const Entry& e);

  kit::GrpcClient client;
  std::unique_ptr<v1::SessionService::Stub> stub;
  std::string edge_id;
  boost::asio::steady_timer timer;
  kit::Logger log;
  EdgeStreamOptions options;

  mutable std::mutex mutex;
  std::condition_variable cv;
  std::unordered_map<std::string, Entry> registry;
  EdgeStreamReactor* stream = nullptr;
  bool started = false;
  bool stopped = false;
  std::chrono::milliseconds backoff;
};

// One EdgeStream call. Deletes itself in OnDone, after telling the client it is gone.
class EdgeStreamReactor final : public grpc::ClientBidiReactor<v1::EdgeMessage, v1::SessionPush> {
 public:
  explicit EdgeStreamReactor(std::shared_ptr<EdgeStreamClient::Impl> impl)
      : impl_(std::move(impl)), opened_(Clock::now()) {}

  // The hold keeps OnDone away while a write may still be started from outside a reaction (attach /
  // detach on another thread); it goes when the read side has ended and no such write is starting.
  void begin(const v1::EdgeMessage* first) {
    impl_->stub->async()->EdgeStream(&ctx_, this);
    AddHold();
    StartWrite(first);
    StartRead(&in_);
    StartCall();
  }

  // An outside operation (a write obtained from enqueue(), or stop()'s cancel) has been started.
  void outside_op_done() {
    std::unique_lock lock(impl_->mutex);
    --starting_;
    const bool release = ended_ && starting_ == 0;
    lock.unlock();
    if (release) RemoveHold();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the stream ended; OnDone follows once nothing is in flight
      std::unique_lock lock(impl_->mutex);
      ended_ = true;
      const bool release = starting_ == 0;
      lock.unlock();
      if (release) RemoveHold();
      return;
    }
    received_ = true;
    impl_->deliver(std::move(in_));  // leaves in_ empty (protobuf moves by swapping)
    in_.Clear();
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(impl_->mutex);
    out_.pop_front();
    if (!ok || out_.empty()) {
      writing_ = false;
      if (!ok) out_.clear();
      return;
    }
    const v1::EdgeMessage* next = &out_.front();
    lock.unlock();
    StartWrite(next);
  }

  void OnDone(const grpc::Status& status) override {
    impl_->stream_done(this, status, received_ || Clock::now() - opened_ >= kHealthyStream);
    delete this;
  }

  void cancel() { ctx_.TryCancel(); }

  // Guarded by impl_->mutex.
  std::deque<v1::EdgeMessage> out_;  // front() is being written while writing_
  bool writing_ = false;
  bool ended_ = false;     // the read side is done: no new messages
  int starting_ = 0;       // outside operations (enqueue()'s writes, stop()'s cancel) not done yet

 private:
  std::shared_ptr<EdgeStreamClient::Impl> impl_;
  grpc::ClientContext ctx_;
  v1::SessionPush in_;
  Clock::time_point opened_;
  bool received_ = false;
};

v1::EdgeMessage EdgeStreamClient::Impl::attach_message(const Entry& e) {
  v1::EdgeMessage m;
  auto* a = m.mutable_attach();
  fill(a->mutable_device(), e.device);
  a->set_session_id(e.session_id);
  a->set_after_seq(e.seq);
  a->set_epoch(e.epoch);
  return m;
}

const v1::EdgeMessage* EdgeStreamClient::Impl::enqueue(v1::EdgeMessage msg) {
  // No stream: the registry is replayed when the next one opens.
  if (stream == nullptr || stream->ended_) return nullptr;
  stream->out_.push_back(std::move(msg));
  if (stream->writing_) return nullptr;
  stream->writing_ = true;
  ++stream->starting_;
  return &stream->out_.front();
}

void EdgeStreamClient::Impl::open() {
  std::unique_lock lock(mutex);
  if (stopped || stream != nullptr) return;
  auto* s = new EdgeStreamReactor(shared_from_this());
  v1::EdgeMessage hello;
  hello.mutable_hello()->set_edge_id(edge_id);
  s->out_.push_back(std::move(hello));
  for (const auto& [key, e] : registry) s->out_.push_back(attach_message(e));
  s->writing_ = true;
  const v1::EdgeMessage* first = &s->out_.front();
  stream = s;
  const std::size_t devices = registry.size();
  lock.unlock();
  log.info("edge stream opening", {{"devices", devices}});
  s->begin(first);
}

void EdgeStreamClient::Impl::stream_done(EdgeStreamReactor* s, const grpc::Status& status, bool healthy) {
  std::unique_lock lock(mutex);
  if (stream == s) stream = nullptr;
  cv.notify_all();
  if (stopped) return;
  if (healthy) backoff = options.initial_backoff;
  const auto delay = backoff;
  backoff = std::min(options.max_backoff, backoff * 2);
  lock.unlock();
  log.warn("edge stream broke; reconnecting",
           {{"code", static_cast<int>(status.error_code())}, {"error", status.error_message()},
            {"retry_ms", static_cast<std::int64_t>(delay.count())}});
  // The timer is only touched on its own executor; only one stream exists at a time and this is its
  // end, so there is never more than one wait.
  boost::asio::post(timer.get_executor(), [weak = weak_from_this(), delay] {
    auto self = weak.lock();
    if (!self) return;
    self->timer.expires_after(delay);
    self->timer.async_wait([weak](boost::system::error_code ec) {
      if (ec) return;
      if (auto again = weak.lock()) again->open();
    });
  });
}

void EdgeStreamClient::Impl::deliver(v1::SessionPush push) {
  std::shared_ptr<PushTarget> target;
  {
    std::lock_guard lock(mutex);
    auto it = registry.find(key_of({push.device().user(), push.device().device_id()}));
    if (it == registry.end() || it->second.session_id != push.session_id()) return;  // detached meanwhile
    for (const auto& q : push.events()) it->second.seq = std::max(it->second.seq, q.seq());
    target = it->second.target.lock();
    if (!target || push.evicted()) registry.erase(it);
  }
  if (!target) return;
  auto ex = target->push_executor();
  boost::asio::post(ex, [target = std::move(target), push = std::move(push)]() mutable {
    target->on_push(std::move(push));
  });
}

EdgeStreamClient::EdgeStreamClient(kit::GrpcClientOptions grpc, std::string edge_id,
                                   boost::asio::any_io_executor timers, kit::Logger log, EdgeStreamOptions options)
    : impl_(std::make_shared<Impl>(std::move(grpc), std::move(edge_id), timers, std::move(log), options)) {}

EdgeStreamClient::~EdgeStreamClient() { stop(); }

void EdgeStreamClient::start() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->started) return;
    impl_->started = true;
  }
  impl_->open();
}

void EdgeStreamClient::stop() {
  std::unique_lock lock(impl_->mutex);
  impl_->stopped = true;
  EdgeStreamReactor* s = impl_->stream;
  if (s != nullptr && !s->ended_) {
    ++s->starting_;  // keeps the reactor alive until the cancel has been issued
    lock.unlock();
    s->cancel();
    s->outside_op_done();
    lock.lock();
  }
  impl_->cv.wait_for(lock, std::chrono::seconds(5), [this] { return impl_->stream == nullptr; });
}

void EdgeStreamClient::attach(const DeviceRef& device, const std::string& session_id, std::uint64_t after_seq,
                              std::uint64_t epoch, std::weak_ptr<PushTarget> target) {
  std::unique_lock lock(impl_->mutex);
  auto& e = impl_->registry[key_of(device)];
  e = Impl::Entry{device, session_id, epoch, after_seq, std::move(target)};
  const v1::EdgeMessage* write = impl_->enqueue(Impl::attach_message(e));
  auto* stream = impl_->stream;
  lock.unlock();
  if (write) {
    stream->StartWrite(write);
    stream->outside_op_done();
  }
}

void EdgeStreamClient::detach(const DeviceRef& device, const std::string& session_id, std::uint64_t epoch) {
  std::unique_lock lock(impl_->mutex);
  auto it = impl_->registry.find(key_of(device));
  // A newer connection of the same device registered since: its attachment stands.
  if (it == impl_->registry.end() || it->second.session_id != session_id || it->second.epoch != epoch) return;
  impl_->registry.erase(it);
  v1::EdgeMessage m;
  auto* d = m.mutable_detach();
  fill(d->mutable_device(), device);
  d->set_session_id(session_id);
  d->set_epoch(epoch);
  const v1::EdgeMessage* write = impl_->enqueue(std::move(m));
  auto* stream = impl_->stream;
  lock.unlock();
  if (write) {
    stream->StartWrite(write);
    stream->outside_op_done();
  }
}

bool EdgeStreamClient::connected() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stream != nullptr;
}

}  // namespace pimap::edge
