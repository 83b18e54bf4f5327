// The control socket: a Unix stream socket that anyone may connect to. Each connection carries
// one JSON request line and gets one JSON reply line; the peer's credentials (SO_PEERCRED) go
// with the request so the daemon can refuse changes from anyone but root. Connections are
// bounded per uid and in total, idle ones are dropped after kClientTimeoutNs, and root has
// slots of its own, so no user can lock root out.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace prefcpu {

struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

using RequestHandler = std::function<nlohmann::json(const nlohmann::json& request, const Peer&)>;

// Who may hold a connection. Pure, so the rules are tested without sockets.
struct ConnectionLimits {
  static constexpr std::size_t kPerUid = 8;  // one user's connections (root excepted)
  static constexpr std::size_t kUsers = 32;  // every non-root user's together
  static constexpr std::size_t kRoot = 32;   // root's, counted apart
  static constexpr std::int64_t kClientTimeoutNs = 5'000'000'000;

  // Empty when a client of `uid` may connect while `open_uids` hold connections; otherwise why not.
  static std::optional<std::string> refuse(uid_t uid, const std::vector<uid_t>& open_uids);
};

class ControlServer {
 public:
  // Replaces a stale socket file; the socket is mode 0666 (permission is checked per request).
  static Result<std::unique_ptr<ControlServer>> listen(const std::filesystem::path& path);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Appends the listening socket and every client to fds.
  void add_poll_fds(std::vector<pollfd>& fds) const;
  // Handles whatever poll reported for the fds this server added (none on a poll timeout);
  // drops clients idle past their deadline. now_ns is CLOCK_MONOTONIC.
  void handle(const std::vector<pollfd>& fds, std::int64_t now_ns, const RequestHandler& handler);
  // The earliest client deadline: the event loop wakes up for it.
  std::optional<std::int64_t> next_deadline_ns() const;
  std::size_t clients() const { return clients_.size(); }

 private:
  struct Client {
    int fd = -1;
    Peer peer;
    std::string input;
    std::string output;
    std::size_t sent = 0;
    std::int64_t deadline_ns = 0;
    bool replied = false;
  };

  ControlServer(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  void accept_clients(std::int64_t now_ns);
  // False when the client is done (replied and flushed, or broken).
  bool read_request(Client& client, const RequestHandler& handler);
  bool flush(Client& client);

  int fd_;
  std::filesystem::path path_;
  std::vector<Client> clients_;
};

}  // namespace prefcpu
