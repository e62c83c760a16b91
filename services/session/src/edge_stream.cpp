#include "edge_stream.hpp"

#include <deque>
#include <mutex>

namespace pimap::session {
namespace {

class EdgeStreamReactor;

// The stream's write side as the hub sees it. Finish() is only ever called when no write and no
// message handling is in flight, so gRPC cannot call OnDone (and delete the reactor) under them.
class Outbox final : public PushSink {
 public:
  Outbox(EdgeStreamReactor* reactor, std::size_t limit) : reactor_(reactor), limit_(limit) {}

  bool send(v1::SessionPush push) override;
  void close(std::string_view reason) override {
    finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(reason)));
  }
  std::string edge_id() const override {
    std::lock_guard lock(mutex_);
    return edge_id_;
  }

  void set_edge_id(std::string id) {
    std::lock_guard lock(mutex_);
    edge_id_ = std::move(id);
  }
  void finish(grpc::Status status);
  void write_done(bool ok);
  // Message handling: begin() before posting, end() afterwards (end() starts the next read).
  void begin_handling() {
    std::lock_guard lock(mutex_);
    handling_ = true;
  }
  void end_handling();
  void reactor_gone() {
    std::lock_guard lock(mutex_);
    reactor_ = nullptr;
  }

 private:
  // Calls Finish if it was requested and nothing is in flight. Unlocks.
  void maybe_finish(std::unique_lock<std::mutex>& lock);

  mutable std::mutex mutex_;
  EdgeStreamReactor* reactor_;
  std::size_t limit_;
  std::string edge_id_;
  std::deque<v1::SessionPush> queue_;  // front() is being written while writing_
  bool writing_ = false;
  bool handling_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  grpc::Status status_;
};

class EdgeStreamReactor final : public grpc::ServerBidiReactor<v1::EdgeMessage, v1::SessionPush> {
 public:
  EdgeStreamReactor(PushHub& hub, WorkQueue& work, const Options& options, kit::Logger log)
      : hub_(hub), work_(work), log_(std::move(log)),
        outbox_(std::make_shared<Outbox>(this, options.stream_backlog)) {
    hub_.stream_opened(outbox_);
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the edge closed its side, or the stream broke
      outbox_->finish(grpc::Status::OK);
      return;
    }
    v1::EdgeMessage msg = std::move(in_);
    in_.Clear();
    if (msg.has_hello()) {
      outbox_->set_edge_id(msg.hello().edge_id());
      log_.info("edge stream opened", {{"edge", msg.hello().edge_id()}});
      StartRead(&in_);
      return;
    }
    outbox_->begin_handling();
    const bool posted = work_.post([this, msg = std::move(msg)] {
      if (msg.has_attach()) hub_.attach(outbox_, msg.attach());
      else if (msg.has_detach()) hub_.detach(outbox_.get(), msg.detach());
      outbox_->end_handling();
    });
    if (!posted) {
      outbox_->finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "session instance stopping"));
      outbox_->end_handling();
    }
  }

  void OnWriteDone(bool ok) override { outbox_->write_done(ok); }

  void OnDone() override {
    outbox_->reactor_gone();
    auto outbox = outbox_;
    PushHub& hub = hub_;
    if (!work_.post([&hub, outbox] { hub.stream_closed(outbox.get()); })) hub.stream_closed(outbox.get());
    delete this;
  }

  void read_next() { StartRead(&in_); }

 private:
  PushHub& hub_;
  WorkQueue& work_;
  kit::Logger log_;
  std::shared_ptr<Outbox> outbox_;
  v1::EdgeMessage in_;
};

bool Outbox::send(v1::SessionPush push) {
  std::unique_lock lock(mutex_);
  if (reactor_ == nullptr || finishing_) return false;
  if (queue_.size() >= limit_) {
    // The edge does not keep up. Its devices lose nothing: the edge re-attaches with the seqs they
    // have and the hub pushes from there.
    lock.unlock();
    finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "edge stream backlog over limit"));
    return false;
  }
  queue_.push_back(std::move(push));
  if (writing_) return true;
  writing_ = true;
  const v1::SessionPush* next = &queue_.front();
  EdgeStreamReactor* reactor = reactor_;
  lock.unlock();
  reactor->StartWrite(next);
  return true;
}

void Outbox::write_done(bool ok) {
  std::unique_lock lock(mutex_);
  queue_.pop_front();
  if (!ok && !finishing_) {
    finishing_ = true;
    status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write to edge failed");
  }
  if (finishing_ || queue_.empty()) {
    writing_ = false;
    maybe_finish(lock);
    return;
  }
  const v1::SessionPush* next = &queue_.front();
  EdgeStreamReactor* reactor = reactor_;
  lock.unlock();
  reactor->StartWrite(next);
}

void Outbox::finish(grpc::Status status) {
  std::unique_lock lock(mutex_);
  if (!finishing_) {
    finishing_ = true;
    status_ = std::move(status);
  }
  maybe_finish(lock);
}

void Outbox::end_handling() {
  std::unique_lock lock(mutex_);
  if (!finishing_ && reactor_ != nullptr) {
    // Still handling, so Finish cannot have been called: the reactor is alive.
    EdgeStreamReactor* reactor = reactor_;
    lock.unlock();
    reactor->read_next();
    lock.lock();
  }
  handling_ = false;
  maybe_finish(lock);
}

void Outbox::maybe_finish(std::unique_lock<std::mutex>& lock) {
  if (!finishing_ || finished_ || writing_ || handling_ || reactor_ == nullptr) {
    lock.unlock();
    return;
  }
  finished_ = true;
  queue_.clear();
  EdgeStreamReactor* reactor = reactor_;
  grpc::Status status = status_;
  lock.unlock();
  reactor->Finish(std::move(status));
}

}  // namespace

grpc::ServerBidiReactor<v1::EdgeMessage, v1::SessionPush>* make_edge_stream(PushHub& hub, WorkQueue& work,
                                                                            const Options& options,
                                                                            kit::Logger log) {
  return new EdgeStreamReactor(hub, work, options, std::move(log));
}

}  // namespace pimap::session
