#!/bin/bash
# Issue 11: `target` beside `kernel`, `kernel-v2` and the `oracle` yardstick in the simulator.
# Per scenario, case, governor and VM: the metric, its change against the same run with governor
# none, the fraction of the oracle's value, mean preferred vCPUs, mask changes (shrinks + grows),
# the governor interval after which preferred stays within one core (2 vCPUs) of its final value
# ("settled"), and mask changes per minute over the second half of the run ("steady/min"); the
# metrics are computed in bench/sim/govmetrics.py, shared with bench/sim/matrix.py.
# Usage: [OPTS="--interval-ms 100 ..."] bench/sim/target.sh BUILD_BIN_DIR [SCENARIO...]
# (default: the built-ins and step-32, step-32-both); OPTS go to every `prefcpu-sim run`.
set -euo pipefail
bin=${1:?usage: $0 BUILD_BIN_DIR [SCENARIO...]}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  scenarios=(seed-hackbench seed-daytrader no-overcommit cpu-bound large "$root/bench/sim/step-32.toml"
    "$root/bench/sim/step-32-both.toml")
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for scenario in "${scenarios[@]}"; do
  for governor in kernel kernel-v2 target oracle; do
    # shellcheck disable=SC2086
    "$bin/prefcpu-sim" run "$scenario" --governor "$governor" ${OPTS:-} --json \
      --timeseries "$dir/$governor.csv" >"$dir/$governor.json"
  done
  python3 "$root/bench/sim/govmetrics.py" "$dir" "$scenario" "${OPTS:-}"
done
