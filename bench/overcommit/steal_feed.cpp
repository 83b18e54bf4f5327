// steal-feed: the host half of the overcommit rig's real steal (docs/overcommit.md). For every
// guest it finds the QEMU vCPU threads ("CPU n/TCG" or "CPU n/KVM", named with
// -name ...,debug-threads=on), and every PERIOD_MS writes one line to the guest's serial FIFO:
//   "S NS RD0:RT0 RD1:RT1 ..."  the host's CLOCK_MONOTONIC, then per vCPU 0, 1, ... its thread's
// run_delay and run time in ns (2nd and 1st fields of /proc/PID/task/TID/schedstat): the time
// it was runnable but not running, what KVM reports as steal, and the time it ran, what a KVM
// guest books as busy once its tick takes steal out. The guest's `vm-steal --host-feed` turns
// them into /proc/stat. It also drains the guest's output FIFO (nothing is expected there) and
// logs "GUEST <the line>" to LOG.
// Exits when every QEMU is gone, or on SIGTERM/SIGINT.
// usage: steal-feed PERIOD_MS LOG PID:VCPUS:FIFO_IN:FIFO_OUT...
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int /*signal*/) {
  g_stop = 1;
}

struct Guest {
  int pid = 0;
  unsigned vcpus = 0;
  int fd_in = -1;              // the guest's serial input: we write
  int fd_out = -1;             // the guest's serial output: drained
  std::vector<int> schedstat;  // per vCPU index, -1 until found
  unsigned found = 0;
  bool gone = false;
};

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool read_small(int fd, std::string& out) {
  char buffer[256];
  ssize_t n = pread(fd, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return false;
  out.assign(buffer, static_cast<size_t>(n));
  return true;
}

// Opens /proc/PID/task/TID/schedstat of each "CPU n/..." thread not found yet.
void find_vcpu_threads(Guest& guest) {
  std::string task_dir = "/proc/" + std::to_string(guest.pid) + "/task";
  DIR* dir = opendir(task_dir.c_str());
  if (dir == nullptr) {
    guest.gone = errno == ENOENT;
    return;
  }
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::string base = task_dir + "/" + entry->d_name;
    int comm_fd = open((base + "/comm").c_str(), O_RDONLY | O_CLOEXEC);
    if (comm_fd < 0) continue;
    std::string comm;
    bool ok = read_small(comm_fd, comm);
    close(comm_fd);
    unsigned index = 0;
    char kind[16] = {};
    if (!ok || std::sscanf(comm.c_str(), "CPU %u/%15s", &index, kind) != 2) continue;
    if (index >= guest.vcpus || guest.schedstat[index] >= 0) continue;
    int fd = open((base + "/schedstat").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    guest.schedstat[index] = fd;
    ++guest.found;
  }
  closedir(dir);
}

bool parse_guest(const char* arg, Guest& guest) {
  char in[4096] = {};
  char out[4096] = {};
  if (std::sscanf(arg, "%d:%u:%4095[^:]:%4095s", &guest.pid, &guest.vcpus, in, out) != 4 ||
      guest.pid <= 0 || guest.vcpus == 0 || guest.vcpus > 4096) {
    std::fprintf(stderr, "steal-feed: \"%s\" is not PID:VCPUS:FIFO_IN:FIFO_OUT\n", arg);
    return false;
  }
  // O_RDWR: QEMU holds the other ends; we must never block on them.
  guest.fd_in = open(in, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  guest.fd_out = open(out, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (guest.fd_in < 0 || guest.fd_out < 0) {
    std::fprintf(stderr, "steal-feed: cannot open %s or %s: %s\n", in, out, std::strerror(errno));
    return false;
  }
  guest.schedstat.assign(guest.vcpus, -1);
  return true;
}

// One period for one guest; false once its QEMU is gone.
bool feed(Guest& guest, std::size_t index, std::FILE* log, std::int64_t now_ns) {
  if (guest.found < guest.vcpus) find_vcpu_threads(guest);
  if (guest.gone || kill(guest.pid, 0) != 0) return false;
  char drain[4096];
  while (read(guest.fd_out, drain, sizeof drain) > 0) {
  }
  if (guest.found < guest.vcpus) return true;  // not all vCPU threads exist yet
  std::string line = "S " + std::to_string(now_ns);
  std::string text;
  for (int fd : guest.schedstat) {
    unsigned long long run_ns = 0;
    unsigned long long delay_ns = 0;
    if (!read_small(fd, text) || std::sscanf(text.c_str(), "%llu %llu", &run_ns, &delay_ns) != 2)
      return false;  // the thread is gone: so is QEMU
    line += " " + std::to_string(delay_ns) + ":" + std::to_string(run_ns);
  }
  if (log != nullptr) std::fprintf(log, "%zu %s\n", index, line.c_str());
  line += "\n";
  // A full FIFO (a stalled guest) drops the line; the next one carries the cumulative value.
  ssize_t written = write(guest.fd_in, line.data(), line.size());
  static_cast<void>(written);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: steal-feed PERIOD_MS LOG PID:VCPUS:FIFO_IN:FIFO_OUT...\n");
    return 2;
  }
  long period_ms = std::strtol(argv[1], nullptr, 10);
  if (period_ms < 1 || period_ms > 10000) {
    std::fprintf(stderr, "steal-feed: PERIOD_MS \"%s\" is not in 1..10000\n", argv[1]);
    return 2;
  }
  std::FILE* log = std::fopen(argv[2], "w");
  if (log == nullptr) {
    std::fprintf(stderr, "steal-feed: cannot write %s: %s\n", argv[2], std::strerror(errno));
    return 1;
  }
  std::vector<Guest> guests(static_cast<size_t>(argc - 3));
  for (int i = 3; i < argc; ++i)
    if (!parse_guest(argv[i], guests[static_cast<size_t>(i - 3)])) return 2;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  std::int64_t next_ns = monotonic_ns();
  while (g_stop == 0) {
    std::int64_t now_ns = monotonic_ns();
    std::size_t alive = 0;
    for (std::size_t i = 0; i < guests.size(); ++i)
      if (!guests[i].gone) alive += (guests[i].gone = !feed(guests[i], i, log, now_ns)) ? 0 : 1;
    std::fflush(log);
    if (alive == 0) break;
    next_ns += period_ms * 1'000'000;
    if (next_ns < now_ns) next_ns = now_ns;  // never a burst of catch-up periods
    timespec until{static_cast<time_t>(next_ns / 1'000'000'000),
                   static_cast<long>(next_ns % 1'000'000'000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr);
  }
  std::fclose(log);
  return 0;
}
