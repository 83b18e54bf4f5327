#include "daemon/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "protocol/protocol.h"

namespace prefcpu {

std::optional<std::string> ConnectionLimits::refuse(uid_t uid,
                                                    const std::vector<uid_t>& open_uids) {
  std::size_t same = 0;
  std::size_t users = 0;
  for (uid_t open : open_uids) {
    if (open == uid) ++same;
    if (open != 0) ++users;
  }
  if (uid == 0) {
    if (same < kRoot) return std::nullopt;
    return fmt::format("root already holds {} connections to prefcpud", same);
  }
  if (same >= kPerUid) {
    return fmt::format("uid {} already holds {} connections to prefcpud (at most {} per user)", uid,
                       same, kPerUid);
  }
  if (users >= kUsers) {
    return fmt::format("prefcpud serves at most {} connections of non-root users at once", kUsers);
  }
  return std::nullopt;
}

Result<std::unique_ptr<ControlServer>> ControlServer::listen(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof(address.sun_path)) {
    return make_error("control socket path {} is too long: at most {} bytes", path.string(),
                      sizeof(address.sun_path) - 1);
  }
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_errno_error(errno, "socket(AF_UNIX): {}", std::strerror(errno));
  ::unlink(path.c_str());  // a stale socket of an earlier run; the state dir lock makes us alone
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    int err = errno;
    ::close(fd);
    return make_errno_error(err, "binding control socket {}: {}", path.string(),
                            std::strerror(err));
  }
  // Anyone may read the status; changes are checked against SO_PEERCRED per request.
  if (::chmod(path.c_str(), 0666) != 0 || ::listen(fd, 16) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return make_errno_error(err, "listening on {}: {}", path.string(), std::strerror(err));
  }
  return std::unique_ptr<ControlServer>(new ControlServer(fd, path));
}

ControlServer::~ControlServer() {
  for (auto& client : clients_) ::close(client.fd);
  ::close(fd_);
  ::unlink(path_.c_str());
}

void ControlServer::add_poll_fds(std::vector<pollfd>& fds) const {
  fds.push_back({fd_, POLLIN, 0});
  for (const auto& client : clients_) {
    auto events = static_cast<short>(client.replied ? POLLOUT : POLLIN);
    fds.push_back({client.fd, events, 0});
  }
}

void ControlServer::accept_clients(std::int64_t now_ns) {
  while (true) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a client that left already
    ucred credentials{};
    socklen_t length = sizeof(credentials);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
      ::close(fd);
      continue;
    }
    std::vector<uid_t> open_uids;
    open_uids.reserve(clients_.size());
    for (const auto& client : clients_) open_uids.push_back(client.peer.uid);
    if (auto why = ConnectionLimits::refuse(credentials.uid, open_uids)) {
      // One try to say why; the socket is fresh, so the short line fits its buffer.
      std::string line =
          protocol::reply_line(protocol::error_reply({protocol::ErrorKind::kUnavailable, *why}));
      (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      continue;
    }
    Client client;
    client.fd = fd;
    client.peer = Peer{credentials.pid, credentials.uid, credentials.gid};
    client.deadline_ns = now_ns + ConnectionLimits::kClientTimeoutNs;
    clients_.push_back(std::move(client));
  }
}

bool ControlServer::flush(Client& client) {
  while (client.sent < client.output.size()) {
    ssize_t n = ::send(client.fd, client.output.data() + client.sent,
                       client.output.size() - client.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN;  // wait for POLLOUT; anything else: the client is gone
    }
    client.sent += static_cast<std::size_t>(n);
  }
  return false;  // all sent: close
}

bool ControlServer::read_request(Client& client, const RequestHandler& handler) {
  char buffer[4096];
  bool eof = false;
  while (true) {
    ssize_t n = ::recv(client.fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return false;
    }
    if (n == 0) {
      eof = true;  // the client half-closed: what we have is the whole request
      break;
    }
    client.input.append(buffer, static_cast<std::size_t>(n));
    if (client.input.size() > protocol::kMaxRequestBytes) break;
  }
  std::size_t newline = client.input.find('\n');
  if (newline == std::string::npos && eof) {
    if (client.input.empty()) return false;
    newline = client.input.size();
  }
  nlohmann::json reply;
  if (client.input.size() > protocol::kMaxRequestBytes) {
    reply = protocol::error_reply(
        {protocol::ErrorKind::kTooLong, "request is longer than 64 KiB: expected one JSON line"});
  } else if (newline == std::string::npos) {
    return true;  // wait for the rest of the line
  } else {
    auto request = nlohmann::json::parse(client.input.substr(0, newline), nullptr, false);
    if (request.is_discarded() || !request.is_object()) {
      reply = protocol::error_reply(
          {protocol::ErrorKind::kBadRequest,
           "request is not a JSON object: expected {\"cmd\": \"status\"} and a newline"});
    } else {
      reply = handler(request, client.peer);
    }
  }
  client.output = protocol::reply_line(reply);
  client.replied = true;
  return flush(client);
}

void ControlServer::handle(const std::vector<pollfd>& fds, std::int64_t now_ns,
                           const RequestHandler& handler) {
  std::vector<int> done;
  for (const auto& entry : fds) {
    if (entry.revents == 0) continue;
    if (entry.fd == fd_) continue;
    for (auto& client : clients_) {
      if (client.fd != entry.fd) continue;
      bool keep = client.replied ? flush(client) : read_request(client, handler);
      if (!keep || (entry.revents & (POLLERR | POLLNVAL)) != 0) done.push_back(client.fd);
    }
  }
  for (auto& client : clients_) {
    if (now_ns >= client.deadline_ns) done.push_back(client.fd);
  }
  std::erase_if(clients_, [&](const Client& client) {
    if (std::find(done.begin(), done.end(), client.fd) == done.end()) return false;
    ::close(client.fd);
    return true;
  });
  for (const auto& entry : fds) {
    if (entry.fd == fd_ && (entry.revents & POLLIN) != 0) accept_clients(now_ns);
  }
}

std::optional<std::int64_t> ControlServer::next_deadline_ns() const {
  std::optional<std::int64_t> earliest;
  for (const auto& client : clients_) {
    if (!earliest || client.deadline_ns < *earliest) earliest = client.deadline_ns;
  }
  return earliest;
}

}  // namespace prefcpu
