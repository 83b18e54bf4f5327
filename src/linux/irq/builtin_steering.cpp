#include "linux/irq/builtin_steering.h"

#include <fmt/ranges.h>

#include <cerrno>
#include <charconv>
#include <set>
#include <utility>

#include "core/text.h"
#include "linux/irq/irq_rules.h"
#include "protocol/json_text.h"

namespace prefcpu {

namespace {

std::optional<unsigned> irq_number(std::string_view name) {
  unsigned irq = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), irq);
  if (name.empty() || ec != std::errc() || end != name.data() + name.size()) return std::nullopt;
  return irq;
}

std::string irq_label(unsigned irq) {
  return fmt::format("IRQ {}", irq);
}

}  // namespace

BuiltinIrqSteering::BuiltinIrqSteering(KernelFs& fs, std::filesystem::path irq_root,
                                       Persist persist, Events events)
    : fs_(fs),
      irq_root_(std::move(irq_root)),
      persist_(std::move(persist)),
      events_(std::move(events)) {}

std::filesystem::path BuiltinIrqSteering::irq_path(unsigned irq) const {
  return irq_root_ / std::to_string(irq) / "smp_affinity_list";
}

Result<CpuSet> BuiltinIrqSteering::parse(const Entry& entry, std::string_view text) const {
  return entry.hex ? parse_cpumask_hex(text, entry.nbits) : parse_cpulist(text);
}

std::string BuiltinIrqSteering::format(const Entry& entry, const CpuSet& mask) const {
  return entry.hex ? format_cpumask_hex(mask, entry.nbits) : format_cpulist(mask);
}

bool BuiltinIrqSteering::plan(Entry& entry, const std::string& label,
                              const std::filesystem::path& path, const CpuSet& preferred,
                              const CpuSet& online, std::vector<Work>& work, bool& journal_dirty) {
  auto text = fs_.read(path);
  if (!text) {
    if (text.error().errno_value == ENOENT) return false;
    entry.error = text.error().message;
    if (entry.state != State::kUnmanaged) entry.state = State::kPendingRetry;
    return true;
  }
  std::string_view current_text = trim(*text);
  if (entry.hex && !entry.original) entry.nbits = hex_mask_bits(current_text);
  auto current = parse(entry, current_text);
  if (!current) {
    entry.error = fmt::format("{}: {}", path.string(), current.error().message);
    if (entry.state != State::kUnmanaged) entry.state = State::kPendingRetry;
    return true;
  }
  if (!entry.original) {
    entry.original = *current;
    entry.original_text = current_text;
    entry.honour_pins = honour_pins_;
  } else if (entry.from_journal) {
    // What a crashed instance left is ours to undo, not a foreign write.
    entry.from_journal = false;
    if (*current != *entry.original) entry.written = *current;
  } else if (*current != entry.written.value_or(*entry.original)) {
    event(fmt::format("{} was set to \"{}\" by someone else; adopted as its original", label,
                      current_text));
    entry.original = *current;
    entry.original_text = current_text;
    entry.written.reset();
    journal_dirty |= entry.journaled;
  }
  IrqTarget target =
      entry.hex ? IrqTarget{default_affinity_target(*entry.original, preferred, online), false}
                : irq_target(*entry.original, preferred, online, entry.honour_pins);
  if (target.pinned && entry.state != State::kPinned && entry.state != State::kUnmanaged) {
    event(
        fmt::format("{} is pinned to non-preferred CPU {}; left there, as the kernel leaves "
                    "pinned tasks",
                    label, format_cpulist(*entry.original)));
  }
  if (target.mask == *current) {
    if (entry.state != State::kUnmanaged) {
      entry.state = target.pinned ? State::kPinned : State::kManaged;
    }
    return true;
  }
  if (!entry.journaled) {
    entry.journaled = true;
    journal_dirty = true;
  }
  work.push_back({&entry, label, path, target.mask, target.pinned});
  return true;
}

