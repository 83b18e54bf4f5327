// prefcpuctl status | set-preferred | set | history: talk to a running prefcpud over its control
// socket (protocol in src/daemon/protocol.h and docs/daemon.md).
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"
#include "ctl/commands.h"
#include "ctl/status_view.h"
#include "daemon/protocol.h"

namespace prefcpu {

namespace {

struct Connection {
  explicit Connection(int socket_fd) : fd(socket_fd) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (fd >= 0) ::close(fd);
  }
  int fd;
};

}  // namespace

Result<nlohmann::json> call_daemon(const std::string& state_dir, const nlohmann::json& request) {
  std::string path = state_dir + "/" + std::string(protocol::kSocketName);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return make_error("socket path {} is too long", path);
  }
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  Connection connection(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connection.fd < 0) return make_errno_error(errno, "socket: {}", std::strerror(errno));
  timeval timeout{5, 0};  // a daemon that stopped answering must not hang the shell
  ::setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(connection.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::connect(connection.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    int err = errno;
    return make_errno_error(err,
                            "prefcpud is not running with state directory {} (connecting "
                            "to {}: {})",
                            state_dir, path, std::strerror(err));
  }
  std::string line = request.dump() + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    ssize_t n = ::send(connection.fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_errno_error(errno, "sending to {}: {}", path, std::strerror(errno));
    }
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(connection.fd, SHUT_WR);
  std::string reply;
  char buffer[8192];
  while (true) {
    ssize_t n = ::recv(connection.fd, buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_errno_error(errno, "reading from {}: {}", path, std::strerror(errno));
    }
    if (n == 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  auto parsed = nlohmann::json::parse(reply, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return make_error("prefcpud sent a reply that is not JSON: \"{}\"", reply.substr(0, 200));
  }
  return parsed;
}

namespace {

// Runs one request; prints the error and returns the exit status when it fails.
int request(const std::string& state_dir, const nlohmann::json& body, nlohmann::json& reply) {
  auto result = call_daemon(state_dir, body);
  if (!result) {
    std::cerr << "prefcpuctl: " << result.error().message << "\n";
    return kExitFailure;
  }
  reply = std::move(*result);
  if (reply.value("ok", false)) return 0;
  std::cerr << "prefcpuctl: " << reply.value("error", std::string("request failed")) << "\n";
  return reply.value("code", std::string()) == protocol::kInvalid ? kExitBadInput : kExitFailure;
}

}  // namespace

void add_daemon_commands(CLI::App& app, int* exit_code) {
  struct Args {
    std::string state_dir = "/run/prefcpu";
    bool json = false;
    bool automatic = false;
    std::string cpus;
    std::string knob;
    std::string value;
    std::size_t count = 0;
  };
  auto args = std::make_shared<Args>();
  auto add_state_dir = [&](CLI::App* command) {
    command->add_option("--state-dir", args->state_dir, "prefcpud's state directory")
        ->capture_default_str();
  };

  auto* status = app.add_subcommand("status", "Show what prefcpud is doing");
  add_state_dir(status);
  status->add_flag("--json", args->json, "Print status.json as the daemon reports it");
  status->callback([args, exit_code] {
    nlohmann::json reply;
    if ((*exit_code = request(args->state_dir, {{"cmd", "status"}}, reply)) != 0) return;
    if (args->json) {
      std::cout << reply["status"].dump(2) << "\n";
    } else {
      std::cout << format_status(reply["status"]);
    }
  });

  auto* set_preferred = app.add_subcommand(
      "set-preferred", "Set a custom preferred mask (turns the monitor off), or --auto");
  add_state_dir(set_preferred);
  set_preferred->add_option("LIST", args->cpus, "cpulist, e.g. 0-3; a subset of online");
  set_preferred->add_flag("--auto", args->automatic, "Back to the automatic monitor");
  set_preferred->callback([args, exit_code] {
    if (args->automatic == !args->cpus.empty()) {
      std::cerr << "prefcpuctl set-preferred: give either a cpulist such as 0-3 or --auto\n";
      *exit_code = kExitBadInput;
      return;
    }
    nlohmann::json body = {{"cmd", "set-preferred"}};
    if (args->automatic) {
      body["auto"] = true;
    } else {
      body["cpus"] = args->cpus;
    }
    nlohmann::json reply;
    if ((*exit_code = request(args->state_dir, body, reply)) != 0) return;
    std::cout << "preferred " << text(reply["preferred"])
              << (reply.value("automatic", true) ? " (automatic)" : " (custom; monitor off)")
              << "\n";
  });

  auto* set = app.add_subcommand(
      "set", "Change a knob at run time: interval_ms, high_threshold, low_threshold, governor");
  add_state_dir(set);
  set->add_option("KNOB", args->knob, "interval_ms, high_threshold, low_threshold or governor")
      ->required();
  set->add_option("VALUE", args->value, "the new value")->required();
  set->callback([args, exit_code] {
    nlohmann::json reply;
    nlohmann::json body = {{"cmd", "set"}, {"knob", args->knob}, {"value", args->value}};
    if ((*exit_code = request(args->state_dir, body, reply)) != 0) return;
    const auto& knobs = reply["knobs"];
    std::cout << "governor " << text(reply["governor"]) << ", interval_ms "
              << text(knobs["interval_ms"]) << ", high_threshold " << text(knobs["high_threshold"])
              << ", low_threshold " << text(knobs["low_threshold"]) << "\n";
  });

  auto* history = app.add_subcommand("history", "The last samples and decisions");
  add_state_dir(history);
  history->add_flag("--json", args->json, "Print the entries as JSON");
  history->add_option("-n,--count", args->count, "Only the newest N entries");
  history->callback([args, exit_code] {
    nlohmann::json reply;
    nlohmann::json body = {{"cmd", "history"}, {"count", args->count}};
    if ((*exit_code = request(args->state_dir, body, reply)) != 0) return;
    if (args->json) {
      std::cout << reply["history"].dump(2) << "\n";
    } else {
      std::cout << format_history(reply);
    }
  });
}

}  // namespace prefcpu
