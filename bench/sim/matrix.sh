#!/bin/bash
# Issue 11's governor matrix in the simulator: kernel, kernel-v2, target and the oracle over
# overcommit 1x-4x, 2-8 guests, symmetric and 3:1 guests, guests that do not cooperate, OLTP load
# levels, hackbench on the overcommit rig's shapes, a load step down, and load steps and ramps within
# a run (bench/sim/steps.py, groups step and step-32); 3 seeds per cell.
# The work is in bench/sim/matrix.py (scenarios, runs, table) and bench/sim/govmetrics.py (the
# per-VM metrics, shared with bench/sim/target.sh). Needs only python3 and a built prefcpu-sim.
# Usage: bench/sim/matrix.sh BUILD_BIN_DIR [--jobs N] [--only SUBSTRING,...] [--seeds 1,2,3]
#        [--raw FILE.json] [--from-raw FILE.json] [--keep DIR]
set -euo pipefail
bin=${1:?usage: $0 BUILD_BIN_DIR [--jobs N] [--only SUBSTRING] [--seeds 1,2,3] [--raw FILE]}
shift
[ -x "$bin/prefcpu-sim" ] || { echo "$0: no prefcpu-sim in $bin (build it: docs/simulator.md)" >&2; exit 2; }
exec python3 "$(dirname "$0")/matrix.py" "$bin" "$@"
