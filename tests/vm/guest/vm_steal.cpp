// vm-steal: the synthetic steal source of the VM scenarios. A TCG guest has no paravirtual steal
// clock, so prefcpud reads `--proc-stat OUT`, which this program keeps as a copy of the real
// /proc/stat (so the cpuN lines always match the online CPUs) whose aggregate steal, the 8th value
// of the "cpu" line, is a synthetic counter that only ever grows, never faster than the time of
// the online CPUs (prefcpud rejects anything else as an implausible sample):
//   - it grows at CTL/rate basis points of the online CPUs' time (a number, read every loop);
//   - CTL/window holds a rate for exactly one of the reader's sampling windows: the window opens
//     at the reader's next open of OUT and closes at the one after, and only then is the file
//     removed. "10000" makes exactly one sample of all the time stolen (one shrink), "0" exactly
//     one sample of none (one grow), whatever the reader's timing. The opens are seen by inotify.
// With a CPU argument it pins itself there at SCHED_FIFO; lib.sh pins prefcpud to the same CPU.
// Then whenever the daemon runs, this runs first: a loaded host that stalls the guest's vCPU
// threads cannot make the file stale behind the daemon's back (a stale file reads as a window of
// zero steal, a spurious grow, and its catch-up as a burst, a spurious shrink).
// Host-fed mode, `vm-steal --host-feed DEV OUT CTL_DIR` (bench/overcommit, docs/overcommit.md):
// the steal is real. The host streams lines over a serial port DEV:
//   "S NS RD0:RT0 RD1:RT1 ..."  the host's clock, then each vCPU thread's run_delay (ns runnable
//                    but not running) and run time (ns on a CPU), cumulative, from
//                    /proc/PID/task/TID/schedstat; the first line is the baseline;
//   "G K"            creates CTL/go.K (the host's start signal for run K).
// OUT is then what a KVM guest's /proc/stat would read (KvmView below), rewritten on every "S"
// line: since the first line, each cpuN line gains its vCPU's run time as busy, run_delay as
// steal and the rest of the host's time as idle, in USER_HZ ticks; the aggregate is their sum.
// It runs at SCHED_FIFO: as ordinary process it fell behind a guest's load (docs/overcommit.md).
// Built by tests/vm/vm-run.sh with the host compiler, static, and copied into the initramfs.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/inotify.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

__extension__ using i128 = __int128;  // GCC and Clang both have it

constexpr long kLoopNs = 2'000'000;                 // OUT is at most ~2 ms stale
constexpr std::uint64_t kStartTicks = 100'000'000;  // a counter long running, as on a real host

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void complain(const std::string& text) {
  static_cast<void>(std::fputs(text.c_str(), stderr));
}

bool read_file(const std::string& path, std::string& out) {
  out.clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<size_t>(n));
  close(fd);
  return n == 0;
}

// `tmp` is where the text is written before it is renamed over `path`; by default beside it.
bool write_file_atomically(const std::string& path, const std::string& text, std::string tmp = {}) {
  if (tmp.empty()) tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = close(fd) == 0 && ok;
  return ok && rename(tmp.c_str(), path.c_str()) == 0;
}

// A "cpu" or "cpuN" line of /proc/stat: its name and its values (8 to 10 of them).
struct CpuLine {
  std::string name;
  std::uint64_t v[10] = {};
  int count = 0;
};

bool parse_cpu_line(const std::string& line, CpuLine& cpu) {
  char name[16];
  unsigned long long v[10] = {};
  int got = std::sscanf(line.c_str(), "%15s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                        name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
  if (got < 9) return false;
  cpu.name = name;
  cpu.count = got - 1;
  for (int i = 0; i < cpu.count; ++i) cpu.v[i] = v[i];
  return true;
}

std::string format_cpu_line(const CpuLine& cpu) {
  std::string line = cpu.name;
  if (cpu.name == "cpu") line += " ";  // the kernel's own spacing
  for (int i = 0; i < cpu.count; ++i) line += " " + std::to_string(cpu.v[i]);
  return line;
}

// proc_stat with the steal (8th value) of the aggregate line set to `steal`. `online` counts the
// cpuN lines. Empty when a cpu line does not parse.
std::string synthesize(const std::string& proc_stat, std::uint64_t steal, unsigned& online) {
  std::string out;
  online = 0;
  size_t pos = 0;
  while (pos < proc_stat.size()) {
    size_t end = proc_stat.find('\n', pos);
    if (end == std::string::npos) end = proc_stat.size();
    std::string line = proc_stat.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("cpu", 0) == 0) {
      CpuLine cpu;
      if (!parse_cpu_line(line, cpu)) return {};
      if (cpu.name == "cpu") {
        cpu.v[7] = steal;
      } else {
        ++online;
      }
      line = format_cpu_line(cpu);
    }
    out += line;
    out += '\n';
  }
  return out;
}

