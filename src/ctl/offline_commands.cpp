// prefcpuctl replay | record | governors: the commands that need no running daemon.
#include <csignal>
#include <fstream>
#include <iostream>

#include "core/governor.h"
#include "ctl/commands.h"
#include "ctl/record.h"
#include "ctl/replay.h"
#include "linux/sysfs_topology.h"

namespace prefcpu {

namespace {

volatile bool g_stop_recording = false;  // NOLINT: written by the signal handler

struct ReplayArgs {
  std::string trace;
  std::string governor = "kernel";
  Knobs knobs;
  std::uint64_t user_hz = 0;
  std::string topology;
  std::string sysfs_root;
  std::string numa = "off";
};

int run_replay(const ReplayArgs& args) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (args.trace != "-") {
    file.open(args.trace);
    if (!file) {
      std::cerr << "prefcpuctl replay: cannot open trace " << args.trace << "\n";
      return kExitBadInput;
    }
    in = &file;
  }
  auto trace = read_trace(*in);
  if (!trace) {
    std::cerr << "prefcpuctl replay: " << args.trace << ": " << trace.error().message << "\n";
    return kExitBadInput;
  }
  ReplayArgs checked = args;
  if (auto status = set_knob(checked.knobs, kNumaKnob, args.numa); !status) {
    std::cerr << "prefcpuctl replay: --numa: " << status.error().message << "\n";
    return kExitBadInput;
  }
  if (auto status = validate_knobs(args.knobs); !status) {
    std::cerr << "prefcpuctl replay: " << status.error().message << "\n";
    return kExitBadInput;
  }
  std::optional<Topology> topology;
  if (!args.topology.empty()) {
    auto parsed = parse_topology_spec(args.topology);
    if (!parsed) {
      std::cerr << "prefcpuctl replay: " << parsed.error().message << "\n";
      return kExitBadInput;
    }
    topology = std::move(*parsed);
  } else if (!args.sysfs_root.empty()) {
    RealKernelFs fs;
    auto read = read_sysfs_topology(fs, args.sysfs_root);
    if (!read) {
      std::cerr << "prefcpuctl replay: " << read.error().message << "\n";
      return kExitBadInput;
    }
    topology = std::move(*read);
  } else {
    auto from_headers = topology_from_trace_headers(*trace);
    if (!from_headers) {
      std::cerr << "prefcpuctl replay: " << from_headers.error().message << "\n";
      return kExitBadInput;
    }
    if (!*from_headers) {
      std::cerr << "prefcpuctl replay: the trace has no \"# cores:\" header; give --topology "
                   "cores=C,smt=T or --sysfs-root DIR\n";
      return kExitBadInput;
    }
    topology = std::move(**from_headers);
  }
  ReplayOptions options{args.governor, checked.knobs, args.user_hz};
  if (auto status = replay_trace(*trace, *topology, options, std::cout); !status) {
    std::cout.flush();
    std::cerr << "prefcpuctl replay: " << args.trace << ": " << status.error().message << "\n";
    return kExitBadInput;
  }
  return 0;
}

}  // namespace

void add_offline_commands(CLI::App& app, int* exit_code) {
  auto replay_args = std::make_shared<ReplayArgs>();
  auto* replay = app.add_subcommand(
      "replay", "Run a governor over a recorded trace and print one JSON line per record");
  replay->add_option("TRACE", replay_args->trace, "trace file, or - for stdin")->required();
  replay->add_option("--governor", replay_args->governor,
                     "governor: " + governor_names() + " (default kernel)");
  replay->add_option("--high", replay_args->knobs.high_threshold,
                     "high threshold, basis points (default 500)");
  replay->add_option("--low", replay_args->knobs.low_threshold,
                     "low threshold, basis points (default 200)");
  replay->add_option("--numa", replay_args->numa,
                     "NUMA splicing: off, balance or pack (default off); needs node info from "
                     "--topology ...,nodes=N, --sysfs-root or the trace's header");
  replay->add_option("--user-hz", replay_args->user_hz,
                     "USER_HZ of the trace (default: its header, else this machine's)");
  auto* topo = replay->add_option("--topology", replay_args->topology,
                                  "synthetic topology cores=C,smt=T[,layout=consecutive|spread]"
                                  "[,nodes=N]");
  replay->add_option("--sysfs-root", replay_args->sysfs_root, "read the topology from this sysfs")
      ->excludes(topo);
  replay->callback([replay_args, exit_code] { *exit_code = run_replay(*replay_args); });

  auto record_options = std::make_shared<RecordOptions>();
  auto* record = app.add_subcommand("record", "Sample /proc/stat into a trace on stdout");
  record
      ->add_option("--interval-ms", record_options->interval_ms, "sampling interval (default 1000)")
      ->check(CLI::Range(1U, 3'600'000U));
  record->add_option("--count", record_options->count, "number of samples (default 60)");
  record->add_option("--proc-stat", record_options->proc_stat, "source (default /proc/stat)");
  record->add_option("--sysfs-root", record_options->sysfs_root, "sysfs for the topology header");
  record->callback([record_options, exit_code] {
    (void)std::signal(SIGINT, [](int) { g_stop_recording = true; });
    (void)std::signal(SIGTERM, [](int) { g_stop_recording = true; });
    RealKernelFs fs;
    MonotonicClock clock;
    auto status = record_trace(fs, clock, *record_options, std::cout, &g_stop_recording);
    if (!status) {
      std::cerr << "prefcpuctl record: " << status.error().message << "\n";
      *exit_code = kExitFailure;
    }
  });

  auto* list = app.add_subcommand("governors", "List the governors and what they do");
  list->callback([] {
    for (const auto& info : governors()) std::cout << info.name << "\t" << info.description << "\n";
  });
}

}  // namespace prefcpu
