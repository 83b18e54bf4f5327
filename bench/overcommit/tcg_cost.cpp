// tcg-cost: what the simulator's guest-side costs are on this machine, measured by the guest itself
// (docs/simulator.md, "The tcg profile, measured"). Runs the same way natively and inside a QEMU
// TCG guest (bench/overcommit/tcg-cost.sh); every figure is the median of --reps repetitions, in
// ns:
//   loop_ns          one step of an integer loop: how much slower guest user code runs
//   write_ns/read_ns CPU per 100-byte pipe write / read, nobody waiting (WorkloadParams write_ns,
//                    read_ns; the same measure as bench_sim BM_PipeWrite100 / BM_PipeRead100)
//   wake_local_ns    the writer's CPU to wake a reader blocked on the same CPU, less write_ns
//                    (WorkloadParams wake_ns)
//   wake_remote_ns   the same with the reader on another, idle CPU, less write_ns: the wakeup and
//                    the reschedule IPI it sends (HostParams ipi_ns is the difference to the above)
//   switch_ns        one task switch between two tasks on one CPU that sched_yield() to each other
//                    (GuestParams task_switch_ns)
//   handoff_local_ns one pipe ping-pong hand-off between two tasks on one CPU: write, wakeup,
//                    switch, read (GuestParams task_switch_ns is what is left of it)
//   handoff_remote_ns the same across two CPUs, each going idle in between: adds the IPI's
//                    delivery and the idle exit
//   switch_mm_ns, handoff_local_mm_ns  switch_ns and handoff_local_ns between two processes
//                    instead of two threads: every switch changes the address space, which in TCG
//                    flushes the vCPU's soft TLB and jump cache (hackbench -p's tasks are
//                    processes)
// Static, no library beyond libc: it runs in the rig's busybox initramfs.
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kMessages = 600;  // 60 KB: under the 64 KiB pipe, so a write never blocks
constexpr std::size_t kMessageBytes = 100;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "tcg-cost: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

std::int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
std::int64_t thread_ns() {
  return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}
std::int64_t wall_ns() {
  return clock_ns(CLOCK_MONOTONIC);
}

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof(set), &set) != 0) die("sched_setaffinity");
}

