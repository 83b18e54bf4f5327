#!/usr/bin/env bash
# The overcommit rig's ctest cases (tests/vm/CMakeLists.txt), each one short run of run.sh:
#   smoke.sh feed BIN_DIR CACHE   1 guest, 2 vCPUs on 1 host CPU, 2 spinners, governor none:
#                                 the host-fed steal must read near 50 % (40..70) in the guest,
#                                 busy time at most the 1 CPU received (0.6..1.1), and busy plus
#                                 steal must make up the 2 vCPUs that never halt (1.7..2.1): the
#                                 guest reads its time as a KVM guest would (docs/overcommit.md),
#                                 not as TCG's tick books it (busy near 2 on some hosts)
#   smoke.sh 4x BIN_DIR CACHE     1 guest, 4 vCPUs on 1 host CPU, hackbench, none, kernel, target,
#                                 oracle: baseline steal > 20 %, prefcpud shrinks under kernel,
#                                 target decides on the guest's busy time (0.3..1.1 CPUs: at most
#                                 the 1 host CPU; whether it shrinks in a 6 s run depends on 3
#                                 contended samples in a row, which the fed steal does not always
#                                 give), and the
#                                 oracle arm holds the guest's share (1 CPU) for the whole work;
#                                 the guest counts its task switches over the work (ctxt > 0)
#   smoke.sh tcg-cost BIN_DIR CACHE   tcg-cost.sh at its smallest: every figure reported, native
#                                 and in the guest, and a hand-off to another vCPU costs more
#                                 than one on the same vCPU (the IPI and the idle exit)
#   smoke.sh tcg-profile BIN_DIR CACHE   tcg-profile.sh at its smallest (4 vCPUs on 1 host CPU):
#                                 both arms timed and profiled by perf in the guest
# Exit 0 passed, 1 failed, 77 skipped (no kernel and no way to fetch it, no QEMU, not built).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case_name="${1-}" bin_dir="${2-}" cache="${3-}"
[ -n "$cache" ] || { echo "usage: $0 feed|4x|tcg-cost|tcg-profile BIN_DIR CACHE" >&2; exit 2; }
# shellcheck source=tests/vm/host-lib.sh
. "$here/../../tests/vm/host-lib.sh"
skip() { echo "overcommit-smoke SKIP: $*"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
command -v hackbench >/dev/null || skip "hackbench not installed (Debian package rt-tests)"
for b in prefcpud prefcpuctl; do [ -x "$bin_dir/$b" ] || skip "$b not built in $bin_dir"; done
mkdir -p "$cache"
kernel="$(fetch_kernel "$cache")" || skip "$kernel"
host_cpu="$(cut -d, -f1 </sys/devices/system/cpu/online | cut -d- -f1)"
json="$(mktemp /tmp/prefcpu-overcommit-smoke.XXXXXX.json)"
trap 'rm -f "$json"' EXIT
tcg_cost_checks() {
  python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
failed = False
for side in ("native", "guest"):
    bad = [k for k, v in d[side].items() if not v > 0]
    print(f"overcommit-smoke {'FAIL' if bad else 'PASS'} tcg-cost.{side}: {len(d[side])} figures"
          + (f", not positive: {bad}" if bad else ""))
    failed |= bool(bad)
g = d["guest"]
ok = g["handoff_remote_ns"] > g["handoff_local_ns"]
print(f"overcommit-smoke {'PASS' if ok else 'FAIL'} tcg-cost.remote: guest hand-off {g['handoff_remote_ns']:.0f} ns "
      f"across vCPUs, {g['handoff_local_ns']:.0f} ns on one (expected more across)")
# A TCG address-space switch flushes the vCPU's soft TLB and jump cache: several times a thread switch.
mm = g["switch_mm_ns"] > g["switch_ns"]
print(f"overcommit-smoke {'PASS' if mm else 'FAIL'} tcg-cost.mm: guest switch {g['switch_mm_ns']:.0f} ns between "
      f"processes, {g['switch_ns']:.0f} ns between threads (expected more between processes)")
sys.exit(1 if failed or not ok or not mm else 0)
PY
}
case "$case_name" in
  tcg-cost)
    rc=0
    "$here/tcg-cost.sh" --bin-dir "$bin_dir" --cache "$cache" --reps 1 --scale 1 --json "$json" || rc=$?
    [ "$rc" = 77 ] && skip "tcg-cost.sh skipped"
    [ "$rc" = 0 ] || { echo "overcommit-smoke FAIL: tcg-cost.sh exited with $rc"; exit 1; }
    tcg_cost_checks "$json"
    exit ;;
  tcg-profile)
    command -v perf >/dev/null || skip "perf not installed (Debian package linux-perf)"
    rc=0
    "$here/tcg-profile.sh" --bin-dir "$bin_dir" --cache "$cache" --host-cpus "$host_cpu" --runs 1 \
      --loops 30 --out "$json" || rc=$?
    [ "$rc" = 77 ] && skip "tcg-profile.sh skipped"
    [ "$rc" = 0 ] || { echo "overcommit-smoke FAIL: tcg-profile.sh exited with $rc"; exit 1; }
    failed=0
    for cpus in 0-3 0; do
      for what in "spin cpus=$cpus run=1 ms=" "hackbench cpus=$cpus run=1 ms=" "perf cpus=$cpus "; do
        if grep -q "^$what" "$json"; then echo "overcommit-smoke PASS tcg-profile: \"$what\" reported"
        else echo "overcommit-smoke FAIL tcg-profile: no \"$what\" line"; failed=1; fi
      done
    done
    exit "$failed" ;;
