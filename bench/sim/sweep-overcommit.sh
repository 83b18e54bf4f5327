#!/bin/bash
# Overcommit sweep for docs/simulator.md: the seed-daytrader host (20 pCPUs, PowerVM-like) with
# two VMs in a 2:1 vCPU ratio, OLTP at 60 % load, total vCPUs = ratio x 20.
# Usage: bench/sim/sweep-overcommit.sh BUILD_BIN_DIR [extra prefcpu-sim run options...]
set -euo pipefail
bin=${1:?usage: $0 BUILD_BIN_DIR [options]}
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf "%-6s %-5s %-5s %10s %10s %8s %9s %9s %7s %7s\n" ratio vm1 vm2 tps_none tps_gov change \
  steal_none steal_gov pref1 pref2
for ratio in 1.0 1.2 1.5 1.8 2.0 2.5 3.0; do
  vm1=$(python3 -c "print(round(20*$ratio*2/3))")
  vm2=$(python3 -c "print(round(20*$ratio)-round(20*$ratio*2/3))")
  cat > "$dir/sweep.toml" <<TOML
name = "overcommit-$ratio"
description = "sweep point"
seed = 1
duration_s = 20.0
[host]
pcpus = 20
scheduler = "dispatch-window"
[guest]
hz = 100
[workload]
kind = "oltp"
load = 0.6
[[vm]]
name = "vm1"
vcpus = $vm1
[[vm]]
name = "vm2"
vcpus = $vm2
TOML
  "$bin/prefcpu-sim" run "$dir/sweep.toml" --json "$@" | python3 -c "
import json, sys
d = json.load(sys.stdin)
base, gov = d['results'][0]['vms'], d['results'][1]['vms']
tn = base[0]['value'] + base[1]['value']
tg = gov[0]['value'] + gov[1]['value']
sn = (base[0]['steal_pct'] * $vm1 + base[1]['steal_pct'] * $vm2) / ($vm1 + $vm2)
sg = (gov[0]['steal_pct'] * $vm1 + gov[1]['steal_pct'] * $vm2) / ($vm1 + $vm2)
print('%-6s %-5d %-5d %10.1f %10.1f %+7.1f%% %8.1f%% %8.1f%% %7.1f %7.1f' % ('$ratio', $vm1, $vm2,
      tn, tg, (tg - tn) * 100 / tn, sn, sg, gov[0]['mean_preferred'], gov[1]['mean_preferred']))
"
done
