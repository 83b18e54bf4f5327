#!/usr/bin/env bash
# Where an overcommitted TCG guest's time goes (docs/simulator.md, "The tcg profile, measured"):
# one guest of --vcpus vCPUs, its QEMU confined to --host-cpus (default 4 vCPUs on one CPU: 4x
# overcommit with no other guest), runs the same work on all vCPUs and confined to --confined,
# and profiles hackbench with perf in the guest (tcg-profile.vm.sh). Prints the times, their
# ratio, and both profiles.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
die() { echo "tcg-profile: error: $*" >&2; exit 2; }
bin_dir="$repo/build/bin" cache="" host_cpus=0 vcpus=4 confined=0 runs=3 loops=300 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir|--cache|--host-cpus|--vcpus|--confined|--runs|--loops|--out)
      [ $# -ge 2 ] || die "$1 needs a value"
      case "$1" in
        --bin-dir) bin_dir="$2" ;; --cache) cache="$2" ;; --host-cpus) host_cpus="$2" ;;
        --runs) runs="$2" ;; --loops) loops="$2" ;; --out) out="$2" ;;
        --vcpus) vcpus="$2" ;; --confined) confined="$2" ;;
      esac
      shift 2 ;;
    -h|--help)
      echo "usage: $0 [--bin-dir DIR] [--cache DIR] [--host-cpus LIST] [--vcpus N] [--confined LIST]"
      echo "          [--runs N] [--loops N] [--out FILE]"
      echo "  defaults: --host-cpus 0 --vcpus 4 --confined 0 (the guest's vCPUs the confined arm uses)"
      exit 0 ;;
    *) die "unknown argument \"$1\": expected --bin-dir, --cache, --host-cpus, --vcpus, --confined, --runs, --loops, --out" ;;
  esac
done
[[ "$runs" =~ ^[0-9]+$ ]] && (( runs >= 1 && runs <= 20 )) || die "--runs \"$runs\": expected 1..20"
[[ "$loops" =~ ^[0-9]+$ ]] && (( loops >= 10 && loops <= 10000 )) || die "--loops \"$loops\": expected 10..10000"
[[ "$vcpus" =~ ^[0-9]+$ ]] && (( vcpus >= 2 && vcpus <= 16 )) || die "--vcpus \"$vcpus\": expected 2..16"
[[ "$confined" =~ ^[0-9]+(-[0-9]+)?$ ]] && (( ${confined##*-} < vcpus )) ||
  die "--confined \"$confined\": expected a vCPU or a range below --vcpus, e.g. 0 or 0-1"
taskset -c "$host_cpus" true 2>/dev/null || die "--host-cpus \"$host_cpus\": not a cpulist of online CPUs"
cache="${cache:-$(dirname "$bin_dir")/vm-cache}"
work="$(mktemp -d /tmp/tcg-profile.XXXXXX)"
# A signal must not leave the guest behind: QEMU runs under timeout's own process group, so it is
# found by its work directory.
cleanup() { pkill -TERM -f -- "$work/vm" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
rc=0
taskset -c "$host_cpus" "$repo/tests/vm/vm-run.sh" --bin-dir "$bin_dir" --cache "$cache" --work "$work/vm" \
  --cores "$vcpus" --append "tcg_profile.runs=$runs tcg_profile.loops=$loops tcg_profile.confined=$confined" "$here/tcg-profile.vm.sh" >"$work/vm.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$work/vm.out" >&2; exit "$rc"; }
tr -d '\r' <"$work/vm/results.log" | sed -n 's/^INFO tcg-profile //p' >"$work/lines"
[ -z "$out" ] || cp "$work/lines" "$out"
python3 - "$work/lines" "$host_cpus" "$vcpus" "$confined" <<'EOF'
import re, statistics, sys
host, vcpus, confined = sys.argv[2:5]
every = f"0-{int(vcpus) - 1}"
times = {}
for line in open(sys.argv[1]):
    m = re.match(r"(spin|hackbench) cpus=(\S+) run=\d+ ms=(\d+)", line)
    if m:
        times.setdefault((m[1], m[2]), []).append(int(m[3]))
print(f"one {vcpus}-vCPU TCG guest on host CPUs {host}; wall ms per run, all vCPUs against vCPUs {confined}")
for work in ("spin", "hackbench"):
    a, b = times.get((work, every), []), times.get((work, confined), [])
    if a and b:
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"  {work:<9} vCPUs {every}: {ma:.0f} ms {a}   vCPUs {confined}: {mb:.0f} ms {b}   "
              f"confined vs all: {(mb / ma - 1) * 100:+.1f} %")
for cpus in (every, confined):
    print(f"perf, hackbench on vCPUs {cpus} (top symbols, share of cpu-clock samples):")
    for line in open(sys.argv[1]):
        if line.startswith(f"perf cpus={cpus} "):
            print("  " + line.split(" ", 2)[2].rstrip())
EOF
