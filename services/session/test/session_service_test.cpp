// Drives the session service over real gRPC against a real redis-server: the in-process service for
// the protocol scenarios, the pimap-session binary for start-up and config.

#include "options.hpp"
#include "push_hub.hpp"
#include "session_metrics.hpp"
#include "session_rpc.hpp"
#include "store.hpp"
#include "work_queue.hpp"
#include "convert.hpp"

#include <pimap/redis/testing/redis_server.hpp>
#include <pimap/session.grpc.pb.h>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

using namespace std::chrono_literals;
using namespace pimap;
using pimap::redis::testing::RedisServer;

namespace {

RedisServer& redis_server() {
  static RedisServer s;
  if (!s.running()) s.start();
  return s;
}

v1::StoreEvent new_message(const std::string& user, const std::string& mailbox, std::uint32_t uid) {
  v1::StoreEvent e;
  e.set_event_id(user + "/" + mailbox + "/7/" + std::to_string(uid) + "/new");
  e.set_user(user);
  e.set_mailbox(mailbox);
  e.set_uidvalidity(7);
  e.set_kind(v1::StoreEvent::MESSAGE_NEW);
  e.add_uids(uid);
  return e;
}

class SessionServiceTest : public ::testing::Test {
 protected:
  static session::Options make_options() {
    static std::atomic<int> n{0};
    session::Options o;
    const int i = ++n;
    o.instance_id = "inst-" + std::to_string(i);
    o.key_prefix = "svc" + std::to_string(i) + "-" + std::to_string(getpid());
    o.queue.max_events = 5;
    o.sessions.max_pending_read = 100;
    o.policy.max_per_user = 2;
    o.attach_ttl = 3s;
    o.worker_threads = 2;
    return o;
  }

  SessionServiceTest()
      : options(make_options()),
        pool(redis_server().options(), 4),
        store(pool, options),
        kit_metrics("session", std::make_shared<prometheus::Registry>()),
        metrics(kit_metrics),
        log("session", kit::Level::warn),
        work(options.worker_threads),
        hub(redis_server().options(), store, options, work, metrics, log),
        rpc(store, hub, work, options, metrics, log) {}

  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&rpc);
    server = builder.BuildAndStart();
    ASSERT_TRUE(server);
    hub.start();
    for (int i = 0; i < 200 && !hub.redis_ready(); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(hub.redis_ready());
    stub = v1::SessionService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    hub.close_streams("test over");
    server->Shutdown(std::chrono::system_clock::now() + 2s);
    hub.stop();
    work.stop();
  }

  grpc::Status open(const v1::DeviceKey& d, const std::string& edge, v1::OpenResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::OpenRequest req;
    *req.mutable_device() = d;
    req.set_edge_id(edge);
    req.set_binding("tcp");
    return stub->Open(&ctx, req, resp);
  }

  template <class Req>
  grpc::Status call(grpc::Status (v1::SessionService::Stub::*method)(grpc::ClientContext*, const Req&, v1::Empty*),
                    const Req& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::Empty empty;
    return (stub.get()->*method)(&ctx, req, &empty);
  }

  using Stream = grpc::ClientReaderWriter<v1::EdgeMessage, v1::SessionPush>;
  // An edge's stream, its Hello sent.
  std::unique_ptr<Stream> edge_stream(grpc::ClientContext& ctx, const std::string& edge) {
    auto stream = stub->EdgeStream(&ctx);
    v1::EdgeMessage hello;
    hello.mutable_hello()->set_edge_id(edge);
    EXPECT_TRUE(stream->Write(hello));
    return stream;
  }
  // Attaches `d`, opened as `opened`, on `stream`.
  static bool attach_on(Stream& stream, const v1::DeviceKey& d, const v1::OpenResponse& opened) {
    v1::EdgeMessage attach;
    *attach.mutable_attach()->mutable_device() = d;
    attach.mutable_attach()->set_session_id(opened.session_id());
    attach.mutable_attach()->set_after_seq(0);
    attach.mutable_attach()->set_epoch(opened.epoch());
    return stream.Write(attach);
  }

  sessionstore::AppendResult append(const v1::DeviceKey& d, const v1::StoreEvent& e) {
    auto r = store.queue.append({d.user(), d.device_id()}, session::to_record(e));
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : sessionstore::AppendResult{};
  }

