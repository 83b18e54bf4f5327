#include "linux/irq/irqbalance_client.h"

#include <fmt/ranges.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>
#include <vector>

namespace prefcpu {

namespace {

constexpr std::size_t kMaxReply = std::size_t{1} << 20;

class Socket {
 public:
  Socket() : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Error socket_error(int err, std::string_view verb, std::string_view address) {
  return make_errno_error(err, "irqbalance socket {}: {}: {}", address, verb, std::strerror(err));
}

// The address irqbalance binds: a path, or (address "@") a sun_path of NUL bytes bound with the
// full sizeof(sockaddr_un), as irqbalance 1.9 init_socket() does.
Result<std::pair<sockaddr_un, socklen_t>> socket_address(const std::string& address) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (address == "@") return std::pair{addr, static_cast<socklen_t>(sizeof addr)};
  if (address.size() >= sizeof addr.sun_path) {
    return make_error("irqbalance socket path {} is longer than {} bytes", address,
                      sizeof addr.sun_path - 1);
  }
  std::memcpy(addr.sun_path, address.c_str(), address.size() + 1);
  return std::pair{addr, static_cast<socklen_t>(sizeof addr)};
}

// Sends one command. With expected_pid, refuses (before sending) a peer with another PID.
Result<std::string> exchange(const std::string& address, std::string_view command, int timeout_ms,
                             pid_t* peer_pid, pid_t expected_pid = 0) {
  auto addr = socket_address(address);
  if (!addr) return addr.error();
  Socket sock;
  if (sock.get() < 0) return socket_error(errno, "socket", address);
  timeval timeout{timeout_ms / 1000, static_cast<suseconds_t>(timeout_ms % 1000) * 1000};
  (void)::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  (void)::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  int rc = 0;
  do {
    rc = ::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr->first), addr->second);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return socket_error(errno, "connect", address);
  if (peer_pid != nullptr) {
    ucred peer{};
    socklen_t length = sizeof peer;
    if (::getsockopt(sock.get(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
      return socket_error(errno, "SO_PEERCRED", address);
    }
    *peer_pid = peer.pid;
    if (expected_pid != 0 && peer.pid != expected_pid) {
      return make_errno_error(ESRCH, "irqbalance socket {}: now served by PID {}, not {}", address,
                              peer.pid, expected_pid);
    }
  }
  // irqbalance accepts a command only with SCM_CREDENTIALS of uid 0 attached.
  ucred credentials{::getpid(), ::geteuid(), ::getegid()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))] = {};
  std::string payload(command);
  iovec iov{payload.data(), payload.size()};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_CREDENTIALS;
  header->cmsg_len = CMSG_LEN(sizeof(ucred));
  std::memcpy(CMSG_DATA(header), &credentials, sizeof credentials);
  ssize_t sent = 0;
  do {
    sent = ::sendmsg(sock.get(), &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return socket_error(errno, "send", address);
  if (static_cast<std::size_t>(sent) != payload.size()) {
    return make_errno_error(EIO, "irqbalance socket {}: short send of \"{}\"", address, command);
  }
  (void)::shutdown(sock.get(), SHUT_WR);
  std::string reply;
  char buffer[4096];
  while (reply.size() < kMaxReply) {
    ssize_t n = ::recv(sock.get(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno == EAGAIN ? ETIMEDOUT : errno;
      return socket_error(err, fmt::format("reading the reply to \"{}\"", command), address);
    }
    if (n == 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  return reply;
}

// PIDs of irqbalance<PID>.sock files under run_dir, highest first.
std::vector<pid_t> socket_file_pids(const std::filesystem::path& run_dir) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir, ec)) {
    std::string name = entry.path().filename().string();
    std::string_view view = name;
    if (!view.starts_with("irqbalance") || !view.ends_with(".sock")) continue;
    view = view.substr(10, view.size() - 15);
    pid_t pid = 0;
    auto [end, parse_ec] = std::from_chars(view.data(), view.data() + view.size(), pid);
    if (parse_ec == std::errc() && end == view.data() + view.size() && pid > 0) {
      pids.push_back(pid);
    }
  }
  std::sort(pids.rbegin(), pids.rend());
  return pids;
}

}  // namespace

Result<IrqbalanceFound> IrqbalanceClient::find() const {
  std::vector<std::string> tried;
  for (pid_t pid : socket_file_pids(options_.run_dir)) {
    IrqbalanceEndpoint endpoint{(options_.run_dir / fmt::format("irqbalance{}.sock", pid)).string(),
                                pid};
    auto reply = exchange(endpoint.address, "setup", options_.timeout_ms, nullptr);
    auto setup = reply ? parse_irqbalance_setup(*reply) : Result<IrqbalanceSetup>(reply.error());
    if (setup) return IrqbalanceFound{std::move(endpoint), std::move(*setup)};
    tried.push_back(setup.error().message);
  }
  if (options_.abstract_socket) {
    IrqbalanceEndpoint endpoint{"@", 0};
    auto reply = exchange(endpoint.address, "setup", options_.timeout_ms, &endpoint.pid);
    auto setup = reply ? parse_irqbalance_setup(*reply) : Result<IrqbalanceSetup>(reply.error());
    if (setup) return IrqbalanceFound{std::move(endpoint), std::move(*setup)};
    tried.push_back(setup.error().message);
  }
  if (tried.empty()) {
    return make_error("no irqbalance socket: {} holds no irqbalance<PID>.sock{}",
                      options_.run_dir.string(),
                      options_.abstract_socket ? "" : " and the abstract socket is not searched");
  }
  return make_error("no live irqbalance: {}", fmt::join(tried, "; "));
}

Result<std::string> IrqbalanceClient::request(const IrqbalanceEndpoint& endpoint,
                                              std::string_view command) const {
  // The abstract name outlives an instance: make sure the same irqbalance still answers.
  pid_t peer = 0;
  bool abstract = endpoint.address == "@";
  return exchange(endpoint.address, command, options_.timeout_ms, abstract ? &peer : nullptr,
                  abstract ? endpoint.pid : 0);
}

}  // namespace prefcpu
