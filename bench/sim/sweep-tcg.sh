#!/bin/bash
# Overcommit sweep on the rig's host for docs/simulator.md: profile tcg, 2 host CPUs, K guests of
# 2 vCPUs each (K x 1 overcommit), each running hackbench -p -g 4 -l 300 at the TCG speed that
# bench/sim/validate.py --tcg-speed measures on the rig's 1x case (guest costs x FACTOR). Prints,
# for the baseline (governor none) and the governor, the host's useful work per pCPU-second (1.0 =
# no waste) and the mean hackbench time. COSTS is either that FACTOR or the JSON file of the costs
# measured in a TCG guest (docs/overcommit-data/tcg-cost.json, its "derived" keys: validate.py's
# --tcg-measured).
# Usage: bench/sim/sweep-tcg.sh BUILD_BIN_DIR FACTOR|COSTS.json [extra prefcpu-sim run options...]
set -euo pipefail
usage="usage: $0 BUILD_BIN_DIR FACTOR|COSTS.json [options]"
bin=${1:?$usage}
costs=${2:?$usage}
shift 2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if [ -f "$costs" ]; then
  # KEY: the measured figure; the native default is not used.
  cost() { python3 -c "import json; print(json.load(open('$costs'))['derived']['$2'])"; }
  ipi="ipi_ns = $(cost 0 ipi_ns)"
else
  [[ "$costs" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "sweep-tcg: \"$costs\" is neither a factor nor a costs file: expected a number such as 16.92 or docs/overcommit-data/tcg-cost.json" >&2; exit 2; }
  cost() { python3 -c "print(round($1 * $costs))"; }
  ipi=""
fi
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
$ipi
[guest]
hz = 250
task_switch_ns = $(cost 330 task_switch_ns)
[workload]
kind = "hackbench"
groups = 4
fds = 20
loops = 300
write_ns = $(cost 359 write_ns)
read_ns = $(cost 353 read_ns)
wake_ns = $(cost 330 wake_ns)
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
