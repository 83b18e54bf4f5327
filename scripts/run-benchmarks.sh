#!/usr/bin/env bash
# `make bench`: every Google Benchmark program, in one run so figures compare as ratios.
# The daemon's 60-second runs (real binary, wake-up floor) only with PREFCPU_BENCH_LONG=1.
# Record what you quote in docs/benchmarks.md, with the command.
set -euo pipefail
bin=${1:?usage: run-benchmarks.sh BIN_DIR}
common=(--benchmark_repetitions=3 --benchmark_report_aggregates_only=true)

echo "== core: parse + decide, cpulists (goal: parse + decide on 1024 CPUs < 50 us)"
"$bin/bench_core" "${common[@]}" --benchmark_min_time=0.5
echo "== simulator: events per second (goal >= 5 M on one core), pipe costs"
"$bin/bench_sim" "${common[@]}"
echo "== daemon: CPU per period, decision to cpuset.cpus written with 1000 tasks (root)"
"$bin/bench_daemon" --benchmark_filter='BM_DaemonPeriod|BM_DecisionToCpusetWritten'
if [ "${PREFCPU_BENCH_LONG:-0}" = 1 ]; then
  echo "== daemon: the real binary for 60 s at interval_ms=100, and the wake-up floor"
  "$bin/bench_daemon" --benchmark_filter='BM_RealDaemonRun|BM_WakeupFloor'
else
  echo "== daemon: 60-second runs skipped; set PREFCPU_BENCH_LONG=1 to run them"
fi