long long parse_number(const std::string& text, long long fallback) {
  if (text.empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str()) return fallback;
  return value;
}

long long read_number(const std::string& path, long long fallback) {
  std::string text;
  return read_file(path, text) ? parse_number(text, fallback) : fallback;
}

// One "S" line of the host: its clock, then each vCPU thread's cumulative run_delay and run time.
struct FeedSample {
  std::uint64_t host_ns = 0;
  std::vector<std::uint64_t> delay_ns;
  std::vector<std::uint64_t> run_ns;
};

bool parse_number_at(const char*& p, char stop, std::uint64_t& value) {
  char* end = nullptr;
  errno = 0;
  value = std::strtoull(p, &end, 10);
  if (errno != 0 || end == p || *end != stop) return false;
  p = end + 1;
  return true;
}

bool parse_feed_line(std::string line, FeedSample& sample) {
  sample.delay_ns.clear();
  sample.run_ns.clear();
  line += ' ';  // every number now ends in a separator
  const char* p = line.c_str() + 2;
  if (!parse_number_at(p, ' ', sample.host_ns)) return false;
  while (*p != '\0') {
    std::uint64_t delay = 0;
    std::uint64_t run = 0;
    if (!parse_number_at(p, ':', delay) || !parse_number_at(p, ' ', run)) return false;
    sample.delay_ns.push_back(delay);
    sample.run_ns.push_back(run);
  }
  return !sample.delay_ns.empty();
}

// What a KVM guest's /proc/stat would read, from the host's accounting of each vCPU thread since
// `first`: run time as busy (user), run_delay as steal, the rest of the host's time as idle; the
// guest's own counters as they were at `first` underneath, so every value only grows. A TCG
// guest's tick cannot be used: it books a whole tick to whatever runs when it fires, and a vCPU
// that runs at least once per tick period gets every tick, so its busy time reads the host's
// wall time whatever share of the host it received. cpuN lines beyond the vCPUs pass through.
class KvmView {
 public:
  explicit KvmView(std::uint64_t ns_per_tick) : ns_per_tick_(ns_per_tick) {}

  // `proc_stat` is the guest's; empty when a cpu line does not parse.
  std::string render(const std::string& proc_stat, const FeedSample& now) {
    std::vector<std::string> lines = split_lines(proc_stat);
    if (first_.delay_ns.size() != now.delay_ns.size()) rebase(lines, now);
    std::vector<CpuLine> cpus(lines.size());
    CpuLine* total = nullptr;
    std::uint64_t sum[10] = {};
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].rfind("cpu", 0) != 0) continue;
      if (!parse_cpu_line(lines[i], cpus[i])) return {};
      long index = vcpu_index(cpus[i]);
      if (index < 0) {
        total = &cpus[i];
        continue;
      }
      if (static_cast<size_t>(index) < base_.size())
        cpus[i] = vcpu_line(static_cast<size_t>(index), now);
      for (int f = 0; f < cpus[i].count; ++f) sum[f] += cpus[i].v[f];
      lines[i] = format_cpu_line(cpus[i]);
    }
    if (total != nullptr) std::copy(std::begin(sum), std::end(sum), std::begin(total->v));
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i)
      out += (&cpus[i] == total ? format_cpu_line(*total) : lines[i]) + '\n';
    return out;
  }

 private:
  static std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    for (size_t pos = 0; pos < text.size();) {
      size_t end = std::min(text.find('\n', pos), text.size());
      lines.push_back(text.substr(pos, end - pos));
      pos = end + 1;
    }
    return lines;
  }

  // N of a "cpuN" line; -1 for the aggregate "cpu" line.
  static long vcpu_index(const CpuLine& cpu) {
    return cpu.name.size() > 3 ? std::strtol(cpu.name.c_str() + 3, nullptr, 10) : -1;
  }

  void rebase(const std::vector<std::string>& lines, const FeedSample& now) {
    first_ = now;
    base_.assign(now.delay_ns.size(), CpuLine{});
    idle_.assign(now.delay_ns.size(), 0);
    for (const std::string& line : lines) {
      CpuLine cpu;
      if (line.rfind("cpu", 0) != 0 || !parse_cpu_line(line, cpu)) continue;
      long index = vcpu_index(cpu);
      if (index >= 0 && static_cast<size_t>(index) < base_.size())
        base_[static_cast<size_t>(index)] = cpu;
    }
  }

  std::uint64_t ticks_since(std::uint64_t now, std::uint64_t first) const {
    return now > first ? (now - first) / ns_per_tick_ : 0;
  }

  CpuLine vcpu_line(size_t index, const FeedSample& now) {
    CpuLine cpu = base_[index];
    if (cpu.count == 0) {  // a vCPU that came online after the first line
      cpu.name = "cpu" + std::to_string(index);
      cpu.count = 8;
    }
    std::uint64_t run = ticks_since(now.run_ns[index], first_.run_ns[index]);
    std::uint64_t delay = ticks_since(now.delay_ns[index], first_.delay_ns[index]);
    std::uint64_t wall = ticks_since(now.host_ns, first_.host_ns);
    // The host's clock, its schedstat and the rounding to ticks disagree by a tick or so: idle
    // never goes back.
    if (wall > run + delay) idle_[index] = std::max(idle_[index], wall - run - delay);
    cpu.v[0] += run;
    cpu.v[3] += idle_[index];
    cpu.v[7] += delay;
    return cpu;
  }

  std::uint64_t ns_per_tick_;
  FeedSample first_;
  std::vector<CpuLine> base_;        // the guest's cpuN lines at `first_`
  std::vector<std::uint64_t> idle_;  // idle ticks added so far, per vCPU
};

