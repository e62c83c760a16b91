#include "notify_watcher.hpp"

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

struct NotifyWatcher::Impl : std::enable_shared_from_this<NotifyWatcher::Impl> {
  struct Watch {
    std::unique_ptr<imap::Client> client;
    std::unique_ptr<asio::steady_timer> retry;
    int failures = 0;
    bool active = false;
    std::uint64_t generation = 0;  // tells callbacks of a replaced client apart
  };

  ImapStoreOptions store;
  Request request;
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
    imap::ClientOptions co;
    co.host = store.host;
    co.port = store.port;
    co.security = store.implicit_tls ? imap::Security::implicit_tls : imap::Security::starttls;
    co.ca_file = store.ca_file;
    co.master_user_separator = store.master_separator;
    co.command_timeout = store.command_timeout;
    co.tag_prefix = "N";
    w.client = std::make_unique<imap::Client>(io.get_executor(), co);
    auto self = shared_from_this();
    w.client->set_untagged_handler([self, user](const imap::Response& r) {
      if (r.untagged == imap::UntaggedKind::status)
        self->request(user, {std::string(r.status_data.mailbox)});
      else if (r.untagged == imap::UntaggedKind::list)
        self->request(user, {});
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
        const std::vector<std::string> caps{"CONDSTORE"};
        c->async_enable(caps, [self, user, gen, c, alive](error_code enable_ec, imap::CommandResult enabled) {
          if (!alive()) return;
          if (enable_ec || !enabled.ok()) return self->failed(user, gen);
          c->async_notify_set(kNotifySpec, [self, user, gen, alive](error_code notify_ec, imap::CommandResult notified) {
            if (!alive()) return;
            if (notify_ec || !notified.ok()) return self->failed(user, gen);
            Watch& watch = self->watches[user];
            watch.active = true;
            watch.failures = 0;
            // Changes made while no NOTIFY was in effect (before, or while reconnecting): catch up. For a
            // user never reconciled this records the baseline the later mailbox requests compare with.
            self->request(user, {});
            self->recount();
          });
        });
      });
    });
  }
};

NotifyWatcher::NotifyWatcher(ImapStoreOptions store, Request request) : impl_(std::make_shared<Impl>()) {
  impl_->store = std::move(store);
  impl_->request = std::move(request);
  thread_ = std::thread([impl = impl_] { impl->io.run(); });
}

NotifyWatcher::~NotifyWatcher() {
  asio::post(impl_->io, [impl = impl_] {
    impl->set_users({});
    impl->work.reset();
  });
  if (thread_.joinable()) thread_.join();
}

void NotifyWatcher::set_users(std::vector<std::string> users) {
  asio::post(impl_->io, [impl = impl_, users = std::move(users)] { impl->set_users(users); });
}

std::size_t NotifyWatcher::active() const { return impl_->active_count.load(); }

}  // namespace pimap::store_watcher