void BuiltinIrqSteering::write(Work& work, bool& journal_dirty) {
  Entry& entry = *work.entry;
  auto status = fs_.write(work.path, format(entry, work.target));
  if (status) {
    if (entry.state == State::kPendingRetry) {
      event(fmt::format("{} accepted {} after a retry", work.label, format_cpulist(work.target)));
    }
    entry.state = work.pinned ? State::kPinned : State::kManaged;
    entry.error.clear();
    if (work.target == *entry.original) {
      entry.written.reset();
    } else {
      entry.written = work.target;
    }
    return;
  }
  entry.error = status.error().message;
  switch (classify_write_error(status.error().errno_value)) {
    case WriteVerdict::kUnmanaged:
      event(
          fmt::format("{} refused a new affinity ({}): kernel-managed or unchangeable, left "
                      "alone from now on",
                      work.label, entry.error));
      entry.state = State::kUnmanaged;
      // The file never changed: nothing of it to undo.
      if (!entry.written) {
        entry.journaled = false;
        journal_dirty = true;
      }
      break;
    case WriteVerdict::kVanished:
      entry.journaled = false;
      entry.state = State::kPendingRetry;  // dropped at the next listing
      journal_dirty = true;
      break;
    case WriteVerdict::kRetry:
      if (entry.state != State::kPendingRetry) {
        event(fmt::format("{} refused {} ({}); retrying every period", work.label,
                          format_cpulist(work.target), entry.error));
      }
      entry.state = State::kPendingRetry;
      break;
  }
}

Status BuiltinIrqSteering::apply(const CpuSet& preferred, const CpuSet& online) {
  auto names = fs_.list(irq_root_);
  if (!names) return names.error();
  std::set<unsigned> present;
  bool has_default = false;
  for (const std::string& name : *names) {
    if (auto irq = irq_number(name)) present.insert(*irq);
    has_default |= name == "default_smp_affinity";
  }
  bool journal_dirty = false;
  for (auto it = irqs_.begin(); it != irqs_.end();) {
    if (present.contains(it->first)) {
      ++it;
      continue;
    }
    journal_dirty |= it->second.journaled;
    it = irqs_.erase(it);
  }
  std::vector<Work> work;
  for (unsigned irq : present) {
    Entry& entry = irqs_[irq];
    if (entry.state == State::kUnmanaged) continue;
    if (!plan(entry, irq_label(irq), irq_path(irq), preferred, online, work, journal_dirty)) {
      journal_dirty |= entry.journaled;
      irqs_.erase(irq);
    }
  }
  if (has_default && !default_) {
    default_.emplace();
    default_->hex = true;
  }
  if (default_ && default_->state != State::kUnmanaged &&
      !plan(*default_, "default_smp_affinity", default_path(), preferred, online, work,
            journal_dirty)) {
    default_.reset();
  }
  if (journal_dirty) {
    // The journal holds every original before the write that changes it.
    if (auto status = persist_(); !status) {
      for (Work& item : work) {
        if (!item.entry->written) item.entry->journaled = false;
      }
      return status;
    }
    journal_dirty = false;
  }
  for (Work& item : work) write(item, journal_dirty);
  // Entries back at their original (a grow) leave the journal after their write.
  for (auto& [irq, entry] : irqs_) {
    if (entry.journaled && !entry.written && entry.state != State::kPendingRetry) {
      entry.journaled = false;
      journal_dirty = true;
    }
  }
  if (default_ && default_->journaled && !default_->written &&
      default_->state != State::kPendingRetry) {
    default_->journaled = false;
    journal_dirty = true;
  }
  if (journal_dirty) return persist_();
  return {};
}

Status BuiltinIrqSteering::restore_entry(Entry& entry, const std::string& label,
                                         const std::filesystem::path& path, bool& keep) {
  keep = false;
  if (!entry.original || (!entry.written && !entry.from_journal)) return {};
  auto text = fs_.read(path);
  if (!text) {
    if (text.error().errno_value == ENOENT) return {};
    keep = true;
    return text.error();
  }
  auto current = parse(entry, trim(*text));
  if (!current) {
    keep = true;
    return make_error("{}: {}", path.string(), current.error().message);
  }
  if (entry.written && !entry.from_journal && *current != *entry.written) {
    event(fmt::format("{} was set to \"{}\" by someone else; left as it is", label, trim(*text)));
    return {};
  }
  if (*current == *entry.original) return {};
  auto status = fs_.write(path, entry.original_text);
  if (status) return {};
  if (classify_write_error(status.error().errno_value) == WriteVerdict::kRetry) keep = true;
  return status;
}