// A serial port gives bytes as they come; raw, so that nothing is echoed back to the host or
// held for a line editor. A FIFO or file (tests) is used as it is.
void make_raw(int fd) {
  termios tio{};
  if (tcgetattr(fd, &tio) != 0) return;
  cfmakeraw(&tio);
  tio.c_cc[VMIN] = 1;
  tio.c_cc[VTIME] = 0;
  tcsetattr(fd, TCSANOW, &tio);
  tcflush(fd, TCIFLUSH);
}

int host_feed(const std::string& device, const std::string& out_path, const std::string& ctl) {
  int fd = open(device.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    complain("vm-steal: cannot open " + device + ": " + std::strerror(errno) + "\n");
    return 1;
  }
  make_raw(fd);
  // The guest half of the kernel's steal accounting: a KVM guest's is never behind its load.
  sched_param param{};
  param.sched_priority = 1;
  if (sched_setscheduler(0, SCHED_FIFO, &param) != 0) {
    complain("vm-steal: cannot run at SCHED_FIFO: " + std::string(std::strerror(errno)) + "\n");
    return 1;
  }
  write_file_atomically(ctl + "/ready", "1\n");
  const long user_hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
  const std::uint64_t ns_per_tick = 1'000'000'000ULL / static_cast<std::uint64_t>(user_hz);
  KvmView view(ns_per_tick);
  FeedSample sample;
  std::string pending;
  std::string proc_stat;
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      complain("vm-steal: " + device + " closed\n");
      return 1;
    }
    pending.append(buffer, static_cast<size_t>(n));
    size_t end = 0;
    while ((end = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, end);
      pending.erase(0, end + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("G ", 0) == 0 && line.size() > 2 &&
          line.find_first_not_of("0123456789", 2) == std::string::npos) {
        write_file_atomically(ctl + "/go." + line.substr(2), "1\n");
        continue;
      }
      if (line.rfind("S ", 0) != 0 || !parse_feed_line(line, sample)) continue;  // noise
      if (!read_file("/proc/stat", proc_stat)) {
        std::perror("vm-steal: reading /proc/stat");
        return 1;
      }
      std::string text = view.render(proc_stat, sample);
      if (text.empty() || !write_file_atomically(out_path, text)) {
        complain("vm-steal: cannot write " + out_path + "\n");
        return 1;
      }
    }
    if (pending.size() > 65536) pending.clear();  // no newline in 64 KiB: noise
  }
}

