// prefcpuctl status | set-preferred | set | history: talk to a running prefcpud over its control
// socket (protocol in src/protocol/protocol.h and docs/daemon.md).
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
#include "protocol/json_text.h"
#include "protocol/protocol.h"

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

// Sends one request line and reads the reply. A daemon that refuses a request may close before
// the whole request is sent (EPIPE, ECONNRESET); its reply, if any, is still read.
Result<std::string> call_daemon(const std::string& state_dir, const std::string& line) {
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
  int send_error = 0;
  for (std::size_t sent = 0; sent < line.size();) {
    ssize_t n = ::send(connection.fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      send_error = errno;
      break;
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
      if (!reply.empty() || send_error != 0) break;
      return make_errno_error(errno, "reading from {}: {}", path, std::strerror(errno));
    }
    if (n == 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  if (reply.empty() && send_error != 0) {
    return make_errno_error(send_error, "sending to {}: {}", path, std::strerror(send_error));
  }
  return reply;
}

// Runs one request; prints the error and returns the exit status when it fails.
int request(const std::string& state_dir, const protocol::Request& body, nlohmann::json& reply) {
  auto line = protocol::encode_request(body);
  if (const auto* error = std::get_if<protocol::ProtocolError>(&line)) {
    std::cerr << "prefcpuctl: " << error->message << "\n";
    return kExitBadInput;
  }
  auto text = call_daemon(state_dir, std::get<std::string>(line));
  if (!text) {
    std::cerr << "prefcpuctl: " << text.error().message << "\n";
    return kExitFailure;
  }
  auto decoded = protocol::decode_reply(*text);
  if (const auto* error = std::get_if<protocol::ProtocolError>(&decoded)) {
    std::cerr << "prefcpuctl: " << error->message << "\n";
    return protocol::is_bad_input(error->kind) ? kExitBadInput : kExitFailure;
  }
  reply = std::move(std::get<nlohmann::json>(decoded));
  return 0;
}

// A reply body the daemon sent with ok: true but in a shape this prefcpuctl does not know.
// Points into `outcome`, which must outlive the pointer.
template <typename T>
const T* typed(const protocol::Outcome<T>& outcome, int* exit_code) {
  if (const auto* error = std::get_if<protocol::ProtocolError>(&outcome)) {
    std::cerr << "prefcpuctl: " << error->message << "\n";
    *exit_code = kExitFailure;
    return nullptr;
  }
  return &std::get<T>(outcome);
}

}  // namespace

Result<nlohmann::json> ask_daemon(const std::string& state_dir, const protocol::Request& request) {
  auto line = protocol::encode_request(request);
  if (const auto* error = std::get_if<protocol::ProtocolError>(&line)) {
    return make_error("{}", error->message);
  }
  auto text = call_daemon(state_dir, std::get<std::string>(line));
  if (!text) return text.error();
  auto decoded = protocol::decode_reply(*text);
  if (const auto* error = std::get_if<protocol::ProtocolError>(&decoded)) {
    return make_error("{}", error->message);
  }
  return std::get<nlohmann::json>(std::move(decoded));
}

void add_daemon_commands(CLI::App& app, std::string* state_dir, int* exit_code) {
  struct Args {
    std::string* state_dir = nullptr;  // main's: --state-dir before or after the subcommand
    bool json = false;
    bool automatic = false;
    std::string cpus;
    std::string knob;
    std::string value;
    std::size_t count = 0;
  };
  auto args = std::make_shared<Args>();
  args->state_dir = state_dir;
  auto add_state_dir = [&](CLI::App* command) {
    command->add_option("--state-dir", *args->state_dir, "prefcpud's state directory")
        ->capture_default_str();
  };

  auto* status = app.add_subcommand("status", "Show what prefcpud is doing");
  add_state_dir(status);
  status->add_flag("--json", args->json, "Print status.json as the daemon reports it");
  status->callback([args, exit_code] {
    nlohmann::json reply;
    if ((*exit_code = request(*args->state_dir, protocol::StatusRequest{}, reply)) != 0) return;
    if (args->json) {
      std::cout << json_text(reply[protocol::key::kStatus], 2) << "\n";
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
    protocol::SetPreferredRequest body;
    if (!args->automatic) body.cpus = args->cpus;
    nlohmann::json reply;
    if ((*exit_code = request(*args->state_dir, body, reply)) != 0) return;
    auto decoded = protocol::decode_set_preferred_reply(reply);
    const auto* mask = typed(decoded, exit_code);
    if (mask == nullptr) return;
    std::cout << "preferred " << mask->preferred
              << (mask->automatic ? " (automatic)" : " (custom; monitor off)") << "\n";
  });

  auto* set =
      app.add_subcommand("set", "Change a knob at run time: " + knob_names() + ", or governor");
  add_state_dir(set);
  set->add_option("KNOB", args->knob, knob_names() + ", or governor")->required();
  set->add_option("VALUE", args->value, "the new value")->required();
  set->callback([args, exit_code] {
    nlohmann::json reply;
    protocol::SetKnobRequest body{args->knob, args->value};
    if ((*exit_code = request(*args->state_dir, body, reply)) != 0) return;
    auto decoded = protocol::decode_set_knob_reply(reply);
    const auto* knobs = typed(decoded, exit_code);
    if (knobs == nullptr) return;
    std::cout << "governor " << knobs->governor;
    for (const auto& knob : kKnobTable) {
      std::cout << ", " << knob.name << " " << knobs->knobs.*(knob.field);
    }
    std::cout << ", " << kNumaKnob << " " << numa_mode_name(knobs->knobs.numa);
    std::cout << "\n";
  });

  auto* history = app.add_subcommand("history", "The last samples and decisions");
  add_state_dir(history);
  history->add_flag("--json", args->json, "Print the entries as JSON");
  history->add_option("-n,--count", args->count, "Only the newest N entries");
  history->callback([args, exit_code] {
    nlohmann::json reply;
    if ((*exit_code = request(*args->state_dir, protocol::HistoryRequest{args->count}, reply)) !=
        0) {
      return;
    }
    if (args->json) {
      std::cout << json_text(reply[protocol::key::kHistory], 2) << "\n";
    } else {
      std::cout << format_history(reply);
    }
  });
}

}  // namespace prefcpu
