#include "daemon/environment.h"

#include "core/proc_stat.h"

namespace prefcpu {

namespace {

bool has_word(std::string_view line, std::string_view word) {
  std::size_t pos = 0;
  while ((pos = line.find(word, pos)) != std::string_view::npos) {
    bool start = pos == 0 || line[pos - 1] == ' ' || line[pos - 1] == '\t';
    std::size_t end = pos + word.size();
    bool stop = end == line.size() || line[end] == ' ' || line[end] == '\n' || line[end] == '\t';
    if (start && stop) return true;
    pos = end;
  }
  return false;
}

// The value of the first "key\t: value" line of cpuinfo with this key, or nothing.
std::string_view field(std::string_view cpuinfo, std::string_view key) {
  while (!cpuinfo.empty()) {
    std::size_t end = cpuinfo.find('\n');
    std::string_view line = cpuinfo.substr(0, end);
    cpuinfo = end == std::string_view::npos ? std::string_view() : cpuinfo.substr(end + 1);
    if (line.rfind(key, 0) != 0) continue;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (name != key) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    return value.empty() ? std::string_view(" ") : value;
  }
  return {};
}

}  // namespace

Virtualization classify_virtualization(std::string_view cpuinfo, std::string_view xen_capabilities,
                                       bool sys_hypervisor) {
  if (xen_capabilities.find("control_d") != std::string_view::npos) {
    // The kernel's steal_governor refuses Xen Dom0 too: its steal is not a guest's contention.
    return {false,
            "Xen Dom0 (control_d in /proc/xen/capabilities): steal here is not a "
            "guest's to react to"};
  }
  std::string_view flags = field(cpuinfo, "flags");
  if (!flags.empty()) {
    if (has_word(flags, "hypervisor")) return {true, "hypervisor flag in /proc/cpuinfo"};
    if (sys_hypervisor) return {true, "/sys/hypervisor/type exists"};
    return {false, "no hypervisor flag in /proc/cpuinfo: bare metal, no steal to react to"};
  }
  if (field(cpuinfo, "vendor_id").find("IBM/S390") != std::string_view::npos) {
    return {true, "s390: always an LPAR or a guest"};
  }
  if (field(cpuinfo, "platform").find("pSeries") != std::string_view::npos) {
    return {true, "ppc64 pSeries: an LPAR or a guest"};
  }
  if (sys_hypervisor) return {true, "/sys/hypervisor/type exists"};
  return {true, "cannot tell from /proc/cpuinfo on this architecture; assuming a guest"};
}

Virtualization detect_virtualization(const KernelFs& fs, const std::filesystem::path& proc_root,
                                     const std::filesystem::path& sysfs_root) {
  auto cpuinfo = fs.read(proc_root / "cpuinfo");
  if (!cpuinfo) {
    return {true, "cannot read " + (proc_root / "cpuinfo").string() + "; assuming a guest"};
  }
  std::string xen;
  if (auto capabilities = fs.read(proc_root / "xen/capabilities"); capabilities) {
    xen = *capabilities;
  }
  return classify_virtualization(*cpuinfo, xen, fs.exists(sysfs_root / "hypervisor/type"));
}

std::filesystem::path kernel_preferred_path(const std::filesystem::path& sysfs_root) {
  return sysfs_root / "devices/system/cpu/preferred";
}

Status check_proc_stat(KernelFs& fs, const std::filesystem::path& proc_stat) {
  auto refuse = [&](const std::string& why) -> Status {
    return make_error(
        "cannot take steal from {} (--proc-stat): {}: expected a file like /proc/stat",
        proc_stat.empty() ? std::string("\"\"") : proc_stat.string(), why);
  };
  if (proc_stat.empty()) return refuse("the path is empty");
  if (fs.is_directory(proc_stat)) return refuse("it is a directory");
  auto text = fs.read(proc_stat);
  if (!text) return refuse(text.error().message);
  if (auto parsed = parse_proc_stat(*text); !parsed) return refuse(parsed.error().message);
  return {};
}

}  // namespace prefcpu
