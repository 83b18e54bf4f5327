#include "linux/irq/irqbalance_protocol.h"

#include <charconv>

namespace prefcpu {

namespace {

class Words {
 public:
  explicit Words(std::string_view text) : text_(text) {}
  std::string_view next() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
    std::size_t begin = pos_;
    while (pos_ < text_.size() && !is_space(text_[pos_])) ++pos_;
    return text_.substr(begin, pos_ - begin);
  }

 private:
  static bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\0'; }
  std::string_view text_;
  std::size_t pos_ = 0;
};

bool parse_unsigned(std::string_view text, unsigned& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

bool parse_signed(std::string_view text) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<IrqbalanceSetup> parse_irqbalance_setup(std::string_view reply) {
  if (reply.empty()) {
    return make_error(
        "irqbalance sent an empty reply to \"setup\": it answers only root (SCM_CREDENTIALS uid "
        "0)");
  }
  auto bad = [&](std::string_view why) {
    return make_error("invalid irqbalance setup reply \"{}\": {}", reply, why);
  };
  IrqbalanceSetup setup;
  Words words(reply);
  if (words.next() != "SLEEP") return bad("expected \"SLEEP <seconds>\" first");
  if (!parse_unsigned(words.next(), setup.sleep_s)) return bad("SLEEP is not a number");
  std::string_view word = words.next();
  while (word == "IRQ") {
    unsigned irq = 0;
    if (!parse_unsigned(words.next(), irq)) return bad("IRQ is not a number");
    for (std::string_view key : {"LOAD", "DIFF", "CLASS"}) {
      if (words.next() != key || !parse_signed(words.next())) {
        return bad("expected \"IRQ <n> LOAD <n> DIFF <n> CLASS <n>\"");
      }
    }
    setup.banned_irqs.push_back(irq);
    word = words.next();
  }
  if (word != "BANNED") return bad("expected \"BANNED <hex mask>\"");
  std::string_view mask = words.next();
  if (mask.empty()) return bad("BANNED has no mask");
  auto banned = parse_cpumask_hex(mask);
  if (!banned) return bad(banned.error().message);
  setup.banned = *banned;
  if (!words.next().empty()) return bad("unexpected text after the banned mask");
  return setup;
}

std::string irqbalance_cpus_command(const CpuSet& banned) {
  return "settings cpus " + (banned.empty() ? std::string("NULL") : format_cpulist(banned));
}

CpuSet irqbalance_banned_for(const CpuSet& user_banned, const CpuSet& preferred,
                             const CpuSet& online) {
  CpuSet banned = user_banned | (online - preferred);
  if (!online.empty() && online.is_subset_of(banned)) return user_banned;
  return banned;
}

}  // namespace prefcpu