Status BuiltinIrqSteering::restore() {
  std::vector<std::string> failures;
  std::map<unsigned, Entry> kept_irqs;
  for (auto& [irq, entry] : irqs_) {
    bool keep = false;
    if (auto status = restore_entry(entry, irq_label(irq), irq_path(irq), keep); !status) {
      failures.push_back(status.error().message);
    }
    if (keep) kept_irqs.emplace(irq, std::move(entry));
  }
  irqs_ = std::move(kept_irqs);
  if (default_) {
    bool keep = false;
    if (auto status = restore_entry(*default_, "default_smp_affinity", default_path(), keep);
        !status) {
      failures.push_back(status.error().message);
    }
    if (!keep) default_.reset();
  }
  auto persisted = persist_();
  if (!failures.empty()) {
    return make_error("restoring IRQ affinities: {}", fmt::join(failures, "; "));
  }
  return persisted;
}

Status BuiltinIrqSteering::adopt(const nlohmann::json& journal) {
  if (journal.is_null()) return {};
  auto bad = [&](std::string_view why) {
    return make_error("journal section irqs.builtin {}: {}", json_text(journal), why);
  };
  if (!journal.is_object()) return bad("expected an object");
  auto adopt_one = [&](Entry& entry, const nlohmann::json& value) -> Status {
    if (!value.is_string()) return bad("originals must be strings");
    std::string text(trim(value.get<std::string>()));
    if (entry.hex) entry.nbits = hex_mask_bits(text);
    auto mask = parse(entry, text);
    if (!mask) return bad(mask.error().message);
    entry.original = *mask;
    entry.original_text = text;
    entry.from_journal = true;
    entry.journaled = true;
    return {};
  };
  if (auto it = journal.find("irqs"); it != journal.end()) {
    if (!it->is_object()) return bad("\"irqs\" must map IRQ numbers to cpulists");
    for (const auto& [name, value] : it->items()) {
      auto irq = irq_number(name);
      if (!irq) return bad(fmt::format("\"{}\" is not an IRQ number", name));
      if (auto status = adopt_one(irqs_[*irq], value); !status) return status;
    }
  }
  if (auto it = journal.find("default_smp_affinity"); it != journal.end()) {
    default_.emplace();
    default_->hex = true;
    if (auto status = adopt_one(*default_, *it); !status) return status;
  }
  return {};
}

nlohmann::json BuiltinIrqSteering::journal() const {
  nlohmann::json irqs = nlohmann::json::object();
  for (const auto& [irq, entry] : irqs_) {
    if (entry.journaled) irqs[std::to_string(irq)] = entry.original_text;
  }
  bool with_default = default_ && default_->journaled;
  if (irqs.empty() && !with_default) return nullptr;
  nlohmann::json out = {{"irqs", irqs}};
  if (with_default) out["default_smp_affinity"] = default_->original_text;
  return out;
}

nlohmann::json BuiltinIrqSteering::status() const {
  unsigned managed = 0, changed = 0;
  std::vector<unsigned> unmanaged, pending, pinned;
  for (const auto& [irq, entry] : irqs_) {
    if (entry.written) ++changed;
    switch (entry.state) {
      case State::kManaged:
        ++managed;
        break;
      case State::kUnmanaged:
        unmanaged.push_back(irq);
        break;
      case State::kPendingRetry:
        pending.push_back(irq);
        break;
      case State::kPinned:
        pinned.push_back(irq);
        break;
    }
  }
  nlohmann::json out = {
      {"irqs_total", irqs_.size()},
      {"irqs_managed", managed},
      {"irqs_unmanaged", unmanaged.size()},
      {"irqs_pending_retry", pending.size()},
      {"irqs_pinned", pinned.size()},
      {"irqs_changed", changed},
      {"unmanaged", unmanaged},
      {"pending_retry", pending},
      {"pinned", pinned},
      {"default_smp_affinity", nullptr},
  };
  if (default_ && default_->original) {
    static constexpr const char* kNames[] = {"managed", "unmanaged", "pending_retry", "pinned"};
    out["default_smp_affinity"] = {
        {"original", default_->original_text},
        {"current", format(*default_, default_->written.value_or(*default_->original))},
        {"state", kNames[static_cast<int>(default_->state)]},
    };
  }
  return out;
}

}  // namespace prefcpu
