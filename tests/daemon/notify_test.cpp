// sd_notify as systemd sees it: a datagram socket named by NOTIFY_SOCKET receives READY=1,
// STATUS= and, with WatchdogSec= (WATCHDOG_USEC for our PID), WATCHDOG=1 at half the period.
#include "daemon/notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "support/fixture_tree.h"

namespace prefcpu::testing {
namespace {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, tree.path("notify").c_str(), sizeof(address.sun_path) - 1);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    ASSERT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    timeval timeout{0, 200'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  void TearDown() override { ::close(fd_); }
  std::string receive() {
    char buffer[512];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  }

  FixtureTree tree;
  int fd_ = -1;
};

TEST_F(NotifyTest, ReadyStatusAndWatchdogReachSystemd) {
  ScopedEnv socket("NOTIFY_SOCKET", tree.path("notify").string());
  ScopedEnv usec("WATCHDOG_USEC", "2000000");
  ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid()));
  Notifier notifier;
  ASSERT_TRUE(notifier.under_systemd());
  notifier.ready("enforce: preferred 0-3");
  EXPECT_EQ(receive(), "READY=1\nSTATUS=enforce: preferred 0-3");
  EXPECT_EQ(notifier.next_watchdog_ns(), 1'000'000'000) << "half of WatchdogSec after start";
  notifier.watchdog(500'000'000);
  EXPECT_EQ(receive(), "") << "not due yet";
  notifier.watchdog(1'000'000'000);
  EXPECT_EQ(receive(), "WATCHDOG=1");
  EXPECT_EQ(notifier.next_watchdog_ns(), 2'000'000'000);
  notifier.stopping();
  EXPECT_EQ(receive(), "STOPPING=1");
}

TEST_F(NotifyTest, OutsideSystemdNothingIsSent) {
  ::unsetenv("NOTIFY_SOCKET");
  Notifier notifier;
  EXPECT_FALSE(notifier.under_systemd());
  notifier.ready("x");
  notifier.watchdog(10'000'000'000);
  EXPECT_EQ(receive(), "");
  EXPECT_EQ(notifier.next_watchdog_ns(), INT64_MAX);
}

}  // namespace
}  // namespace prefcpu::testing
