// prefcpud's Prometheus metrics (docs/metrics.md). They are derived from the status the daemon
// publishes, its one source of state, and go to an opt-in HTTP listener (pull) and/or a
// node_exporter textfile. Nothing here counts anything itself.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "daemon/metrics_address.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

// The metric families for one status object (status.json, documented in docs/daemon.md).
// Fields missing from it leave their metric out; it never throws on odd input.
std::vector<prometheus::MetricFamily> metrics_from_status(const nlohmann::json& status);
// The Prometheus text exposition format, as served and as node_exporter reads from a textfile.
std::string format_metrics(const std::vector<prometheus::MetricFamily>& families);

// The families last published, read by the listener's threads at scrape time.
class MetricsSnapshot final : public prometheus::Collectable {
 public:
  void update(std::vector<prometheus::MetricFamily> families);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mutex_;
  std::vector<prometheus::MetricFamily> families_;
};

// The seam to the HTTP listener, so unit tests need no socket.
class MetricsListener {
 public:
  virtual ~MetricsListener() = default;
  // The bound port: the one asked for, or the kernel's pick for port 0.
  virtual std::uint16_t port() const = 0;
};
using MetricsListen = std::function<Result<std::unique_ptr<MetricsListener>>(
    const MetricsAddress&, std::shared_ptr<MetricsSnapshot>)>;
// The real listener: prometheus-cpp's Exposer serving /metrics from its own threads. An address
// that cannot be bound is an error with the kernel's reason (in use, not local, privileged).
Result<std::unique_ptr<MetricsListener>> listen_metrics(const MetricsAddress& address,
                                                        std::shared_ptr<MetricsSnapshot> snapshot);

// Where the daemon's published status goes as metrics. Off (and free) unless configured.
class Metrics {
 public:
  // A textfile changes only on a mask change or after this long, to keep the steady state cheap.
  static constexpr std::int64_t kTextfileRefreshNs = 10'000'000'000;

  // Binds `listen` (when not empty) and remembers `textfile` (when not empty).
  Status start(KernelFs& fs, const std::string& listen, const std::string& textfile,
               const MetricsListen& make_listener);
  bool enabled() const { return listener_ != nullptr || !textfile_.empty(); }
  std::optional<std::uint16_t> port() const;
  // The status the daemon just published; `changed`: the mask changed. Returns a line worth
  // logging once: a textfile error not seen before, or that writing it works again.
  std::optional<std::string> publish(const nlohmann::json& status, bool changed,
                                     std::int64_t now_ns);

 private:
  KernelFs* fs_ = nullptr;
  std::filesystem::path textfile_;
  std::shared_ptr<MetricsSnapshot> snapshot_ = std::make_shared<MetricsSnapshot>();
  std::unique_ptr<MetricsListener> listener_;
  std::optional<std::int64_t> textfile_written_ns_;
  std::string textfile_error_;
};

}  // namespace prefcpu