  static v1::DeviceKey device(const std::string& id, const std::string& user = "user01@example.test") {
    v1::DeviceKey d;
    d.set_user(user);
    d.set_device_id(id);
    return d;
  }

  session::Options options;
  redis::Pool pool;
  session::Store store;
  kit::Metrics kit_metrics;
  session::SessionMetrics metrics;
  kit::Logger log;
  session::WorkQueue work;
  session::PushHub hub;
  session::SessionRpc rpc;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::SessionService::Stub> stub;
};

TEST_F(SessionServiceTest, ResumeGetsExactlyTheMissedEventsInOrder) {
  const auto phone = device("Pphone");
  v1::OpenResponse first;
  ASSERT_TRUE(open(phone, "edge-a", &first).ok());
  EXPECT_FALSE(first.resumed());
  EXPECT_EQ(first.session_id().size(), 26u);

  v1::DetachRequest det;
  det.set_session_id(first.session_id());
  *det.mutable_device() = phone;
  det.set_state(v1::SELECTED);
  det.set_folder("INBOX");
  det.set_acked_seq(0);
  det.set_epoch(first.epoch());
  (*det.mutable_view())["seqmap"] = "1:1";
  ASSERT_TRUE(call(&v1::SessionService::Stub::Detach, det).ok());

  // The notifier appends while the device is away; one event arrives twice (Kafka redelivery).
  append(phone, new_message(phone.user(), "INBOX", 101));
  append(phone, new_message(phone.user(), "INBOX", 102));
  append(phone, new_message(phone.user(), "INBOX", 101));
  append(phone, new_message(phone.user(), "Work", 5));

  v1::OpenResponse again;
  ASSERT_TRUE(open(phone, "edge-b", &again).ok());
  EXPECT_TRUE(again.resumed());
  EXPECT_EQ(again.session_id(), first.session_id());
  EXPECT_EQ(again.state(), v1::SELECTED);
  EXPECT_EQ(again.folder(), "INBOX");
  EXPECT_EQ(again.view().at("seqmap"), "1:1");
  EXPECT_FALSE(again.resync());
  ASSERT_EQ(again.pending_size(), 3);
  EXPECT_EQ(again.pending(0).seq(), 1u);
  EXPECT_EQ(again.pending(0).event().uids(0), 101u);
  EXPECT_EQ(again.pending(1).seq(), 2u);
  EXPECT_EQ(again.pending(1).event().uids(0), 102u);
  EXPECT_EQ(again.pending(2).seq(), 3u);
  EXPECT_EQ(again.pending(2).event().mailbox(), "Work");
  EXPECT_EQ(again.last_seq(), 3u);
  EXPECT_GT(again.epoch(), first.epoch());

  // Acknowledged events do not come back.
  v1::AckRequest ack;
  ack.set_session_id(again.session_id());
  *ack.mutable_device() = phone;
  ack.set_acked_seq(2);
  ASSERT_TRUE(call(&v1::SessionService::Stub::Ack, ack).ok());
  v1::OpenResponse third;
  ASSERT_TRUE(open(phone, "edge-a", &third).ok());
  ASSERT_EQ(third.pending_size(), 1);
  EXPECT_EQ(third.pending(0).seq(), 3u);
}

TEST_F(SessionServiceTest, OverflowMeansResync) {
  const auto phone = device("Pphone");
  v1::OpenResponse first;
  ASSERT_TRUE(open(phone, "edge-a", &first).ok());
  for (std::uint32_t uid = 1; uid <= 6; ++uid) append(phone, new_message(phone.user(), "INBOX", uid));
  v1::OpenResponse again;
  ASSERT_TRUE(open(phone, "edge-a", &again).ok());
  EXPECT_TRUE(again.resumed());
  EXPECT_TRUE(again.resync());
  EXPECT_EQ(again.resync_folder(), "");
  ASSERT_EQ(again.pending_size(), 1);
  EXPECT_EQ(again.pending(0).event().kind(), v1::StoreEvent::RESYNC_REQUIRED);
  EXPECT_EQ(again.pending(0).seq(), 6u);
}

