// A bare Unix-socket client for the control socket tests: connect, send one request, read to EOF.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace prefcpu::testing {

// A connected stream socket, or -1; blocking unless asked otherwise.
inline int connect_unix(const std::string& path, bool nonblocking = false) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `line`, half-closes, and returns everything the server answers; "" if it cannot connect.
// Safe in a forked child: no gtest, no allocation beyond the reply.
inline std::string unix_round_trip(const std::string& path, const std::string& line) {
  int fd = connect_unix(path);
  if (fd < 0) return "";
  (void)!::write(fd, line.data(), line.size());
  ::shutdown(fd, SHUT_WR);
  std::string reply;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) reply.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return reply;
}

}  // namespace prefcpu::testing