// One line per window edge in the log (lib.sh prints it with the daemon's on failure).
void note_window(const char* edge, long long bp, std::uint64_t steal, std::int64_t now_ns) {
  std::fprintf(stderr, "vm-steal: %lld.%03lld window of %lld bp %s at steal %" PRIu64 "\n",
               static_cast<long long>(now_ns / 1'000'000'000),
               static_cast<long long>(now_ns / 1'000'000 % 1000), bp, edge, steal);
}

// Drains the inotify events; true when one of them is an open of `name` (vm-steal never opens
// it, so any open of `name` is the reader's).
bool reader_opened(int watch, const std::string& name) {
  alignas(inotify_event) char buffer[4096];
  bool opened = false;
  ssize_t n = 0;
  while ((n = read(watch, buffer, sizeof buffer)) > 0) {
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      if (event->len > 0 && name == event->name) opened = true;
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  return opened;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--host-feed")
    return host_feed(argv[2], argv[3], argv[4]);
  if (argc != 3 && argc != 4) {
    complain("usage: vm-steal OUT CTL_DIR [CPU] | vm-steal --host-feed DEV OUT CTL_DIR\n");
    return 2;
  }
  const std::string out_path = argv[1];
  const std::string ctl = argv[2];
  if (argc == 4) {
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(static_cast<std::size_t>(std::strtoul(argv[3], nullptr, 10)), &cpus);
    sched_param param{};
    param.sched_priority = 1;
    if (sched_setaffinity(0, sizeof cpus, &cpus) != 0 ||
        sched_setscheduler(0, SCHED_FIFO, &param) != 0) {
      complain("vm-steal: cannot pin to CPU " + std::string(argv[3]) +
               " at SCHED_FIFO: " + std::strerror(errno) + "\n");
      return 1;
    }
  }
  const long user_hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
  const i128 units_per_tick = static_cast<i128>(10000) * (1'000'000'000 / user_hz);
  const std::string out_dir = out_path.substr(0, out_path.rfind('/') + 1);
  const std::string out_name = out_path.substr(out_dir.size());
  int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (watch < 0 || inotify_add_watch(watch, out_dir.empty() ? "." : out_dir.c_str(), IN_OPEN) < 0) {
    complain("vm-steal: cannot watch " + out_dir + ": " + std::strerror(errno) + "\n");
    return 1;
  }
  const std::string window_path = ctl + "/window";

  std::uint64_t steal = kStartTicks;
  i128 residual = 0;  // bp * cpu * ns not yet worth a whole tick
  unsigned online = 0;
  std::int64_t last_ns = monotonic_ns();
  long long window_bp = -1;  // the open window's rate; -1: none open
  std::string proc_stat;
  std::string text;
  auto accrue = [&](long long rate_bp, std::int64_t now_ns) {
    residual += static_cast<i128>(rate_bp) * (online == 0 ? 1 : online) * (now_ns - last_ns);
    last_ns = now_ns;
    steal += static_cast<std::uint64_t>(residual / units_per_tick);
    residual %= units_per_tick;
  };
  auto base_rate = [&] { return std::max(read_number(ctl + "/rate", 0), 0LL); };
  for (std::uint64_t served = 0;; ++served) {
    long long rate_bp = window_bp >= 0 ? window_bp : base_rate();
    accrue(rate_bp, monotonic_ns());
    if (!read_file("/proc/stat", proc_stat)) {
      std::perror("vm-steal: reading /proc/stat");
      return 1;
    }
    text = synthesize(proc_stat, steal, online);
    // The temporary file lives in CTL_DIR: its opens must not wake the watch on OUT's directory.
    if (text.empty() || !write_file_atomically(out_path, text, ctl + "/out.tmp")) {
      complain("vm-steal: cannot write " + out_path + "\n");
      return 1;
    }
    if (served == 0) write_file_atomically(ctl + "/ready", "1\n");
    pollfd ready{watch, POLLIN, 0};
    if (poll(&ready, 1, static_cast<int>(kLoopNs / 1'000'000)) <= 0) continue;
    if (!reader_opened(watch, out_name)) continue;
    // The reader has just sampled OUT as last written: what follows counts in its next window.
    std::int64_t now_ns = monotonic_ns();
    if (window_bp >= 0) {
      accrue(window_bp, now_ns);
      note_window("closed", window_bp, steal, now_ns);
      window_bp = -1;
      unlink(window_path.c_str());  // the window is in the reader's sample: the shell may go on
      continue;
    }
    std::string window_text;
    if (!read_file(window_path, window_text)) continue;
    window_bp = std::clamp(parse_number(window_text, 0), 0LL, 10000LL);
    // Time since the last write belongs to this window: at a zero rate it must add nothing.
    if (window_bp == 0)
      last_ns = now_ns;
    else
      accrue(rate_bp, now_ns);
    note_window("opened", window_bp, steal, now_ns);
  }
}
