// Talks to a running irqbalance through its control socket: finds it, sends one command per
// connection with root credentials, reads the reply until irqbalance closes.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.h"
#include "linux/irq/irqbalance_protocol.h"

namespace prefcpu {

struct IrqbalanceEndpoint {
  std::string address;  // the socket file, or "@" for irqbalance's abstract socket
  pid_t pid = 0;        // from the file name irqbalance<PID>.sock, or SO_PEERCRED
  // Identifies one irqbalance instance: a restart gives a new PID, hence a new id.
  std::string id() const { return address + "#" + std::to_string(pid); }
};

struct IrqbalanceClientOptions {
  std::filesystem::path run_dir = "/run/irqbalance";
  // irqbalance 1.9 binds an abstract socket (a sun_path of NUL bytes) when run_dir is missing.
  bool abstract_socket = true;
  int timeout_ms = 1000;
};

struct IrqbalanceFound {
  IrqbalanceEndpoint endpoint;
  IrqbalanceSetup setup;  // its answer to "setup", the probe that found it
};

class IrqbalanceClient {
 public:
  explicit IrqbalanceClient(IrqbalanceClientOptions options) : options_(std::move(options)) {}

  // A live irqbalance: socket files under run_dir, highest PID first (stale files of a killed
  // irqbalance refuse the connection), then the abstract socket. It is probed with "setup", a
  // harmless command (a silent connection would make irqbalance log a warning); one that does
  // not answer it (a non-root client gets an empty reply) is not usable. The error says what was
  // tried.
  Result<IrqbalanceFound> find() const;
  // Sends `command` and returns the reply ("" for settings commands).
  Result<std::string> request(const IrqbalanceEndpoint& endpoint, std::string_view command) const;

 private:
  IrqbalanceClientOptions options_;
};

}  // namespace prefcpu
