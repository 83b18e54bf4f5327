#include "daemon/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "core/cpu_set.h"

namespace prefcpu {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// A field of an object, or nullptr when `object` is not one or lacks it.
const nlohmann::json* field(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<double> number(const nlohmann::json& object, const char* key) {
  const auto* value = field(object, key);
  if (value == nullptr || !value->is_number()) return std::nullopt;
  return value->get<double>();
}

std::string string_or(const nlohmann::json& object, const char* key, const char* fallback) {
  const auto* value = field(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : fallback;
}

std::optional<CpuSet> cpus(const nlohmann::json& status, const char* key) {
  const auto* value = field(status, key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  auto parsed = parse_cpulist(value->get<std::string>());
  if (!parsed) return std::nullopt;
  return *parsed;
}

ClientMetric sample(MetricType type, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return metric;
}

class Families {
 public:
  void add(std::string name, std::string help, MetricType type, std::optional<double> value) {
    if (value) add(std::move(name), std::move(help), type, {sample(type, *value)});
  }
  void add(std::string name, std::string help, MetricType type, std::vector<ClientMetric> metrics) {
    if (metrics.empty()) return;
    families_.push_back({std::move(name), std::move(help), type, std::move(metrics)});
  }
  std::vector<MetricFamily> take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
};

// IRQs prefcpu knows it leaves on non-preferred CPUs: pins it honours, writes refused for now,
// and kernel-managed IRQs it cannot move. None while every online CPU is preferred.
std::optional<double> irqs_on_non_preferred(const nlohmann::json& status) {
  const auto* irqs = field(status, "actuators");
  irqs = irqs != nullptr ? field(*irqs, "irqs") : nullptr;
  if (irqs == nullptr) return std::nullopt;
  auto preferred = cpus(status, "preferred");
  auto online = cpus(status, "online");
  if (preferred && online && *preferred == *online) return 0.0;
  double total = 0;
  for (const char* key : {"irqs_pinned", "irqs_pending_retry", "irqs_unmanaged"}) {
    total += number(*irqs, key).value_or(0);
  }
  return total;
}

}  // namespace

std::vector<MetricFamily> metrics_from_status(const nlohmann::json& status) {
  Families out;
  auto steal_bp = number(status, "steal_bp");
  out.add("prefcpu_steal_ratio", "Fraction of CPU time stolen by the hypervisor, last period",
          MetricType::Gauge, steal_bp ? std::optional(*steal_bp / 10000.0) : std::nullopt);
  auto count = [&](const char* key) -> std::optional<double> {
    auto set = cpus(status, key);
    return set ? std::optional<double>(set->count()) : std::nullopt;
  };
  out.add("prefcpu_preferred_cpus", "CPUs in the preferred mask", MetricType::Gauge,
          count("preferred"));
  out.add("prefcpu_online_cpus", "Online CPUs", MetricType::Gauge, count("online"));

  const nlohmann::json empty = nlohmann::json::object();
  const auto* found = field(status, "counters");
  const nlohmann::json& counters = found != nullptr ? *found : empty;
  std::vector<ClientMetric> decisions;
  for (const auto& [action, key] : {std::pair{"shrink", "shrinks"},
                                    {"grow", "grows"},
                                    {"hold", "holds"},
                                    {"skip", "skips"},
                                    {"manual", "manual"}}) {
    if (auto value = number(counters, key)) {
      decisions.push_back(sample(MetricType::Counter, *value, {{"action", action}}));
    }
  }
  out.add("prefcpu_decisions_total", "Decisions of the steal governor, by action",
          MetricType::Counter, std::move(decisions));
  out.add("prefcpu_periods_total", "Sampling periods run", MetricType::Counter,
          number(counters, "periods"));
  out.add("prefcpu_mask_changes_total", "Changes of the preferred mask", MetricType::Counter,
          number(counters, "mask_changes"));
  out.add("prefcpu_sample_errors_total", "Periods whose /proc/stat sample failed",
          MetricType::Counter, number(counters, "sample_errors"));
  out.add("prefcpu_apply_errors_total", "Refused applies of the mask, per actuator and period",
          MetricType::Counter, number(counters, "apply_errors"));
  out.add("prefcpu_irqs_on_non_preferred",
          "IRQs left on non-preferred CPUs: honoured pins, refused writes, kernel-managed",
          MetricType::Gauge, irqs_on_non_preferred(status));
  const auto* actuators = field(status, "actuators");
  const auto* irqs = actuators != nullptr ? field(*actuators, "irqs") : nullptr;
  out.add("prefcpu_interrupts_non_preferred",
          "Interrupts that fired on non-preferred CPUs in the last period measured",
          MetricType::Gauge,
          irqs != nullptr ? number(*irqs, "interrupts_non_preferred") : std::nullopt);
  const auto* workqueues = actuators != nullptr ? field(*actuators, "workqueues") : nullptr;
  out.add("prefcpu_workqueue_cpus",
          "CPUs the unbound workqueues may run on (/sys/devices/virtual/workqueue/cpumask)",
          MetricType::Gauge, workqueues != nullptr ? number(*workqueues, "cpus") : std::nullopt);
  const auto* kthreads = actuators != nullptr ? field(*actuators, "kthreads") : nullptr;
  out.add("prefcpu_kthreads_confined",
          "Unbound kernel threads whose affinity prefcpud narrowed to the preferred CPUs",
          MetricType::Gauge, kthreads != nullptr ? number(*kthreads, "confined") : std::nullopt);
  out.add("prefcpu_info", "The running configuration, as labels", MetricType::Gauge,
          {sample(MetricType::Gauge, 1,
                  {{"backend", string_or(status, "backend", "none")},
                   {"governor", string_or(status, "governor", "none")},
                   {"mode", string_or(status, "mode", "none")}})});
  return out.take();
}

std::string format_metrics(const std::vector<MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

void MetricsSnapshot::update(std::vector<MetricFamily> families) {
  std::lock_guard lock(mutex_);
  families_ = std::move(families);
}

std::vector<MetricFamily> MetricsSnapshot::Collect() const {
  std::lock_guard lock(mutex_);
  return families_;
}

Status Metrics::start(KernelFs& fs, const std::string& listen, const std::string& textfile,
                      const MetricsListen& make_listener) {
  fs_ = &fs;
  textfile_ = textfile;
  if (listen.empty()) return {};
  auto address = parse_metrics_address(listen);
  if (!address) return address.error();
  auto listener = make_listener(*address, snapshot_);
  if (!listener) return listener.error();
  listener_ = std::move(*listener);
  return {};
}

std::optional<std::uint16_t> Metrics::port() const {
  if (!listener_) return std::nullopt;
  return listener_->port();
}

std::optional<std::string> Metrics::publish(const nlohmann::json& status, bool changed,
                                            std::int64_t now_ns) {
  if (!enabled()) return std::nullopt;
  auto families = metrics_from_status(status);
  bool due = !textfile_.empty() && (changed || !textfile_written_ns_ ||
                                    now_ns - *textfile_written_ns_ >= kTextfileRefreshNs);
  std::optional<std::string> line;
  if (due) {
    textfile_written_ns_ = now_ns;  // a failure waits for the next change or refresh, too
    if (auto written = fs_->replace_file(textfile_, format_metrics(families), /*durable=*/false);
        !written) {
      if (written.error().message != textfile_error_) {
        textfile_error_ = written.error().message;
        line = fmt::format("metrics_textfile: {}; retrying in {} s or at the next mask change",
                           textfile_error_, kTextfileRefreshNs / 1'000'000'000);
      }
    } else if (!textfile_error_.empty()) {
      textfile_error_.clear();
      line = fmt::format("metrics_textfile: {} written again", textfile_.string());
    }
  }
  if (listener_) snapshot_->update(std::move(families));
  return line;
}

}  // namespace prefcpu
