// The control socket end to end: JSON lines over a real Unix socket, SO_PEERCRED checked.
// A forked child that setuid()s to nobody may read the status but not change anything.
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "daemon/loop.h"
#include "daemon/protocol.h"
#include "daemon_fixture.h"
#include "support/unix_client.h"

namespace prefcpu::testing {
namespace {

class ControlSocketTest : public DaemonTest {
 protected:
  // Forks a client running as uid; serves it until it exits; returns its exit status.
  int serve_child(uid_t uid, const std::function<bool(const std::string&)>& client) {
    auto socket_path = (tree.path("state") / protocol::kSocketName).string();
    pid_t pid = ::fork();
    if (pid == 0) {
      if (uid != 0 && (::setgid(uid) != 0 || ::setuid(uid) != 0)) ::_exit(3);
      ::_exit(client(socket_path) ? 0 : 1);
    }
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -1;
      }
      loop->step(10'000'000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to setuid() a client to nobody";
    std::filesystem::permissions(tree.root(), std::filesystem::perms(0755));
    d = start();
    auto listening = ControlServer::listen(tree.path("state") / protocol::kSocketName);
    ASSERT_TRUE(listening.ok()) << listening.error().message;
    server = std::move(*listening);
    loop = std::make_unique<EventLoop>(*d, clock, notifier, server.get());
  }
  void TearDown() override {
    if (d) {
      EXPECT_TRUE(d->stop().ok());
    }
  }

  std::unique_ptr<Daemon> d;
  std::unique_ptr<ControlServer> server;
  Notifier notifier;
  std::unique_ptr<EventLoop> loop;
};

TEST_F(ControlSocketTest, NobodyMayReadTheStatus) {
  int status = serve_child(65534, [](const std::string& path) {
    auto reply = nlohmann::json::parse(unix_round_trip(path, R"({"cmd":"status"})"
                                                             "\n"),
                                       nullptr, false);
    return !reply.is_discarded() && reply["ok"] == true && reply["status"]["mode"] == "enforce";
  });
  EXPECT_EQ(status, 0);
}

TEST_F(ControlSocketTest, NobodyIsRefusedAChange) {
  int status = serve_child(65534, [](const std::string& path) {
    auto reply = nlohmann::json::parse(
        unix_round_trip(path, R"({"cmd":"set","knob":"interval_ms","value":"200"})"
                              "\n"),
        nullptr, false);
    return !reply.is_discarded() && reply["ok"] == false && reply["code"] == "denied" &&
           reply["error"].get<std::string>().find("uid is 65534") != std::string::npos;
  });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(d->monitor().knobs().interval_ms, 1000U);
}

TEST_F(ControlSocketTest, RootMayChangeAndGarbageIsAnswered) {
  int status = serve_child(0, [](const std::string& path) {
    auto set = nlohmann::json::parse(
        unix_round_trip(path, R"({"cmd":"set","knob":"interval_ms","value":"200"})"
                              "\n"),
        nullptr, false);
    auto garbage = nlohmann::json::parse(unix_round_trip(path, "hello\n"), nullptr, false);
    // No newline: the half-close ends the request.
    auto bare = nlohmann::json::parse(unix_round_trip(path, R"({"cmd":"status"})"), nullptr, false);
    return set["ok"] == true && garbage["code"] == "invalid" && bare["ok"] == true;
  });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(d->monitor().knobs().interval_ms, 200U);
  EXPECT_EQ(server->clients(), 0U);
}

}  // namespace
}  // namespace prefcpu::testing
