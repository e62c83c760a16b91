#include "imap_watcher.hpp"

#include <pimap/imap/client.hpp>
#include <pimap/imap/client_command.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

namespace pimap::store_watcher {

namespace imap = pimap::imap;
namespace asio = boost::asio;
using error_code = boost::system::error_code;

namespace {
constexpr const char* kNotifySpec = "(personal (MessageNew MessageExpunge FlagChange MailboxName))";
constexpr std::chrono::milliseconds kFirstBackoff{1000};
constexpr std::chrono::milliseconds kMaxBackoff{30000};
}  // namespace

struct ImapWatcher::Impl : std::enable_shared_from_this<ImapWatcher::Impl> {
  struct Watch {
    std::unique_ptr<imap::Client> client;
    std::unique_ptr<asio::steady_timer> retry;
    std::unique_ptr<asio::steady_timer> renew;  // idle: DONE + IDLE before the server ends it
    std::vector<std::string> changed;           // mailboxes to ask for, sent once per read
    bool request_posted = false;
    int failures = 0;
    bool active = false;
    std::uint64_t generation = 0;  // tells callbacks of a replaced client apart
  };

  Mode mode = Mode::notify;
  ImapStoreOptions store;
  Request request;
  std::chrono::milliseconds idle_renew{};
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::map<std::string, Watch> watches;
  std::atomic<std::size_t> active_count{0};
  std::uint64_t next_generation = 1;

  void recount() {
    std::size_t n = 0;
    for (const auto& [u, w] : watches) n += w.active ? 1 : 0;
    active_count = n;
  }

  void set_users(const std::vector<std::string>& users) {
    std::set<std::string> wanted(users.begin(), users.end());
    for (auto it = watches.begin(); it != watches.end();) {
      if (wanted.contains(it->first)) {
        ++it;
        continue;
      }
      if (it->second.client) it->second.client->close();
      if (it->second.retry) it->second.retry->cancel();
      if (it->second.renew) it->second.renew->cancel();
      it = watches.erase(it);
    }
    for (const auto& u : wanted)
      if (!watches.contains(u)) open(u);
    recount();
  }

  // A step of the session failed or the connection ended: retry later if the user is still wanted.
  void failed(const std::string& user, std::uint64_t generation) {
    auto it = watches.find(user);
    if (it == watches.end() || it->second.generation != generation) return;
    Watch& w = it->second;
    w.active = false;
    recount();
    auto delay = kFirstBackoff;
    for (int i = 0; i < w.failures && delay < kMaxBackoff; ++i) delay *= 2;
    ++w.failures;
    w.generation = 0;  // callbacks of the failed client are stale from now on
    if (w.renew) w.renew->cancel();
    w.retry = std::make_unique<asio::steady_timer>(io, std::min(delay, kMaxBackoff));
    w.retry->async_wait([self = shared_from_this(), user](error_code ec) {
      if (!ec && self->watches.contains(user)) self->open(user);
    });
    // The client cannot be destroyed from inside its own callback: do it on the next turn.
    asio::post(io, [old = std::shared_ptr<imap::Client>(std::move(w.client))] { old->close(); });
  }

  void open(const std::string& user) {
    Watch& w = watches[user];
    w.generation = next_generation++;
    const auto gen = w.generation;
    w.client = std::make_unique<imap::Client>(io.get_executor(), client_options(store, mode == Mode::notify ? "N" : "I"));
    auto self = shared_from_this();
    w.client->set_untagged_handler([self, user, gen](const imap::Response& r) {
      if (r.untagged == imap::UntaggedKind::status)
        self->changed(user, gen, std::string(r.status_data.mailbox));
      else if (r.untagged == imap::UntaggedKind::list)
        self->changed(user, gen, {});
    });
    w.client->set_closed_handler([self, user, gen](error_code) {
      asio::post(self->io, [self, user, gen] { self->failed(user, gen); });
    });
    imap::Client* c = w.client.get();
    auto alive = [self, user, gen] {
      auto it = self->watches.find(user);
      return it != self->watches.end() && it->second.generation == gen;
    };
    c->async_connect([self, user, gen, c, alive](error_code ec) {
      if (!alive()) return;
      if (ec) return self->failed(user, gen);
      c->async_login_master(user, self->store.master_user, self->store.master_password,
                            [self, user, gen, c, alive](error_code login_ec, imap::CommandResult login) {
        if (!alive()) return;
        if (login_ec || !login.ok()) return self->failed(user, gen);
        if (self->mode == Mode::idle) return self->examine_and_idle(user, gen, c, alive);
        const std::vector<std::string> caps{"CONDSTORE"};
        c->async_enable(caps, [self, user, gen, c, alive](error_code enable_ec, imap::CommandResult enabled) {
          if (!alive()) return;
          if (enable_ec || !enabled.ok()) return self->failed(user, gen);
          c->async_notify_set(kNotifySpec, [self, user, gen, alive](error_code notify_ec, imap::CommandResult notified) {
            if (!alive()) return;
            if (notify_ec || !notified.ok()) return self->failed(user, gen);
            self->watching(user);
          });
        });
      });
    });
  }

