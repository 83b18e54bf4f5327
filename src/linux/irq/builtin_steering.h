// irq_mode=builtin: prefcpu writes /proc/irq/N/smp_affinity_list and default_smp_affinity itself.
// Originals are read before the first change and journaled before it; refused writes are sorted
// by errno (irq_rules.h); IRQs that appear are picked up, IRQs that vanish are dropped.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/cpu_set.h"
#include "core/result.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

class BuiltinIrqSteering {
 public:
  // Writes the actuator's whole journal section; called before any change it must protect.
  using Persist = std::function<Status()>;
  // One line per state change, for the daemon's log.
  using Events = std::function<void(const std::string&)>;

  BuiltinIrqSteering(KernelFs& fs, std::filesystem::path irq_root, Persist persist, Events events);

  // One period. Fails only when nothing could be done: the IRQ directory is unreadable, or the
  // journal could not be written (then nothing was changed). Refused writes are counted.
  Status apply(const CpuSet& preferred, const CpuSet& online);
  // Puts back every original prefcpu changed, except where someone else wrote since.
  Status restore();
  // Takes the originals of a crashed instance's journal ("builtin" object) as the originals.
  Status adopt(const nlohmann::json& journal);
  // The "builtin" journal object: originals of what is changed now; null when nothing is.
  nlohmann::json journal() const;
  // Counters for status.json (see docs/irq.md).
  nlohmann::json status() const;
  // Whether a single-CPU original is a deliberate pin. Off once irqbalance has been seen: its
  // placements are single CPUs too, and they are not the user's.
  void honour_pins(bool on) { honour_pins_ = on; }

 private:
  enum class State { kManaged, kUnmanaged, kPendingRetry, kPinned };
  struct Entry {
    // User-provided: clang cannot default-construct a nested class with member initializers
    // while the enclosing class (holding std::optional<Entry>) is still incomplete.
    Entry() {}         // NOLINT(modernize-use-equals-default)
    bool hex = false;  // default_smp_affinity holds a hex mask, the IRQs a cpulist
    unsigned nbits = CpuSet::kMaxCpus;
    std::optional<CpuSet> original;
    std::string original_text;      // as read, written back verbatim on restore
    std::optional<CpuSet> written;  // what prefcpu wrote and still holds; unset at the original
    bool from_journal = false;      // original adopted from a crashed instance
    bool journaled = false;
    bool honour_pins = true;
    State state = State::kManaged;
    std::string error;
  };
  struct Work {
    Entry* entry;
    std::string label;
    std::filesystem::path path;
    CpuSet target;
    bool pinned;
  };

  // Reads one file and decides; returns false when the entry vanished.
  bool plan(Entry& entry, const std::string& label, const std::filesystem::path& path,
            const CpuSet& preferred, const CpuSet& online, std::vector<Work>& work,
            bool& journal_dirty);
  void write(Work& work, bool& journal_dirty);
  Status restore_entry(Entry& entry, const std::string& label, const std::filesystem::path& path,
                       bool& keep);
  Result<CpuSet> parse(const Entry& entry, std::string_view text) const;
  std::string format(const Entry& entry, const CpuSet& mask) const;
  std::filesystem::path irq_path(unsigned irq) const;
  std::filesystem::path default_path() const { return irq_root_ / "default_smp_affinity"; }
  void event(const std::string& line) const {
    if (events_) events_(line);
  }

  KernelFs& fs_;
  std::filesystem::path irq_root_;
  Persist persist_;
  Events events_;
  bool honour_pins_ = true;
  std::map<unsigned, Entry> irqs_;
  std::optional<Entry> default_;
};

}  // namespace prefcpu