esac
# shellcheck disable=SC2054  # commas inside option values
case "$case_name" in
  feed) args=(--guests 1 --vcpus 2 --workload spin --governor none --quick) ;;
  4x) args=(--guests 1 --vcpus 4 --workload hackbench --governor none,kernel,target,oracle --quick
        --interval-ms 500) ;;
  *) echo "$0: unknown case \"$case_name\": expected feed, 4x, tcg-cost or tcg-profile" >&2; exit 2 ;;
esac
"$here/run.sh" --bin-dir "$bin_dir" --cache "$cache" --host-cpus "$host_cpu" --run-timeout 120 \
  --json "$json" "${args[@]}" || { echo "overcommit-smoke FAIL: run.sh failed"; exit 1; }
python3 - "$case_name" "$json" <<'PY'
import json, sys
case, rows = sys.argv[1], json.load(open(sys.argv[2]))["results"]
row = {r["governor"]: r for r in rows}
failed = []
def check(name, ok, detail):
    print(f"overcommit-smoke {'PASS' if ok else 'FAIL'} {name}: {detail}")
    if not ok: failed.append(name)
if case == "feed":
    s = row["none"]["steal_pct"]
    check("feed.steal", 40 <= s <= 70, f"2 spinners on 2 vCPUs on 1 host CPU: steal {s} % (expected 40..70)")
    b = row["none"]["busy_cpus"]
    check("feed.busy", b is not None and 0.6 <= b <= 1.1,
          f"busy {b} CPUs (expected 0.6..1.1: the 1 host CPU received)")
    total = None if b is None else b + 2 * s / 100
    check("feed.total", total is not None and 1.7 <= total <= 2.1,
          f"busy + steal {total} CPUs (expected 1.7..2.1: 2 spinning vCPUs)")
else:
    s = row["none"]["steal_pct"]
    check("4x.baseline_steal", s > 20, f"steal {s} % with governor none (expected > 20)")
    k = row["kernel"]
    check("4x.shrinks", k["shrinks"] > 0 and k["mean_preferred"] < 4,
          f"governor kernel: {k['shrinks']} shrinks, mean preferred {k['mean_preferred']} of 4")
    t = row["target"]
    b = t["busy_cpus"]
    check("4x.target", t["failed_runs"] == 0 and b is not None and 0.3 <= b <= 1.1,
          f"governor target: busy {b} CPUs (expected 0.3..1.1: at most the 1 host CPU), "
          f"{t['shrinks']} shrinks, {t['failed_runs']} failed runs")
    o = row["oracle"]["mean_preferred"]
    check("4x.oracle", abs(o - 1) < 0.01, f"oracle: mean preferred {o} (expected 1: the 1 host CPU)")
    c = row["none"]["events"]["ctxt"]
    check("4x.events", c is not None and c > 0, f"guest task switches over the work: {c} (expected > 0)")
sys.exit(1 if failed else 0)
PY
