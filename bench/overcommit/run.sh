#!/usr/bin/env bash
# The overcommit rig (docs/overcommit.md): boots G QEMU guests at once, pinned together to the
# host CPUs given, each running prefcpud and the same fixed work started at the same moment, and
# compares governors run after run (none, kernel, none, kernel, ...). Real steal: the host feeds
# each vCPU thread's run_delay into its guest (steal_feed.cpp -> vm-steal --host-feed).
set -euo pipefail

OC_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$OC_HERE/../.." && pwd)"
# shellcheck source=tests/vm/host-lib.sh
. "$repo/tests/vm/host-lib.sh"
# shellcheck source=bench/overcommit/workloads.sh
. "$OC_HERE/workloads.sh"
# shellcheck source=bench/overcommit/host.sh
. "$OC_HERE/host.sh"

usage() {
  cat <<EOF
usage: $0 [options]
  --guests G            guests booted at once (default 2)
  --vcpus V[,V2...]     vCPUs of each guest; one value for all (default 4)
  --threads T[,T2...]   SMT threads per core of each guest (default 1)
  --host-cpus LIST      host CPUs all the guests share (default: every online CPU)
  --workload NAME       $OC_WORKLOADS (default hackbench)
  --governor A,B,...    the arms, run interleaved: any governor \`prefcpuctl governors\` lists,
                        or oracle (default none,kernel); oracle: no governor, each guest's work
                        confined from the start to its share of the host CPUs (issue 11)
  --backoff GUESTS      only these guests (g1,g2...) run the arm's governor; the others run none
  --high BP --low BP --interval-ms N   prefcpud knobs (default: prefcpud's, 500/200/1000)
  --repeat N            runs per arm (default 5; 1 with --quick)
  --quick               a third of the work, and 1 run per arm unless --repeat says otherwise
  --mem MB              memory per guest (default 512)
  --accel tcg|kvm       tcg (default): steal fed from the host; kvm: the guest's steal clock
  --json FILE           results and configuration as JSON
  --plot FILE.png       steal and preferred CPUs over time of the first run of the second arm
  --simulate            also run prefcpu-sim on the same configuration, beside each row
  --bin-dir DIR         prefcpud, prefcpuctl, prefcpu-sim (default build/bin)
  --cache DIR           kernel and busybox cache (default: BIN_DIR/../vm-cache)
  --run-timeout S       a run that takes longer is a hung guest (default 300)
  --keep DIR            keep consoles and logs in DIR (default: a temp dir, removed at exit)
EOF
}

guests=2 vcpus_arg=4 threads_arg=1 host_cpus="" workload=hackbench governors=none,kernel
backoff="" high="" low="" interval="" repeat="" quick=0 mem=512 accel=tcg json="" plot=""
simulate=0 bin_dir="$repo/build/bin" cache="" run_timeout=300 keep=""
need() { [ $# -ge 2 ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --guests) need "$@"; guests="$2"; shift 2 ;;
    --vcpus) need "$@"; vcpus_arg="$2"; shift 2 ;;
    --threads) need "$@"; threads_arg="$2"; shift 2 ;;
    --host-cpus) need "$@"; host_cpus="$2"; shift 2 ;;
    --workload) need "$@"; workload="$2"; shift 2 ;;
    --governor) need "$@"; governors="$2"; shift 2 ;;
    --backoff) need "$@"; backoff="$2"; shift 2 ;;
    --high) need "$@"; high="$2"; shift 2 ;;
    --low) need "$@"; low="$2"; shift 2 ;;
    --interval-ms) need "$@"; interval="$2"; shift 2 ;;
    --repeat) need "$@"; repeat="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --mem) need "$@"; mem="$2"; shift 2 ;;
    --accel) need "$@"; accel="$2"; shift 2 ;;
    --json) need "$@"; json="$2"; shift 2 ;;
    --plot) need "$@"; plot="$2"; shift 2 ;;
    --simulate) simulate=1; shift ;;
    --bin-dir) need "$@"; bin_dir="$2"; shift 2 ;;
    --cache) need "$@"; cache="$2"; shift 2 ;;
    --run-timeout) need "$@"; run_timeout="$2"; shift 2 ;;
    --keep) need "$@"; keep="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option \"$1\" (see --help)" ;;
  esac
done
repeat="${repeat:-$(( quick ? 1 : 5 ))}"  # --quick with --repeat N: N runs of the short work

# ---- everything is checked before anything boots --------------------------------------------
validate_config
names=() vcpus=() threads=()
for (( i = 1; i <= guests; i++ )); do
  names+=("g$i")
  vcpus+=("$(nth "$vcpus_arg" "$i")")
  threads+=("$(nth "$threads_arg" "$i")")
done
validate_guests
OC_SPIN_THREADS=${vcpus[0]}  # spin: one loop per vCPU
cmd="$(workload_cmd "$workload" "$quick")"
IFS=, read -r -a arms <<<"$governors"
plan=()  # the arms interleaved: none kernel none kernel ...
for (( r = 0; r < repeat; r++ )); do plan+=("${arms[@]}"); done
runs=${#plan[@]}

work="${keep:-$(mktemp -d /tmp/prefcpu-overcommit.XXXXXX)}"
mkdir -p "$work"
trap 'cleanup $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

vm_steal="$(build_vm_steal "$cache" "$repo/tests/vm/guest/vm_steal.cpp")" || die "$vm_steal"
steal_feed="$(build_tool "$cache" "$OC_HERE/steal_feed.cpp" steal-feed)" || die "$steal_feed"
kernel="$(fetch_kernel "$cache")" || die "no guest kernel: $kernel"
busybox="$(fetch_busybox "$cache")" || die "no busybox: $busybox"

echo "overcommit: $guests guests (${vcpus[*]} vCPUs) on host CPUs $host_cpus, $workload" \
  "($cmd), arms ${arms[*]}, $repeat run(s) each, $accel; work dir $work"
started=$SECONDS
for (( i = 0; i < guests; i++ )); do build_guest "$i"; done
for (( i = 0; i < guests; i++ )); do boot_guest "$i"; done
start_feeder
wait_all "INFO BOOTED*" 180 "boot"
echo "overcommit: booted in $(( SECONDS - started ))s"
for (( k = 1; k <= runs; k++ )); do
  send_all "G $(( 2 * k - 1 ))"
  wait_all "INFO READY $k" 60 "run $k (${plan[k-1]}): prefcpud start"
  send_all "G $(( 2 * k ))"
  wait_all "INFO RUN $k *" "$run_timeout" "run $k (${plan[k-1]})"
  summarize_run "$k"
done
wait_all "END*" 60 "power-off"
wait_qemus 30
echo "overcommit: $runs runs in $(( SECONDS - started ))s"
report
echo "overcommit: $(( SECONDS - started )) s from the first boot to the report"