  // In effect: changes made while no watch was (before, or while reconnecting) are caught up by a full
  // request. For a user never reconciled this records the baseline later requests compare with.
  void watching(const std::string& user) {
    Watch& watch = watches[user];
    watch.active = true;
    watch.failures = 0;
    request(user, {});
    recount();
  }

  // A change in `mailbox` (empty: some mailbox was created, renamed or deleted). Every response of one
  // read from the store arrives before a posted handler runs, so a burst (200 EXPUNGE lines) is one
  // request.
  void changed(const std::string& user, std::uint64_t gen, std::string mailbox) {
    auto it = watches.find(user);
    if (it == watches.end() || it->second.generation != gen) return;
    Watch& w = it->second;
    if (std::find(w.changed.begin(), w.changed.end(), mailbox) == w.changed.end()) w.changed.push_back(std::move(mailbox));
    if (w.request_posted) return;
    w.request_posted = true;
    asio::post(io, [self = shared_from_this(), user, gen] {
      auto found = self->watches.find(user);
      if (found == self->watches.end() || found->second.generation != gen) return;
      Watch& watch = found->second;
      watch.request_posted = false;
      auto boxes = std::exchange(watch.changed, {});
      // One that asks for all covers the rest.
      if (std::find(boxes.begin(), boxes.end(), std::string()) != boxes.end()) boxes.clear();
      self->request(user, boxes);
    });
  }

  template <typename Alive>
  void examine_and_idle(const std::string& user, std::uint64_t gen, imap::Client* c, Alive alive) {
    c->async_command(imap::ClientCommand("EXAMINE INBOX"),
                     [self = shared_from_this(), user, gen, c, alive](error_code ec, imap::CommandResult examined) {
                       if (!alive()) return;
                       if (ec || !examined.ok()) return self->failed(user, gen);
                       self->idle(user, gen, c, alive, true);
                     });
  }

  template <typename Alive>
  void idle(const std::string& user, std::uint64_t gen, imap::Client* c, Alive alive, bool first) {
    auto on_change = [self = shared_from_this(), user, gen](const imap::Response& r) {
      using K = imap::UntaggedKind;
      if (r.untagged == K::exists || r.untagged == K::expunge || r.untagged == K::fetch || r.untagged == K::vanished)
        self->changed(user, gen, "INBOX");
    };
    c->async_idle(std::move(on_change), [self = shared_from_this(), user, gen, c, alive, first](error_code ec) {
      if (!alive()) return;
      if (ec) return self->failed(user, gen);
      if (first) self->watching(user);
      Watch& w = self->watches[user];
      w.renew = std::make_unique<asio::steady_timer>(self->io, self->idle_renew);
      w.renew->async_wait([self, user, gen, c, alive](error_code timer_ec) {
        if (timer_ec || !alive()) return;
        c->async_idle_done([self, user, gen, c, alive](error_code done_ec, imap::CommandResult) {
          if (!alive()) return;
          if (done_ec) return self->failed(user, gen);
          // Anything that changed in between came with the IDLE's end or comes with the next one.
          self->idle(user, gen, c, alive, false);
        });
      });
    });
  }
};

ImapWatcher::ImapWatcher(Mode mode, ImapStoreOptions store, Request request, std::chrono::milliseconds idle_renew)
    : impl_(std::make_shared<Impl>()) {
  impl_->mode = mode;
  impl_->idle_renew = idle_renew;
  impl_->store = std::move(store);
  impl_->request = std::move(request);
  thread_ = std::thread([impl = impl_] { impl->io.run(); });
}

ImapWatcher::~ImapWatcher() {
  asio::post(impl_->io, [impl = impl_] {
    impl->set_users({});
    impl->work.reset();
  });
  if (thread_.joinable()) thread_.join();
}

void ImapWatcher::set_users(std::vector<std::string> users) {
  asio::post(impl_->io, [impl = impl_, users = std::move(users)] { impl->set_users(users); });
}

std::size_t ImapWatcher::active() const { return impl_->active_count.load(); }

}  // namespace pimap::store_watcher
