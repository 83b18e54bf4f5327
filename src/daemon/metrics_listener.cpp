// The real metrics listener: prometheus-cpp's Exposer (civetweb) serving GET /metrics from its
// own threads, which read only the MetricsSnapshot. prefcpud creates it after blocking its
// signals, so those threads inherit the mask and SIGTERM still reaches the signalfd.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/exposer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/metrics.h"

namespace prefcpu {

namespace {

class ExposerListener final : public MetricsListener {
 public:
  ExposerListener(std::unique_ptr<prometheus::Exposer> exposer,
                  std::shared_ptr<MetricsSnapshot> snapshot)
      : exposer_(std::move(exposer)), snapshot_(std::move(snapshot)) {
    exposer_->RegisterCollectable(snapshot_);
  }
  std::uint16_t port() const override {
    auto ports = exposer_->GetListeningPorts();
    return ports.empty() ? 0 : static_cast<std::uint16_t>(ports.front());
  }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<MetricsSnapshot> snapshot_;
};

// civetweb reports any failed bind as "null context"; a trial bind first gets the kernel's reason.
Status try_bind(const MetricsAddress& address) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_errno_error(errno, "metrics: socket: {}", std::strerror(errno));
  int on = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as civetweb does
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(address.port);
  (void)::inet_pton(AF_INET, address.host.c_str(), &in.sin_addr);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&in), sizeof in);
  int err = errno;
  ::close(fd);
  if (bound == 0) return {};
  return make_errno_error(err, "metrics_listen {}: cannot bind: {}{}", address.text(),
                          std::strerror(err),
                          err == EADDRINUSE      ? " (another process listens there)"
                          : err == EADDRNOTAVAIL ? " (not an address of this machine)"
                          : err == EACCES        ? " (ports below 1024 need privilege)"
                                                 : "");
}

}  // namespace

Result<std::unique_ptr<MetricsListener>> listen_metrics(const MetricsAddress& address,
                                                        std::shared_ptr<MetricsSnapshot> snapshot) {
  if (auto status = try_bind(address); !status) return status.error();
  try {
    // A client that stalls mid-request is dropped after 5 s rather than holding a thread.
    std::vector<std::string> options = {"listening_ports",    address.text(), "num_threads", "2",
                                        "request_timeout_ms", "5000"};
    auto exposer = std::make_unique<prometheus::Exposer>(std::move(options));
    return std::unique_ptr<MetricsListener>(
        std::make_unique<ExposerListener>(std::move(exposer), std::move(snapshot)));
  } catch (const std::exception& error) {
    return make_error("metrics_listen {}: cannot listen: {}", address.text(), error.what());
  }
}

}  // namespace prefcpu
