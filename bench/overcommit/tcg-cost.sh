#!/usr/bin/env bash
# The tcg profile's guest-side costs, measured (docs/simulator.md, "The tcg profile, measured"):
# bench/overcommit/tcg_cost.cpp natively on two host CPUs, then inside a 2-vCPU QEMU TCG guest
# alone on the same two CPUs (no overcommit, so nothing of the rig's mechanism is in the figures),
# with the rig's kernel. Prints both, their ratio, and the scenario keys that follow from the
# guest's figures; --json writes them all. Time and CPU: run it alone (flock -x on a shared host).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=tests/vm/host-lib.sh
. "$repo/tests/vm/host-lib.sh"

usage() {
  cat <<EOF
usage: $0 [--bin-dir DIR] [--cache DIR] [--reps N] [--scale N] [--cpus A,B] [--json FILE]
  --bin-dir DIR  prefcpud's build (default $repo/build/bin); only its vm-cache is used
  --cache DIR    kernel and busybox cache (default: BIN_DIR/../vm-cache)
  --reps N       repetitions per figure, medians reported (default 5, 1..99)
  --scale N      work per repetition (default 10, 1..1000; 1 is the smoke test's)
  --cpus A,B     the two host CPUs of the native run and the guest (default 0,1)
  --json FILE    write native, guest and derived figures as JSON
EOF
}
die() { echo "tcg-cost: error: $*" >&2; exit 2; }
bin_dir="$repo/build/bin" cache="" reps=5 scale=10 cpus=0,1 json=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir|--cache|--reps|--scale|--cpus|--json)
      [ $# -ge 2 ] || die "$1 needs a value"
      case "$1" in
        --bin-dir) bin_dir="$2" ;; --cache) cache="$2" ;; --reps) reps="$2" ;;
        --scale) scale="$2" ;; --cpus) cpus="$2" ;; --json) json="$2" ;;
      esac
      shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument \"$1\"" ;;
  esac
done
[[ "$reps" =~ ^[0-9]+$ ]] && (( reps >= 1 && reps <= 99 )) || die "--reps \"$reps\": expected 1..99"
[[ "$scale" =~ ^[0-9]+$ ]] && (( scale >= 1 && scale <= 1000 )) || die "--scale \"$scale\": expected 1..1000"
[[ "$cpus" =~ ^[0-9]+,[0-9]+$ ]] || die "--cpus \"$cpus\": expected two CPUs, e.g. 0,1"
for c in ${cpus/,/ }; do
  [ -d "/sys/devices/system/cpu/cpu$c" ] || die "--cpus \"$cpus\": CPU $c does not exist"
