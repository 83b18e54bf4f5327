#include "fake_irqbalance.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace prefcpu::testing {

FakeIrqbalance::FakeIrqbalance(const std::filesystem::path& run_dir, int pid, CpuSet own_banned)
    : path_(run_dir / ("irqbalance" + std::to_string(pid) + ".sock")),
      own_banned_(own_banned),
      banned_(own_banned) {
  std::filesystem::create_directories(run_dir);
  std::filesystem::remove(path_);
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
  int on = 1;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::setsockopt(listen_fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0 ||
      ::listen(listen_fd_, 1) != 0) {
    throw std::runtime_error("fake irqbalance cannot listen on " + path_.string());
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread([this] { serve(); });
}

FakeIrqbalance::~FakeIrqbalance() {
  kill();
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

void FakeIrqbalance::kill() {
  if (!thread_.joinable()) return;
  std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_fd_);
}

void FakeIrqbalance::scan() {
  std::lock_guard lock(mutex_);
  if (pending_) banned_ = *pending_;
  pending_.reset();
}

CpuSet FakeIrqbalance::banned() const {
  std::lock_guard lock(mutex_);
  return banned_;
}

std::vector<std::string> FakeIrqbalance::commands() const {
  std::lock_guard lock(mutex_);
  return commands_;
}

void FakeIrqbalance::serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if ((fds[1].revents & POLLIN) != 0) return;
    int connection = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    handle(connection);
    ::close(connection);
  }
}

void FakeIrqbalance::handle(int connection) {
  char buffer[500];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  iovec iov{buffer, sizeof buffer};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t size = ::recvmsg(connection, &message, 0);
  if (size <= 0) return;
  // Like irqbalance: only a sender whose credentials say root (here: our own uid) is served.
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (header == nullptr || header->cmsg_type != SCM_CREDENTIALS) return;
  ucred credentials{};
  std::memcpy(&credentials, CMSG_DATA(header), sizeof credentials);
  if (credentials.uid != ::geteuid() || refuse_) return;
  std::string command(buffer, static_cast<std::size_t>(size));
  std::lock_guard lock(mutex_);
  commands_.push_back(command);
  if (command.starts_with("setup")) {
    std::string reply = "SLEEP 10 BANNED " + format_cpumask_hex(banned_, 32);
    (void)!::send(connection, reply.data(), reply.size(), MSG_NOSIGNAL);
  } else if (command.starts_with("settings cpus ")) {
    std::string list = command.substr(14);
    if (list.starts_with("NULL")) {
      pending_ = own_banned_;
    } else if (auto parsed = parse_cpulist(list)) {
      pending_ = *parsed;
    }
  }
}

}  // namespace prefcpu::testing