struct Pipe {
  Pipe() {
    if (::pipe(fds.data()) != 0) die("pipe");
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  std::array<int, 2> fds{};
};

void xfer(bool is_write, int fd, char* buf, std::size_t n) {
  ssize_t done = is_write ? ::write(fd, buf, n) : ::read(fd, buf, n);
  if (done != static_cast<ssize_t>(n)) die(is_write ? "write" : "read");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One step of a dependent integer chain (xorshift): the compiler cannot fold it away.
double loop_ns(int steps) {
  volatile std::uint64_t sink = 0;
  std::uint64_t x = 88172645463325252ULL;
  std::int64_t t0 = thread_ns();
  for (int i = 0; i < steps; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  sink = x;
  (void)sink;
  return static_cast<double>(thread_ns() - t0) / steps;
}

// CPU per 100-byte write (is_write) or read on one CPU, the other side untimed.
double pipe_ns(bool is_write) {
  Pipe p;
  std::array<char, kMessageBytes> m{};
  std::int64_t spent = 0;
  for (int rounds = 0; rounds < 20; ++rounds) {
    std::int64_t t0 = is_write ? thread_ns() : 0;
    for (int i = 0; i < kMessages; ++i) xfer(true, p.fds[1], m.data(), m.size());
    if (is_write) spent += thread_ns() - t0;
    t0 = is_write ? 0 : thread_ns();
    for (int i = 0; i < kMessages; ++i) xfer(false, p.fds[0], m.data(), m.size());
    if (!is_write) spent += thread_ns() - t0;
  }
  return static_cast<double>(spent) / (20.0 * kMessages);
}

// The writer's CPU for a write that wakes a reader blocked on the pipe, the reader pinned to
// reader_cpu; the writer sleeps first so that the reader, and its CPU, are idle again.
double waking_write_ns(int writer_cpu, int reader_cpu, int n) {
  Pipe to_reader;
  Pipe to_writer;
  std::thread reader([&] {
    pin(reader_cpu);
    std::array<char, kMessageBytes> in{};
    for (int i = 0; i < n; ++i) {
      xfer(false, to_reader.fds[0], in.data(), in.size());
      xfer(true, to_writer.fds[1], in.data(), 1);
    }
  });
  pin(writer_cpu);
  std::array<char, kMessageBytes> m{};
  std::vector<double> each;
  for (int i = 0; i < n; ++i) {
    ::usleep(2000);  // long enough for a TCG guest's reader to block and its vCPU to halt
    std::int64_t t0 = thread_ns();
    xfer(true, to_reader.fds[1], m.data(), m.size());
    each.push_back(static_cast<double>(thread_ns() - t0));
    xfer(false, to_writer.fds[0], m.data(), 1);
  }
  reader.join();
  return median(each);
}

// Where the other task of a two-task measurement lives: a thread shares the caller's address
// space; a process has its own, so every switch to it changes the address space.
enum class Space : std::uint8_t { kThread, kProcess };

// fn run beside the caller as a thread or a child process, until join().
class Peer {
 public:
  template <typename Fn>
  Peer(Space space, Fn fn) {
    if (space == Space::kThread) {
      thread_ = std::thread(fn);
      return;
    }
    pid_ = ::fork();
    if (pid_ < 0) die("fork");
    if (pid_ == 0) {
      fn();
      ::_exit(0);
    }
  }
  void join() {
    if (thread_.joinable()) {
      thread_.join();
      return;
    }
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_ || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      die("child");
    }
  }

 private:
  std::thread thread_;
  pid_t pid_ = -1;
};

// Wall time of one hand-off in a 1-byte ping-pong between a task on cpu_a and one on cpu_b.
double handoff_ns(int cpu_a, int cpu_b, int n, Space space = Space::kThread) {
  Pipe ab;
  Pipe ba;
  Peer b(space, [&] {
    pin(cpu_b);
    char c = 0;
    for (int i = 0; i < n; ++i) {
      xfer(false, ab.fds[0], &c, 1);
      xfer(true, ba.fds[1], &c, 1);
    }
  });
  pin(cpu_a);
  char c = 0;
  std::int64_t t0 = wall_ns();
  for (int i = 0; i < n; ++i) {
    xfer(true, ab.fds[1], &c, 1);
    xfer(false, ba.fds[0], &c, 1);
  }
  std::int64_t spent = wall_ns() - t0;
  b.join();
  return static_cast<double>(spent) / (2.0 * n);
}

// Wall time per switch of two tasks on one CPU taking turns with sched_yield(); a pipe byte
// starts both at once.
double switch_ns(int cpu, int n, Space space = Space::kThread) {
  Pipe go;
  Peer b(space, [&] {
    pin(cpu);
    char c = 0;
    xfer(false, go.fds[0], &c, 1);
    for (int i = 0; i < n; ++i) ::sched_yield();
  });
  pin(cpu);
  char c = 0;
  xfer(true, go.fds[1], &c, 1);
  std::int64_t t0 = wall_ns();
  for (int i = 0; i < n; ++i) ::sched_yield();
  std::int64_t spent = wall_ns() - t0;
  b.join();
  return static_cast<double>(spent) / (2.0 * n);
}

int usage() {
  std::fprintf(stderr,
               "usage: tcg-cost [--cpus A,B] [--reps N] [--scale N]\n"
               "  --cpus A,B  the two CPUs (default 0,1); --reps: repetitions per figure, 1..99\n"
               "  (default 5); --scale: work per repetition, 1..1000 (default 10)\n");
  return 2;
}

bool parse_int(const char* s, int lo, int hi, int& out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  out = static_cast<int>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int cpu_a = 0;
  int cpu_b = 1;
  int reps = 5;
  int scale = 10;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    const char* val = argv[++i];
    if (arg == "--cpus") {
      std::string v = val;
      auto comma = v.find(',');
      if (comma == std::string::npos || !parse_int(v.substr(0, comma).c_str(), 0, 4095, cpu_a) ||
          !parse_int(v.substr(comma + 1).c_str(), 0, 4095, cpu_b) || cpu_a == cpu_b) {
        std::fprintf(stderr, "tcg-cost: --cpus \"%s\": expected two different CPUs, e.g. 0,1\n",
                     val);
        return 2;
      }
    } else if (arg == "--reps") {
      if (!parse_int(val, 1, 99, reps)) return usage();
    } else if (arg == "--scale") {
      if (!parse_int(val, 1, 1000, scale)) return usage();
    } else {
      return usage();
    }
  }
  std::vector<double> loop, write, read, sw, wl, wr, hl, hr, swm, hlm;
  for (int r = 0; r < reps; ++r) {
    pin(cpu_a);
    loop.push_back(loop_ns(200'000 * scale));
    write.push_back(pipe_ns(true));
    read.push_back(pipe_ns(false));
    sw.push_back(switch_ns(cpu_a, 500 * scale));
    wl.push_back(waking_write_ns(cpu_a, cpu_a, 4 * scale));
    wr.push_back(waking_write_ns(cpu_a, cpu_b, 4 * scale));
    hl.push_back(handoff_ns(cpu_a, cpu_a, 200 * scale));
    hr.push_back(handoff_ns(cpu_a, cpu_b, 200 * scale));
    swm.push_back(switch_ns(cpu_a, 500 * scale, Space::kProcess));
    hlm.push_back(handoff_ns(cpu_a, cpu_a, 200 * scale, Space::kProcess));
  }
  double w = median(write);
  std::printf(
      "loop_ns %.3f\nwrite_ns %.0f\nread_ns %.0f\nswitch_ns %.0f\nwake_local_ns "
      "%.0f\nwake_remote_ns %.0f\n"
      "handoff_local_ns %.0f\nhandoff_remote_ns %.0f\nswitch_mm_ns %.0f\nhandoff_local_mm_ns "
      "%.0f\n",
      median(loop), w, median(read), median(sw), median(wl) - w, median(wr) - w, median(hl),
      median(hr), median(swm), median(hlm));
  return 0;
}
