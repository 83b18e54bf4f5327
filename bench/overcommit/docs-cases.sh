#!/usr/bin/env bash
# Re-runs the cases of docs/overcommit.md, one run.sh each, into OUT (default
# docs/overcommit-data): NAME.txt (the table) and NAME.json. On a machine shared with builds, wrap
# each case in an exclusive lock: LOCK="flock -x /tmp/prefcpu-cpu.lock" bench/overcommit/docs-cases.sh
# Cases: the names below, or none for all.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${OUT:-$here/../../docs/overcommit-data}"
mkdir -p "$out"
declare -A cases=(
  [feed]="--guests 1 --vcpus 2 --host-cpus 0 --workload spin --governor none --quick"
  [default]="--simulate --plot $here/../../docs/img/overcommit-default.png"
  [1x]="--guests 1 --vcpus 2 --quick --repeat 3 --simulate"
  [1x-high]="--guests 1 --vcpus 2 --quick --repeat 3 --high 1000 --low 500"
  [2x]="--guests 2 --vcpus 2 --quick --repeat 3 --simulate"
  [asym]="--guests 2 --vcpus 6,2 --quick --repeat 3 --simulate"
  [governors]="--governor none,kernel,kernel-v2 --quick --repeat 3"
  [tuned]="--governor none,kernel,kernel-v2 --interval-ms 100 --high 200 --low 100 --quick --repeat 3 --plot $here/../../docs/img/overcommit-tuned.png"
  [coop]="--backoff g1 --quick --repeat 3"
  [mutex]="--workload sysbench-mutex --quick --repeat 3"
  [threads]="--workload sysbench-threads --quick --repeat 3"
  [cpu]="--workload sysbench-cpu --quick --repeat 3"
  [hb-threads]="--workload hackbench-threads --quick --repeat 3"
  [sqlite]="--workload sqlite --quick --repeat 3"
  [target-default]="--governor none,kernel,target,oracle --repeat 5"
  [target-asym]="--guests 2 --vcpus 6,2 --quick --repeat 3 --governor none,kernel,target,oracle"
  [oracle-events]="--quick --repeat 3 --governor none,oracle"
  [fixed-1x]="--guests 1 --vcpus 2 --quick --repeat 3 --governor none,kernel,oracle"
  [fixed-2x]="--guests 2 --vcpus 2 --quick --repeat 3 --governor none,kernel,oracle"
)
order="default feed 1x 1x-high 2x asym governors tuned coop mutex cpu threads hb-threads sqlite target-default target-asym oracle-events fixed-1x fixed-2x"
# shellcheck disable=SC2048,SC2086  # names are single words
for name in ${*:-$order}; do
  [ -n "${cases[$name]+x}" ] || { echo "docs-cases: unknown case \"$name\": expected one of $order" >&2; exit 2; }
  echo "== $name: bench/overcommit/run.sh ${cases[$name]} --json $out/$name.json"
  # shellcheck disable=SC2086  # LOCK and the case are word lists
  ${LOCK:-} "$here/run.sh" ${cases[$name]} --json "$out/$name.json" 2>&1 | tee "$out/$name.txt"
done
