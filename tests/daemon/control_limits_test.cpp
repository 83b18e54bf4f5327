// The control socket is bounded: per-user connection limits, idle clients dropped on time, and
// root always served. Issue 12: 40 idle connections renewed every 4 s by a non-root user locked
// root out, and idle clients were dropped only when another request arrived.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "daemon/loop.h"
#include "daemon_fixture.h"
#include "protocol/protocol.h"
#include "support/unix_client.h"

namespace prefcpu::testing {
namespace {

TEST(ConnectionLimits, OneUserIsBoundedAndRootHasSlotsOfItsOwn) {
  std::vector<uid_t> open;
  for (std::size_t i = 0; i < ConnectionLimits::kPerUid; ++i) {
    EXPECT_FALSE(ConnectionLimits::refuse(1000, open).has_value());
    open.push_back(1000);
  }
  auto refused = ConnectionLimits::refuse(1000, open);
  ASSERT_TRUE(refused.has_value());
  EXPECT_NE(refused->find("uid 1000 already holds 8 connections"), std::string::npos) << *refused;
  EXPECT_FALSE(ConnectionLimits::refuse(1001, open).has_value()) << "another user is served";
  // Every non-root slot taken, by many users: root still gets in.
  open.clear();
  for (uid_t uid = 1000; open.size() < ConnectionLimits::kUsers; ++uid) {
    for (int i = 0; i < 4; ++i) open.push_back(uid);
  }
  EXPECT_TRUE(ConnectionLimits::refuse(5000, open).has_value());
  EXPECT_FALSE(ConnectionLimits::refuse(0, open).has_value());
  open.insert(open.end(), ConnectionLimits::kRoot, 0);
  EXPECT_TRUE(ConnectionLimits::refuse(0, open).has_value()) << "root too is bounded";
}

class ControlLimitsTest : public DaemonTest {
 protected:
  void SetUp() override {
    fake.make_cgroup("work", "0-3");
    d = start();
    auto listening = ControlServer::listen(socket_path());
    ASSERT_TRUE(listening.ok()) << listening.error().message;
    server = std::move(*listening);
    loop = std::make_unique<EventLoop>(*d, clock, notifier, server.get());
  }
  void TearDown() override {
    if (d) {
      EXPECT_TRUE(d->stop().ok());
    }
  }
  std::string socket_path() const { return (tree.path("state") / protocol::kSocketName).string(); }

  std::unique_ptr<Daemon> d;
  std::unique_ptr<ControlServer> server;
  Notifier notifier;
  std::unique_ptr<EventLoop> loop;
};

TEST_F(ControlLimitsTest, AnIdleClientIsDroppedOnTimeWithNothingElseHappening) {
  int fd = connect_unix(socket_path(), false);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 50 && server->clients() == 0; ++i) loop->step(10'000'000);
  ASSERT_EQ(server->clients(), 1U);
  ASSERT_TRUE(server->next_deadline_ns().has_value());
  EXPECT_EQ(*server->next_deadline_ns() - clock.monotonic_ns(), ConnectionLimits::kClientTimeoutNs);
  clock.advance(ConnectionLimits::kClientTimeoutNs - 1'000'000);
  loop->step(0);
  EXPECT_EQ(server->clients(), 1U) << "not before its 5 s";
  clock.advance(2'000'000);
  loop->step(0);  // a poll that times out, with no request anywhere
  EXPECT_EQ(server->clients(), 0U);
  char byte = 0;
  EXPECT_EQ(::read(fd, &byte, 1), 0) << "the daemon closed it";
  ::close(fd);
}

TEST_F(ControlLimitsTest, FortyIdleConnectionsOfAUserDoNotLockRootOut) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to setuid() the flooding client to nobody";
  std::filesystem::permissions(tree.root(), std::filesystem::perms(0755));
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t flooder = ::fork();
  if (flooder == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    int opened = 0;
    for (int i = 0; i < 40; ++i) {
      if (connect_unix(socket_path(), false) >= 0) ++opened;  // kept open, idle
    }
    (void)!::write(ready[1], &opened, sizeof opened);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  ::fcntl(ready[0], F_SETFL, O_NONBLOCK);
  int opened = -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (::read(ready[0], &opened, sizeof opened) != sizeof opened &&
         std::chrono::steady_clock::now() < deadline) {
    loop->step(10'000'000);
  }
  ::close(ready[0]);
  EXPECT_EQ(opened, 40);
  for (int i = 0; i < 20; ++i) loop->step(1'000'000);
  EXPECT_EQ(server->clients(), ConnectionLimits::kPerUid) << "the rest were refused at once";

  std::string reply;
  std::atomic<bool> done{false};
  std::thread root([&] {
    reply = unix_round_trip(socket_path(), R"({"cmd":"status"})"
                                           "\n");
    done = true;
  });
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done && std::chrono::steady_clock::now() < deadline) loop->step(10'000'000);
  root.join();
  ::kill(flooder, SIGKILL);
  ::waitpid(flooder, nullptr, 0);
  auto decoded = nlohmann::json::parse(reply, nullptr, false);
  ASSERT_FALSE(decoded.is_discarded()) << "root got: \"" << reply << "\"";
  EXPECT_EQ(decoded["ok"], true);
}

}  // namespace
}  // namespace prefcpu::testing
