#!/bin/bash
# Overcommit sweep on the rig's host for docs/simulator.md: profile tcg, 2 host CPUs, K guests of
# 2 vCPUs each (K x 1 overcommit), each running hackbench -p -g 4 -l 300 at the TCG speed that
# bench/sim/validate.py --tcg-speed measures on the rig's 1x case (guest costs x FACTOR). Prints,
# for the baseline (governor none) and the governor, the host's useful work per pCPU-second (1.0 =
# no waste) and the mean hackbench time.
# Usage: bench/sim/sweep-tcg.sh BUILD_BIN_DIR FACTOR [extra prefcpu-sim run options...]
set -euo pipefail
bin=${1:?usage: $0 BUILD_BIN_DIR FACTOR [options]}
factor=${2:?usage: $0 BUILD_BIN_DIR FACTOR [options]}
shift 2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cost() { python3 -c "print(round($1 * $factor))"; }
printf "%-6s %12s %12s %10s %10s %10s %10s %8s\n" ratio useful_none useful_gov time_none time_gov \
  spin_none steal_none steal_gov
for k in 1 2 3 4; do
  {
    cat <<TOML
name = "tcg-sweep-$k"
description = "sweep point"
seed = 1
duration_s = 600.0
[host]
pcpus = 2
profile = "tcg"
[guest]
hz = 250
task_switch_ns = $(cost 330)
[workload]
kind = "hackbench"
groups = 4
fds = 20
loops = 300
write_ns = $(cost 359)
read_ns = $(cost 353)
wake_ns = $(cost 330)
TOML
    for i in $(seq 1 "$k"); do printf '[[vm]]\nname = "g%d"\nvcpus = 2\n' "$i"; done
  } > "$dir/sweep.toml"
  "$bin/prefcpu-sim" run "$dir/sweep.toml" --json "$@" | python3 -c "
import json, sys
d = json.load(sys.stdin)
base, gov = d['results'][0], d['results'][1]
mean = lambda r, key: sum(v[key] for v in r['vms']) / len(r['vms'])
print('%-6s %12.3f %12.3f %10.2f %10.2f %10.0f %9.1f%% %7.1f%%' % ('${k}x', base['host_useful_per_pcpu_s'],
      gov['host_useful_per_pcpu_s'], mean(base, 'value'), mean(gov, 'value'), mean(base, 'spin_ms'),
      mean(base, 'steal_pct'), mean(gov, 'steal_pct')))
"
done
