// The workqueue actuator. The kernel's rules for the file (kernel/workqueue.c, 6.12):
// - cpumask_store() parses a hex mask (cpumask_parse(): -EINVAL/-EOVERFLOW on bad text) and
//   calls workqueue_set_unbound_cpumask(), which ANDs it with cpu_possible_mask and returns
//   -EINVAL if that is empty; an unchanged mask is a no-op; only a successful apply updates
//   wq_requested_unbound_cpumask (cpumask_requested). Isolated CPUs are "not excluded on
//   purpose": a write may name them, so prefcpu never widens the original.
// - At boot the mask is cpu_possible ∩ HK_TYPE_WQ ∩ HK_TYPE_DOMAIN (nohz_full=, isolcpus=) ∩
//   workqueue.unbound_cpus=; original ∩ preferred therefore stays inside the housekeeping CPUs.
#include "linux/housekeeping/workqueue_actuator.h"

#include <fmt/format.h>

#include <cerrno>
#include <optional>
#include <string>
#include <utility>

#include "core/text.h"
#include "linux/irq/irq_rules.h"
#include "protocol/json_text.h"

namespace prefcpu {

namespace {

// The file is not there or not ours to write (old kernel, container, read-only sysfs): the
// actuator stops for the run instead of failing every period.
bool unavailable_errno(int err) {
  return err == ENOENT || err == EACCES || err == EPERM || err == EROFS || err == ENOTDIR;
}

// The kernel judged the mask itself (empty after cpu_possible_mask, unparsable): trying the
// same mask again cannot succeed.
bool refused_errno(int err) {
  return err == EINVAL || err == EOVERFLOW || err == ERANGE;
}

nlohmann::json text_or_null(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

class WorkqueueActuator final : public Actuator {
 public:
  WorkqueueActuator(KernelFs& fs, Journal& journal, WorkqueueOptions options)
      : fs_(fs), journal_(journal), options_(std::move(options)) {}

  std::string_view name() const override { return kWorkqueueSection; }

  Status apply(const CpuSet& preferred, const CpuSet& online) override {
    Status result = follow(preferred, online);
    last_error_ = result ? std::string() : result.error().message;
    return result;
  }

  Status restore() override {
    if (!written_ || !original_) return settle();
    auto current = read_current();
    if (!current) {
      if (!unavailable_errno(current.error().errno_value)) return current.error();
      written_.reset();  // the file went away: nothing left to put back
      return settle();
    }
    if (*current != *written_) {
      event(fmt::format("{} was set to {} by someone else; left as it is", path().string(),
                        format_cpumask_hex(*current, nbits_)));
    } else if (auto status = fs_.write(path(), original_text_); !status) {
      return make_error("restoring {} to {}: {}", path().string(), original_text_,
                        status.error().message);
    }
    written_.reset();
    return settle();
  }

  Status recover(const nlohmann::json& section) override {
    if (section.is_null() || (section.is_object() && section.empty())) return {};
    auto found = section.is_object() ? section.find("cpumask") : section.end();
    if (found == section.end() || !found->is_string()) {
      return make_error("journal section workqueues {}: expected {{\"cpumask\": \"<hex mask>\"}}",
                        json_text(section));
    }
    std::string text(trim(found->get<std::string>()));
    nbits_ = hex_mask_bits(text);
    auto original = parse_cpumask_hex(text, nbits_);
    if (!original || original->empty()) {
      return make_error("journal section workqueues: cpumask \"{}\" is not a non-empty hex mask",
                        text);
    }
    original_ = *original;
    original_text_ = text;
    auto current = read_current();
    if (!current) {
      if (!unavailable_errno(current.error().errno_value)) return current.error();
      event(fmt::format("{} is not there: nothing to restore", path().string()));
    } else if (*current != *original_) {
      if (auto status = fs_.write(path(), original_text_); !status) {
        return make_error("restoring {} to {}: {}", path().string(), original_text_,
                          status.error().message);
      }
    }
    return settle();
  }

  nlohmann::json status() const override {
    std::optional<CpuSet> current = written_ ? written_ : original_;
    return {
        {"state", state()},
        {"cpumask_path", path().string()},
        {"original", text_or_null(original_text_)},
        {"current",
         current ? nlohmann::json(format_cpumask_hex(*current, nbits_)) : nlohmann::json(nullptr)},
        {"cpus", current ? nlohmann::json(current->count()) : nlohmann::json(nullptr)},
        {"writes", writes_},
        {"refused_writes", refused_writes_},
        {"empty_intersections", empty_intersections_},
        {"foreign_writes", foreign_writes_},
        {"unavailable", text_or_null(unavailable_)},
        {"last_event", text_or_null(last_event_)},
        {"last_error", text_or_null(last_error_)},
    };
  }

 private:
  const std::filesystem::path& path() const { return options_.cpumask; }

  std::string_view state() const {
    if (!unavailable_.empty()) return "unavailable";
    if (!original_) return "unknown";
    if (written_) return "following";
    if (refused_) return "refused";
    if (empty_noted_) return "kept_original";
    return "original";
  }

  Result<CpuSet> read_current() {
    auto text = fs_.read(path());
    if (!text) return text.error();
    std::string_view trimmed = trim(*text);
    if (!original_) nbits_ = hex_mask_bits(trimmed);
    auto mask = parse_cpumask_hex(trimmed, nbits_);
    if (!mask) return make_error("{}: {}", path().string(), mask.error().message);
    if (!original_) {
      original_ = *mask;
      original_text_ = trimmed;
    }
    return mask;
  }

  Status follow(const CpuSet& preferred, const CpuSet& online) {
    if (!unavailable_.empty()) return {};
    auto current = read_current();
    if (!current) {
      if (unavailable_errno(current.error().errno_value)) {
        disable(current.error().message);
        return {};
      }
      return current.error();
    }
    if (*current != written_.value_or(*original_)) {
      ++foreign_writes_;
      event(fmt::format("{} was set to {} by someone else; adopted as its original",
                        path().string(), format_cpumask_hex(*current, nbits_)));
      original_ = *current;
      original_text_ = format_cpumask_hex(*current, nbits_);
      written_.reset();
      refused_.reset();
      if (auto status = settle(); !status) return status;
    }
    bool empty = !original_->intersects(preferred);
    if (empty && !empty_noted_) {
      ++empty_intersections_;
      event(fmt::format("the unbound workqueues' CPUs {} hold no preferred CPU; keeping them",
                        format_cpulist(*original_)));
    }
    empty_noted_ = empty;
    CpuSet target = workqueue_target(*original_, preferred, online);
    if (refused_ && *refused_ == target) {
      target = *original_;  // refused once: kept at the original until preferred changes
    } else {
      refused_.reset();
    }
    if (target == *current) return settle();
    if (target != *original_ && !journaled_) {
      // The journal holds the original before the write that changes it.
      journaled_ = true;
      if (auto status = persist(); !status) {
        journaled_ = false;
        return status;
      }
    }
    auto written = fs_.write(path(), format_cpumask_hex(target, nbits_));
    if (written) {
      ++writes_;
      if (target == *original_) {
        written_.reset();
      } else {
        written_ = target;
      }
      return settle();
    }
    int err = written.error().errno_value;
    if (unavailable_errno(err)) {
      disable(written.error().message);
      return settle();
    }
    if (!refused_errno(err)) return written.error();  // ENOMEM, EBUSY: tried again next period
    ++refused_writes_;
    refused_ = target;
    event(fmt::format("the kernel refused {} for {} ({}); keeping the original {}",
                      format_cpumask_hex(target, nbits_), path().string(), written.error().message,
                      original_text_));
    if (written_) {
      if (auto status = fs_.write(path(), original_text_); !status) return status;
      written_.reset();
    }
    return settle();
  }

  void disable(const std::string& why) {
    unavailable_ = why;
    event(fmt::format("unbound workqueues not steered for this run: {}", why));
  }

  // A section that protects nothing leaves the journal.
  Status settle() {
    if (journaled_ && !written_) {
      journaled_ = false;
      return persist();
    }
    if (!journaled_) return persist();
    return {};
  }

  Status persist() {
    nlohmann::json section = nlohmann::json::object();
    if (journaled_) section["cpumask"] = original_text_;
    // Journal::record writes no file for an empty section it does not hold.
    return journal_.record(name(), std::move(section));
  }

  void event(const std::string& line) {
    last_event_ = line;
    if (options_.on_event) options_.on_event(line);
  }

  KernelFs& fs_;
  Journal& journal_;
  WorkqueueOptions options_;
  std::optional<CpuSet> original_;
  std::string original_text_;  // as the kernel printed it, written back verbatim
  unsigned nbits_ = CpuSet::kMaxCpus;
  std::optional<CpuSet> written_;  // what prefcpu wrote and still holds; unset at the original
  std::optional<CpuSet> refused_;  // the target the kernel refused
  bool journaled_ = false;
  bool empty_noted_ = false;
  std::uint64_t writes_ = 0;
  std::uint64_t refused_writes_ = 0;
  std::uint64_t empty_intersections_ = 0;
  std::uint64_t foreign_writes_ = 0;
  std::string unavailable_;
  std::string last_event_;
  std::string last_error_;
};

}  // namespace

std::filesystem::path workqueue_cpumask_path(const std::filesystem::path& sysfs_root) {
  return sysfs_root / "devices/virtual/workqueue/cpumask";
}

CpuSet workqueue_target(const CpuSet& original, const CpuSet& preferred, const CpuSet& online) {
  if ((original & online).is_subset_of(preferred)) return original;
  CpuSet target = original & preferred;
  return target.empty() ? original : target;
}

std::unique_ptr<Actuator> make_workqueue_actuator(KernelFs& fs, Journal& journal,
                                                  WorkqueueOptions options) {
  return std::make_unique<WorkqueueActuator>(fs, journal, std::move(options));
}

}  // namespace prefcpu
