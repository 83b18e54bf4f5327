#!/bin/bash
# Issue 10's kvm-x86-8x16 scenario under each governor, as JSON lines (one per governor) on stdout:
# per VM the change of hackbench's time against governor none, steal and mean preferred, and the
# host's useful work per pCPU-second. Several minutes per governor (docs/simulator.md).
# Usage: bench/sim/kvm-x86-8x16.sh BUILD_BIN_DIR [GOVERNOR...]   (default: kernel-v2 kernel target oracle)
set -euo pipefail
bin=${1:?usage: $0 BUILD_BIN_DIR [GOVERNOR...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
governors=("$@")
[ ${#governors[@]} -gt 0 ] || governors=(kernel-v2 kernel target oracle)
for governor in "${governors[@]}"; do
  "$bin/prefcpu-sim" run "$here/kvm-x86-8x16.toml" --governor "$governor" --json | python3 -c '
import json, statistics, sys
d = json.load(sys.stdin)
base, run = d["results"][0], d["results"][1]
change = [r["value"] / b["value"] - 1 for b, r in zip(base["vms"], run["vms"])]
print(json.dumps({
    "governor": run["governor"], "sim_s": run["sim_s"],
    "change_pct_mean": round(100 * statistics.mean(change), 1),
    "change_pct_min": round(100 * min(change), 1), "change_pct_max": round(100 * max(change), 1),
    "steal_pct_none": round(statistics.mean(v["steal_pct"] for v in base["vms"]), 1),
    "steal_pct": round(statistics.mean(v["steal_pct"] for v in run["vms"]), 1),
    "mean_preferred": round(statistics.mean(v["mean_preferred"] for v in run["vms"]), 2),
    "governor_intervals_min": min(v["governor_intervals"] for v in base["vms"]),
    "useful_per_pcpu_s": [base["host_useful_per_pcpu_s"], run["host_useful_per_pcpu_s"]]}))'
done
