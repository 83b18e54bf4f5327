#!/usr/bin/env python3
"""Where the host's CPU time goes during each arm of an overcommit-rig run (docs/simulator.md,
"What burns the 2-vCPU guests' time").

  stamp: copies stdin to stdout, each line prefixed with CLOCK_MONOTONIC seconds, the clock
         `perf record -k CLOCK_MONOTONIC` stamps its samples with;
  split: reads that stamped run.sh output and `perf script -F comm,pid,tid,cpu,time,ip,sym,dso`
         output, and for each arm sums the samples taken while every guest of a run was still
         working (from the run's start to its first guest's end): TCG-generated guest code (no
         symbol in the QEMU process), QEMU and its libraries, the host kernel, other processes.

  perf record -a -F 499 -k CLOCK_MONOTONIC -o perf.data &
  bench/overcommit/run.sh ... 2>&1 | bench/overcommit/host-perf-split.py stamp > run.log
  kill -INT %1; perf script -i perf.data -F comm,pid,tid,cpu,time,ip,sym,dso > perf.txt
  bench/overcommit/host-perf-split.py split run.log perf.txt --hz 499
"""
import argparse
import collections
import re
import sys
import time

RUN = re.compile(r"([\d.]+) overcommit: run (\d+)/\d+ (\S+)\s+(g\d+)\s+([\d.]+) s")
SAMPLE = re.compile(
    r"\s*(.+?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")


def stamp():
    for line in sys.stdin:
        sys.stdout.write(f"{time.monotonic():.6f} {line}")
        sys.stdout.flush()


def windows(run_log):
    """(arm, start, end) of each run: all its guests start together; the line comes at its end."""
    runs = collections.defaultdict(dict)
    for line in open(run_log):
        m = RUN.match(line)
        if m:
            run = runs[int(m[2])]
            run.setdefault("secs", []).append(float(m[5]))
            run["arm"], run["at"] = m[3], float(m[1])
    out = []
    for run in runs.values():
        start = run["at"] - max(run["secs"])
        out.append((run["arm"], start, start + min(run["secs"])))
    return out


def category(comm, sym, dso):
    if "qemu" not in comm and "CPU" not in comm and "/TCG" not in comm:
        return "other processes"
    if "kernel" in dso:
        return "host kernel"
    return "guest code (TCG-generated)" if sym == "[unknown]" else "QEMU and libraries"


def split(run_log, perf_txt, hz, top):
    wins = windows(run_log)
    per_arm = collections.defaultdict(lambda: [collections.Counter(), collections.Counter(), 0])
    for line in open(perf_txt):
        m = SAMPLE.match(line)
        if not m:
            continue
        t = float(m[5])
        arm = next((a for a, t0, t1 in wins if t0 <= t <= t1), None)
        if arm is None:
            continue
        cats, syms, _ = per_arm[arm]
        c = category(m[1], m[6], m[7])
        cats[c] += 1
        syms[(c, m[6])] += 1
    for arm in sorted(per_arm):
        cats, syms, _ = per_arm[arm]
        n = sum(cats.values())
        secs = sum(t1 - t0 for a, t0, t1 in wins if a == arm)
        runs = sum(1 for a, _, _ in wins if a == arm)
        print(f"{arm}: {runs} runs, {secs:.1f} s while every guest worked, {n} samples "
              f"({n / hz / secs:.2f} CPUs busy)")
        for c, k in cats.most_common():
            print(f"  {c:28} {100 * k / n:5.1f} %  {k / hz / runs:6.2f} CPU-s per run")
        for (c, s), k in syms.most_common(top):
            print(f"    {100 * k / n:5.1f} %  {s}  ({c})")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("stamp")
    s = sub.add_parser("split")
    s.add_argument("run_log")
    s.add_argument("perf_txt")
    s.add_argument("--hz", type=float, default=499, help="perf record -F (default 499)")
    s.add_argument("--top", type=int, default=12, help="symbols listed per arm (default 12)")
    a = p.parse_args()
    if a.cmd == "stamp":
        stamp()
    else:
        split(a.run_log, a.perf_txt, a.hz, a.top)


if __name__ == "__main__":
    main()
