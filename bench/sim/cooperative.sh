#!/bin/bash
# The cooperative question for docs/simulator.md: seed-daytrader (60 % load) with one VM pinned
# to governor "none" while the other backs off, and both backing off.
# Usage: bench/sim/cooperative.sh BUILD_BIN_DIR [extra prefcpu-sim run options...]
set -euo pipefail
bin=${1:?usage: $0 BUILD_BIN_DIR [options]}
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf "%-22s %10s %10s %10s %10s %8s %8s %7s %7s\n" who vm1_none vm1_gov vm2_none vm2_gov \
  steal1 steal2 pref1 pref2
for who in both vm1-only vm2-only; do
  pin1=""; pin2=""
  [ "$who" = vm1-only ] && pin2='governor = "none"'
  [ "$who" = vm2-only ] && pin1='governor = "none"'
  cat > "$dir/coop.toml" <<TOML
name = "cooperative-$who"
description = "seed-daytrader at 60 % load; $who backs off"
seed = 1
duration_s = 30.0
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
vcpus = 24
entitlement = 12.0
$pin1
[[vm]]
name = "vm2"
vcpus = 12
entitlement = 8.0
$pin2
TOML
  "$bin/prefcpu-sim" run "$dir/coop.toml" --json "$@" | python3 -c "
import json, sys
d = json.load(sys.stdin)
b, g = d['results'][0]['vms'], d['results'][1]['vms']
print('%-22s %10.1f %10.1f %10.1f %10.1f %7.1f%% %7.1f%% %7.1f %7.1f' % ('$who backs off', b[0]['value'],
      g[0]['value'], b[1]['value'], g[1]['value'], g[0]['steal_pct'], g[1]['steal_pct'],
      g[0]['mean_preferred'], g[1]['mean_preferred']))
"
done
