#!/bin/bash
# Model variants for docs/simulator.md: a built-in scenario with one [host] or [guest] key
# changed, run with the given options. Prints the built-in's JSON summary per variant.
# Usage: bench/sim/variants.sh BUILD_BIN_DIR SCENARIO [prefcpu-sim run options...]
set -euo pipefail
bin=${1:?usage: $0 BUILD_BIN_DIR SCENARIO [options]}
scenario=${2:?usage: $0 BUILD_BIN_DIR SCENARIO [options]}
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
variant() {  # name section key value
  local name=$1 section=$2 key=$3 value=$4
  shift 4
  if [ "$section" = none ]; then
    cp "$root/scenarios/$scenario.toml" "$dir/v.toml"
  elif grep -q "^\[$section\]" "$root/scenarios/$scenario.toml"; then
    sed "s/^\[$section\]/[$section]\n$key = $value/" "$root/scenarios/$scenario.toml" > "$dir/v.toml"
  else
    { cat "$root/scenarios/$scenario.toml"; printf "\n[%s]\n%s = %s\n" "$section" "$key" "$value"; } \
      > "$dir/v.toml"
    # [guest] must come before [[vm]]: move the appended table to the top.
    python3 - "$dir/v.toml" "$section" <<'PY'
import sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
head, _, tail = text.rpartition("\n[%s]\n" % section)
first_vm = head.index("[[vm]]")
open(path, "w").write(head[:first_vm] + "[%s]\n%s\n" % (section, tail) + head[first_vm:])
PY
  fi
  "$bin/prefcpu-sim" run "$dir/v.toml" --json "$@" | python3 -c "
import json, sys
d = json.load(sys.stdin)
rows = d['results']
for i in range(0, len(rows), 2):
    b, g = rows[i]['vms'], rows[i + 1]['vms']
    cells = []
    for vb, vg in zip(b, g):
        better = (vb['value'] - vg['value']) / vb['value'] if vb['metric'] == 'time_s' else (vg['value'] - vb['value']) / vb['value']
        cells.append('%s %.3f -> %.3f (%+.1f%%, hp %d -> %d, spin %.0f -> %.0f ms)' % (vb['name'], vb['value'], vg['value'], better * 100, vb['holder_preemptions'], vg['holder_preemptions'], vb['spin_ms'], vg['spin_ms']))
    print('%-34s %-10s %s' % ('$name', rows[i]['case'], ' | '.join(cells)))
"
}
variant "as shipped" none x x "$@"
variant "v2-v5 wakeup (skip non-preferred)" guest wakeup_skips_non_preferred true "$@"
variant "no vcpu_is_preempted" guest pv_preempted false "$@"
variant "flat refill (before working sets)" host refill '"flat"' "$@"
variant "switch+refill costs x10" host "context_switch_ns = 30000\nrefill = \"flat\"\nrefill_penalty_ns" 67000 "$@"