TEST_F(SessionServiceTest, UidvalidityChangeMeansFolderResync) {
  const auto phone = device("Pphone");
  v1::OpenResponse first;
  ASSERT_TRUE(open(phone, "edge-a", &first).ok());
  v1::StoreEvent e;
  e.set_event_id("user01/INBOX/8/0/resync");
  e.set_user(phone.user());
  e.set_mailbox("INBOX");
  e.set_uidvalidity(8);
  e.set_kind(v1::StoreEvent::RESYNC_REQUIRED);
  append(phone, e);
  v1::OpenResponse again;
  ASSERT_TRUE(open(phone, "edge-a", &again).ok());
  EXPECT_TRUE(again.resync());
  EXPECT_EQ(again.resync_folder(), "INBOX");
}

TEST_F(SessionServiceTest, CloseMakesTheNextLoginAFirstLogin) {
  const auto phone = device("Pphone");
  v1::OpenResponse first;
  ASSERT_TRUE(open(phone, "edge-a", &first).ok());
  append(phone, new_message(phone.user(), "INBOX", 1));
  v1::CloseRequest wrong;
  wrong.set_session_id("AAAAAAAAAAAAAAAAAAAAAAAAAA");
  *wrong.mutable_device() = phone;
  EXPECT_EQ(call(&v1::SessionService::Stub::Close, wrong).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::CloseRequest close;
  close.set_session_id(first.session_id());
  *close.mutable_device() = phone;
  ASSERT_TRUE(call(&v1::SessionService::Stub::Close, close).ok());
  v1::OpenResponse next;
  ASSERT_TRUE(open(phone, "edge-a", &next).ok());
  EXPECT_FALSE(next.resumed());
  EXPECT_NE(next.session_id(), first.session_id());
  EXPECT_EQ(next.pending_size(), 0);
  // The closed session's id no longer works.
  v1::AckRequest ack;
  ack.set_session_id(first.session_id());
  *ack.mutable_device() = phone;
  EXPECT_EQ(call(&v1::SessionService::Stub::Ack, ack).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(SessionServiceTest, OpenBySessionIdAloneResumesThatSessionAndNothingElse) {
  const auto phone = device("Pphone");
  v1::OpenResponse first;
  ASSERT_TRUE(open(phone, "edge-a", &first).ok());
  append(phone, new_message(phone.user(), "INBOX", 1));
  auto by_id = [&](const std::string& id, v1::OpenResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::OpenRequest req;  // no device: the cookie is all the edge has
    req.set_edge_id("edge-b");
    req.set_binding("https");
    req.set_session_id(id);
    return stub->Open(&ctx, req, resp);
  };
  v1::OpenResponse resumed;
  ASSERT_TRUE(by_id(first.session_id(), &resumed).ok());
  EXPECT_TRUE(resumed.resumed());
  EXPECT_EQ(resumed.session_id(), first.session_id());
  EXPECT_EQ(resumed.device().user(), phone.user());
  EXPECT_EQ(resumed.device().device_id(), phone.device_id());
  ASSERT_EQ(resumed.pending_size(), 1);
  EXPECT_GT(resumed.epoch(), first.epoch());

  v1::OpenResponse none;
  EXPECT_EQ(by_id("AAAAAAAAAAAAAAAAAAAAAAAAAA", &none).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(by_id("not-an-id", &none).error_code(), grpc::StatusCode::NOT_FOUND);

  // After LOGOUT the id resumes nothing, and creates nothing either.
  v1::CloseRequest close;
  close.set_session_id(first.session_id());
  *close.mutable_device() = phone;
  ASSERT_TRUE(call(&v1::SessionService::Stub::Close, close).ok());
  EXPECT_EQ(by_id(first.session_id(), &none).error_code(), grpc::StatusCode::NOT_FOUND);
  auto live = store.sessions.lookup({phone.user(), phone.device_id()});
  ASSERT_TRUE(live);
  EXPECT_FALSE(live->has_value());
}

TEST_F(SessionServiceTest, EdgeStreamPushesPendingOnAttachAndLiveEventsOnWakeUp) {
  const auto phone = device("Pphone");
  v1::OpenResponse opened;
  ASSERT_TRUE(open(phone, "edge-a", &opened).ok());
  append(phone, new_message(phone.user(), "INBOX", 1));  // queued before the attach

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  auto stream = edge_stream(ctx, "edge-a");
  ASSERT_TRUE(attach_on(*stream, phone, opened));

  v1::SessionPush push;
  ASSERT_TRUE(stream->Read(&push));
  EXPECT_EQ(push.device().device_id(), "Pphone");
  EXPECT_EQ(push.session_id(), opened.session_id());
  ASSERT_EQ(push.events_size(), 1);
  EXPECT_EQ(push.events(0).seq(), 1u);
  EXPECT_EQ(push.events(0).event().uids(0), 1u);

  // The notifier appends; the append script wakes this instance, which pushes the event.
  for (int i = 0; i < 100 && !store.registry.holder({phone.user(), phone.device_id()})->has_value(); ++i)
    std::this_thread::sleep_for(10ms);
  auto woke = append(phone, new_message(phone.user(), "INBOX", 2));
  ASSERT_TRUE(woke.instance.has_value());
  EXPECT_EQ(*woke.instance, options.instance_id);
  ASSERT_TRUE(stream->Read(&push));
  ASSERT_EQ(push.events_size(), 1);
  EXPECT_EQ(push.events(0).seq(), 2u);
  EXPECT_EQ(push.events(0).event().uids(0), 2u);

  // After a detach nothing more is pushed, and the notifier sees nobody to wake.
  v1::EdgeMessage detach;
  *detach.mutable_detach()->mutable_device() = phone;
  detach.mutable_detach()->set_session_id(opened.session_id());
  ASSERT_TRUE(stream->Write(detach));
  for (int i = 0; i < 100 && store.registry.holder({phone.user(), phone.device_id()})->has_value(); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(append(phone, new_message(phone.user(), "INBOX", 3)).instance.has_value());
  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&push));
  EXPECT_TRUE(stream->Finish().ok());
}

// A wake-up that never came (the registration had lapsed: a Redis restart, a detach racing a
// re-attach) delays the event until the next registration refresh, never until the device's next
// event: the refresh compares the queue's last seq with the last one pushed.
TEST_F(SessionServiceTest, AnEventWhoseWakeUpWasLostIsPushedByTheRefresh) {
  const auto phone = device("Plost");
  const sessionstore::DeviceKey key{phone.user(), phone.device_id()};
  v1::OpenResponse opened;
  ASSERT_TRUE(open(phone, "edge-a", &opened).ok());

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  auto stream = edge_stream(ctx, "edge-a");
  ASSERT_TRUE(attach_on(*stream, phone, opened));
  for (int i = 0; i < 100 && !store.registry.holder(key)->has_value(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(store.registry.holder(key)->has_value());

  ASSERT_TRUE(pool.command({"DEL", store.keys.attach(key)}));
  const auto t0 = std::chrono::steady_clock::now();
  auto appended = append(phone, new_message(phone.user(), "INBOX", 1));
  ASSERT_FALSE(appended.instance.has_value());  // nobody was woken
  v1::SessionPush push;
  ASSERT_TRUE(stream->Read(&push));
  ASSERT_EQ(push.events_size(), 1);
  EXPECT_EQ(push.events(0).seq(), 1u);
  EXPECT_EQ(push.events(0).event().uids(0), 1u);
  EXPECT_LE(std::chrono::steady_clock::now() - t0, options.attach_ttl);  // refreshed every attach_ttl / 3
  EXPECT_EQ(metrics.missed_wakeups.Value(), 1.0);
  EXPECT_TRUE(store.registry.holder(key)->has_value());  // and registered again

  stream->WritesDone();
  hub.close_streams("test over");
  static_cast<void>(stream->Finish());
}

// Many devices on one edge stream woken together (the pumps are drained in batches, one Redis read
// for many devices): every device gets every event exactly once, in order. One user per device:
// this fixture's connection limit is 2 per user.
TEST_F(SessionServiceTest, ManyDevicesWokenTogetherGetEachEventOnceInOrder) {
  constexpr int kDevices = 40;
  std::vector<v1::DeviceKey> devices;
  std::vector<v1::OpenResponse> opened(kDevices);
  for (int i = 0; i < kDevices; ++i) {
    devices.push_back(device("Pfan", "fan" + std::to_string(i) + "@example.test"));
    ASSERT_TRUE(open(devices.back(), "edge-a", &opened[i]).ok());
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  auto stream = edge_stream(ctx, "edge-a");
  for (int i = 0; i < kDevices; ++i) ASSERT_TRUE(attach_on(*stream, devices[i], opened[i]));
  for (const auto& d : devices)
    for (int i = 0; i < 200 && !store.registry.holder({d.user(), d.device_id()})->has_value(); ++i)
      std::this_thread::sleep_for(10ms);
  constexpr std::uint32_t kEvents = 3;
  for (std::uint32_t uid = 1; uid <= kEvents; ++uid)
    for (const auto& d : devices) append(d, new_message(d.user(), "INBOX", uid));
  std::map<std::string, std::vector<std::uint64_t>> seen;  // device -> uids in push order
  std::size_t total = 0;
  v1::SessionPush push;
  while (total < kDevices * kEvents && stream->Read(&push)) {
    for (const auto& ev : push.events()) {
      seen[push.device().user()].push_back(ev.event().uids(0));
      ++total;
    }
  }
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kDevices));
  for (const auto& [user, uids] : seen) EXPECT_EQ(uids, (std::vector<std::uint64_t>{1, 2, 3})) << user;
  stream->WritesDone();
  while (stream->Read(&push)) ADD_FAILURE() << "extra push for " << push.device().user();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(SessionServiceTest, PushLatencyCountsEventsThatHappenedWhileAttached) {
  const auto now_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const auto latency_count = [this] { return metrics.push_latency.Collect().histogram.sample_count; };
  const auto phone = device("Platency");
  v1::OpenResponse opened;
  ASSERT_TRUE(open(phone, "edge-l", &opened).ok());
  // Committed an hour ago while the device was away: pushed on attach, but not push latency.
  auto offline = new_message(phone.user(), "INBOX", 1);
  offline.set_store_time_unix_us(now_us() - 3'600'000'000);
  append(phone, offline);

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  auto stream = edge_stream(ctx, "edge-l");
  ASSERT_TRUE(attach_on(*stream, phone, opened));
  v1::SessionPush push;
  ASSERT_TRUE(stream->Read(&push));
  ASSERT_EQ(push.events_size(), 1);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(latency_count(), 0u);

  // Committed 300 ms ago, after the attach (the watcher's observation time when the store gave none).
  for (int i = 0; i < 100 && !store.registry.holder({phone.user(), phone.device_id()})->has_value(); ++i)
    std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(400ms);
  auto live = new_message(phone.user(), "INBOX", 2);
  live.set_observed_unix_us(now_us() - 300'000);
  append(phone, live);
  ASSERT_TRUE(stream->Read(&push));
  ASSERT_EQ(push.events_size(), 1);
  EXPECT_EQ(push.events(0).event().uids(0), 2u);
  for (int i = 0; i < 100 && latency_count() == 0; ++i) std::this_thread::sleep_for(10ms);
  const auto h = metrics.push_latency.Collect().histogram;
  EXPECT_EQ(h.sample_count, 1u);
  EXPECT_GE(h.sample_sum, 0.3);
  EXPECT_LT(h.sample_sum, 5.0);

  stream->WritesDone();
  while (stream->Read(&push)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(SessionServiceTest, AttachWithoutALiveSessionIsEvicted) {
  const auto phone = device("Pgone");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  auto stream = stub->EdgeStream(&ctx);
  v1::EdgeMessage attach;
  *attach.mutable_attach()->mutable_device() = phone;
  attach.mutable_attach()->set_session_id("AAAAAAAAAAAAAAAAAAAAAAAAAA");
  ASSERT_TRUE(stream->Write(attach));
  v1::SessionPush push;
  ASSERT_TRUE(stream->Read(&push));
  EXPECT_TRUE(push.evicted());
  EXPECT_EQ(push.device().device_id(), "Pgone");
  ctx.TryCancel();
}

TEST_F(SessionServiceTest, ConnectionLimitEvictsTheLongestIdleDeviceOverItsEdgeStream) {
  const auto a = device("Pa");
  const auto b = device("Pb");
  const auto c = device("Pc");
  v1::OpenResponse oa, ob, oc;
  ASSERT_TRUE(open(a, "edge-a", &oa).ok());
  std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(open(b, "edge-a", &ob).ok());

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  auto stream = edge_stream(ctx, "edge-a");
  ASSERT_TRUE(attach_on(*stream, a, oa));
  for (int i = 0; i < 100 && !store.registry.holder({a.user(), a.device_id()})->has_value(); ++i)
    std::this_thread::sleep_for(10ms);

  ASSERT_TRUE(open(c, "edge-b", &oc).ok());  // third connection, limit 2: Pa idles the longest
  v1::SessionPush push;
  ASSERT_TRUE(stream->Read(&push));
  EXPECT_TRUE(push.evicted());
  EXPECT_EQ(push.device().device_id(), "Pa");
  ctx.TryCancel();
}

TEST_F(SessionServiceTest, PreferencesRoundTripAndTellBadFromCannot) {
  const auto phone = device("Pphone");
  v1::SetPreferencesRequest set;
  *set.mutable_device() = phone;
  auto* p = set.add_prefs();
  p->set_name("PIMAP_OUTBAND_CHANNEL");
  p->set_value("SMS");
  ASSERT_TRUE(call(&v1::SessionService::Stub::SetPreferences, set).ok());

  p->set_value("MMS");
  EXPECT_EQ(call(&v1::SessionService::Stub::SetPreferences, set).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  p->set_value("TELEGRAPH");
  EXPECT_EQ(call(&v1::SessionService::Stub::SetPreferences, set).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext ctx;
  v1::GetPreferencesRequest get;
  *get.mutable_device() = phone;
  get.add_names("pimap_outband_channel");
  get.add_names("PIMAP_EVENT_FILTER");
  v1::Preferences prefs;
  ASSERT_TRUE(stub->GetPreferences(&ctx, get, &prefs).ok());
  ASSERT_EQ(prefs.prefs_size(), 2);
  EXPECT_EQ(prefs.prefs(0).name(), "PIMAP_OUTBAND_CHANNEL");
  EXPECT_EQ(prefs.prefs(0).value(), "SMS");
  EXPECT_EQ(prefs.prefs(1).value(), "ALL");
}

TEST_F(SessionServiceTest, RedisOutageIsUnavailableThenRecovers) {
  const auto phone = device("Pphone");
  redis_server().stop();
  v1::OpenResponse resp;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(open(phone, "edge-a", &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  redis_server().start();
  bool ok = false;
  for (int i = 0; i < 100 && !ok; ++i) {
    v1::OpenResponse r;
    ok = open(phone, "edge-a", &r).ok();
    if (!ok) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(ok);
  for (int i = 0; i < 500 && !hub.redis_ready(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(hub.redis_ready());  // the wake-up channel came back too
}

// --- the binary -----------------------------------------------------------------------------------

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(SessionBinary, ServesOpenAndExitsCleanlyOnSigterm) {
  const int grpc_port = free_port();
  const int admin_port = free_port();
  const std::string redis_flag = "--redis.address=" + redis_server().address();
  const std::string grpc_flag = "--grpc.listen=127.0.0.1:" + std::to_string(grpc_port);
  const std::string admin_flag = "--admin.listen=127.0.0.1:" + std::to_string(admin_port);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl(PIMAP_SESSION_BINARY, "pimap-session", redis_flag.c_str(), grpc_flag.c_str(), admin_flag.c_str(),
          "--log.level=warn", "--queue.max_events=3", static_cast<char*>(nullptr));
    _exit(127);
  }
  auto stub = v1::SessionService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port), grpc::InsecureChannelCredentials()));
  v1::OpenRequest req;
  req.mutable_device()->set_user("bin@example.test");
  req.mutable_device()->set_device_id("Pbin");
  req.set_edge_id("edge-x");
  grpc::Status st;
  v1::OpenResponse resp;
  for (int i = 0; i < 100; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    ctx.set_wait_for_ready(true);
    st = stub->Open(&ctx, req, &resp);
    if (st.ok()) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.session_id().size(), 26u);
  kill(pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(50ms);
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "pimap-session did not exit within 10 s of SIGTERM";
  }
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SessionBinary, BadConfigExitsWithCode2) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execl(PIMAP_SESSION_BINARY, "pimap-session", "--queue.max_events=0", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