done
cache="${cache:-$(dirname "$bin_dir")/vm-cache}"
mkdir -p "$cache"
work="$(mktemp -d /tmp/tcg-cost.XXXXXX)"
# A signal must not leave the guest behind: QEMU runs under timeout's own process group, so it is
# found by its work directory.
cleanup() { pkill -TERM -f -- "$work/vm" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

tool="$(build_tool "$cache" "$here/tcg_cost.cpp" tcg-cost)" || die "$tool"
echo "tcg-cost: native, on host CPUs $cpus"
taskset -c "$cpus" "$tool" --cpus "$cpus" --reps "$reps" --scale "$scale" >"$work/native"
# The rig's 1x work natively, as the guest runs it (tcg-cost.vm.sh): time and task switches.
command -v hackbench >/dev/null || die "hackbench not installed (Debian package rt-tests)"
loops=$(( scale >= 10 ? 300 : 30 ))
c0=$(awk '/^ctxt/ { print $2 }' /proc/stat)
taskset -c "$cpus" hackbench -p -g 4 -l "$loops" >"$work/hackbench" 2>&1 || die "hackbench: $(cat "$work/hackbench")"
c1=$(awk '/^ctxt/ { print $2 }' /proc/stat)
{ echo "hackbench_loops $loops"; echo "hackbench_s $(sed -n 's/^Time: //p' "$work/hackbench")"
  echo "hackbench_ctxt $(( c1 - c0 ))"; } >>"$work/native"
echo "tcg-cost: in a 2-vCPU TCG guest on host CPUs $cpus"
rc=0
taskset -c "$cpus" "$repo/tests/vm/vm-run.sh" --bin-dir "$bin_dir" --cache "$cache" \
  --work "$work/vm" --append "tcg_cost.reps=$reps tcg_cost.scale=$scale" \
  "$here/tcg-cost.vm.sh" >"$work/vm.out" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
  cat "$work/vm.out" >&2
  [ "$rc" = 77 ] && exit 77
  die "the guest run failed (vm-run.sh exit $rc)"
fi
tr -d '\r' <"$work/vm/results.log" | sed -n 's/^INFO tcg-cost //p' >"$work/guest"
python3 - "$work/native" "$work/guest" "$json" "$reps" "$scale" <<'EOF'
import json, sys
def load(path):
    return {k: float(v) for k, v in (line.split() for line in open(path) if line.strip())}
native, guest = load(sys.argv[1]), load(sys.argv[2])
keys = ["loop_ns", "write_ns", "read_ns", "switch_ns", "wake_local_ns", "wake_remote_ns", "handoff_local_ns",
        "handoff_remote_ns", "switch_mm_ns", "handoff_local_mm_ns", "hackbench_s", "hackbench_ctxt"]
missing = [k for k in keys if k not in guest or k not in native]
if missing:
    sys.exit(f"tcg-cost: error: the guest did not report {', '.join(missing)}")
print(f"{'figure':<20}{'native ns':>12}{'TCG guest ns':>14}{'ratio':>8}")
for k in keys:
    print(f"{k:<20}{native[k]:>12.1f}{guest[k]:>14.1f}{guest[k] / max(native[k], 1e-9):>8.1f}")
# The scenario keys of the tcg profile (docs/simulator.md), each from the guest's own figures on
# the hot path hackbench -p runs, between processes: a switch changes the address space (in TCG
# it flushes the vCPU's soft TLB and jump cache), and a hand-off is write + wakeup + switch +
# read, so the wakeup is what is left (with the refill after the flush); a hand-off to another
# vCPU costs the IPI's delivery and the idle exit on top (the model has one figure for both,
# ipi_ns; from the threads' hand-offs, where nothing else differs). The cold wakeups (wake_*_ns)
# are reported, not used: a vCPU that halted for 2 ms is not hackbench's case, and their medians
# vary run to run.
derived = {
    "write_ns": round(guest["write_ns"]),
    "read_ns": round(guest["read_ns"]),
    "task_switch_ns": round(guest["switch_mm_ns"]),
    "wake_ns": max(0, round(guest["handoff_local_mm_ns"] - guest["write_ns"] - guest["read_ns"]
                            - guest["switch_mm_ns"])),
    "ipi_ns": max(0, round(guest["handoff_remote_ns"] - guest["handoff_local_ns"])),
}
msgs = 4 * 20 * 20 * guest["hackbench_loops"]  # hackbench -g 4: 20 senders x 20 receivers
for name, d in (("native", native), ("guest", guest)):
    print(f"hackbench -p -g 4 -l {d['hackbench_loops']:.0f} {name}: {d['hackbench_s']:.2f} s, "
          f"{d['hackbench_ctxt'] / msgs:.2f} task switches per message, "
          f"{d['hackbench_s'] * 2e9 / msgs:.0f} ns of the 2 CPUs per message")
print("derived (guest):", " ".join(f"{k} = {v}" for k, v in derived.items()))
if sys.argv[3]:
    with open(sys.argv[3], "w") as f:
        json.dump({"reps": int(sys.argv[4]), "scale": int(sys.argv[5]), "native": native,
                   "guest": guest, "derived": derived}, f, indent=1)
        f.write("\n")
EOF
