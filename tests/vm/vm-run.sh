#!/usr/bin/env bash
# Boots one VM scenario: builds an initramfs (busybox, the project's binaries with the libraries
# ldd names, the guest init, lib.sh and the scenario), boots it under QEMU/TCG with the topology
# the scenario asks for, and prints the guest's PASS/FAIL/SKIP lines and a verdict.
# Exit: 0 passed, 1 failed, 77 skipped (no kernel, no QEMU, or a binary the scenario needs).
# See docs/testing.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/vm/host-lib.sh
. "$here/host-lib.sh"

usage() {
  cat <<EOF
usage: $0 --bin-dir DIR [options] SCENARIO
  SCENARIO           a file, or a name under tests/vm/scenarios (e.g. 01-cgroup-v2)
  --bin-dir DIR      where prefcpud and prefcpuctl are (e.g. build/bin)
  --cache DIR        kernel, busybox and helper cache (default: DIR/../vm-cache)
  --work DIR         initramfs and logs of this run (default: CACHE/../vm-work/SCENARIO)
  --cores N --threads N --nodes N --cpus N --mem MB
                     override the scenario's topology (cpus: CPUs online at boot, via maxcpus=)
  --append TEXT      extra kernel command line (added to the scenario's)
  --timeout S        kill the guest after S seconds (default: the scenario's, else 120)
  --shell            interactive: run the scenario, then a shell on this terminal (Ctrl-A X quits)
  --no-scenario      with --shell: skip the scenario, go straight to the shell
  --verbose          print the guest console even when every check passed
  --deb-dir DIR      where prefcpu_*.deb is, for scenarios on the systemd rootfs (vm-rootfs:);
                     built there by packaging/build-deb.sh when missing or older than the sources
EOF
}

deb_dir="" bin_dir="" cache="" work="" scenario="" shell=0 run_scenario=1 verbose=0
o_cores="" o_threads="" o_nodes="" o_cpus="" o_mem="" o_append="" o_timeout=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --cache) cache="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --cores) o_cores="$2"; shift 2 ;;
    --threads) o_threads="$2"; shift 2 ;;
    --nodes) o_nodes="$2"; shift 2 ;;
    --cpus) o_cpus="$2"; shift 2 ;;
    --mem) o_mem="$2"; shift 2 ;;
    --append) o_append="$2"; shift 2 ;;
    --timeout) o_timeout="$2"; shift 2 ;;
    --shell) shell=1; shift ;;
    --no-scenario) run_scenario=0; shift ;;
    --verbose) verbose=1; shift ;;
    --deb-dir) deb_dir="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "vm-run: unknown option \"$1\"" >&2; usage >&2; exit 2 ;;
    *) scenario="$1"; shift ;;
  esac
done
if [ -z "$bin_dir" ] || [ -z "$scenario" ]; then usage >&2; exit 2; fi
[ -d "$bin_dir" ] || { echo "vm-run: --bin-dir \"$bin_dir\" is not a directory" >&2; exit 2; }
bin_dir="$(cd "$bin_dir" && pwd)"
if [ ! -f "$scenario" ]; then
  [ -f "$here/scenarios/$scenario.sh" ] || {
    echo "vm-run: no scenario \"$scenario\": expected a file or one of:" \
      "$(cd "$here/scenarios" && ls ./*.sh | sed 's|^./||; s|\.sh$||' | tr '\n' ' ')" >&2
    exit 2
  }
  scenario="$here/scenarios/$scenario.sh"
fi
name="$(basename "$scenario" .sh)"
cache="${cache:-$(dirname "$bin_dir")/vm-cache}"
work="${work:-$(dirname "$cache")/vm-work/$name}"
mkdir -p "$cache" "$work"
cache="$(cd "$cache" && pwd)"

# The scenario's own settings: "# vm-KEY: VALUE" lines at its top.
cores="$(scenario_header "$scenario" cores 1)"
threads="$(scenario_header "$scenario" threads 1)"
nodes="$(scenario_header "$scenario" nodes 1)"
cpus="$(scenario_header "$scenario" cpus "")"
mem="$(scenario_header "$scenario" mem 512)"
append="$(scenario_header "$scenario" append "")"
needs="$(scenario_header "$scenario" needs "")"
timeout_s="$(scenario_header "$scenario" timeout 120)"
qemu_extra="$(scenario_header "$scenario" qemu "")"
rootfs="$(scenario_header "$scenario" rootfs "")"
tools="$(scenario_header "$scenario" tools "")"
programs="$(scenario_header "$scenario" programs "")"
cores="${o_cores:-$cores}" threads="${o_threads:-$threads}" nodes="${o_nodes:-$nodes}"
cpus="${o_cpus:-$cpus}" mem="${o_mem:-$mem}" timeout_s="${o_timeout:-$timeout_s}"
append="$append${o_append:+ $o_append}"

verdict_skip() {
  echo "vm[$name] SKIP: $*"
  echo "vm[$name] result: SKIP ($*)"
  exit 77
}

command -v qemu-system-x86_64 >/dev/null ||
  verdict_skip "qemu-system-x86_64 not installed (Debian package qemu-system-x86; make deps-test)"
command -v cpio >/dev/null || verdict_skip "cpio not installed (Debian package cpio)"
for binary in $needs; do
  [ -x "$bin_dir/$binary" ] || verdict_skip "$binary not found in $bin_dir (not built yet)"
done
(( cores % nodes == 0 )) || { echo "vm-run: cores=$cores is not a multiple of nodes=$nodes" >&2; exit 2; }

started=$(date +%s.%N)
kernel="$(fetch_kernel "$cache")" || verdict_skip "$kernel"
busybox="$(fetch_busybox "$cache")" || verdict_skip "$busybox"
vm_steal="$(build_vm_steal "$cache" "$here/guest/vm_steal.cpp")" || {
  echo "vm[$name] FAIL: $vm_steal"; echo "vm[$name] result: FAIL"; exit 1; }

total=$(( cores * threads ))
kargs="console=ttyS0 loglevel=4 panic=-1 rdinit=/init tsc=reliable mitigations=off $VM_FAST_BOOT_ARGS"
[ -n "$cpus" ] && kargs="$kargs maxcpus=$cpus"
[ -n "$append" ] && kargs="$kargs $append"
vm_config="VM_NAME=$name
VM_CORES=$cores
VM_THREADS=$threads
VM_NODES=$nodes
VM_CPUS=$total
VM_BOOT_CPUS=${cpus:-$total}
VM_APPEND='$append'
VM_SCENARIO_TIMEOUT=$(( timeout_s > 40 ? timeout_s - 20 : timeout_s / 2 ))
VM_STEP_TIMEOUT=${VM_STEP_TIMEOUT:-15}
VM_START_TIMEOUT=${VM_START_TIMEOUT:-30}
VM_SHELL=$shell
VM_RUN_SCENARIO=$run_scenario"

initrd="$work/initrd.cpio"
if [ -n "$rootfs" ]; then
  # Debian with systemd as PID 1: the cached rootfs plus this run's package and scenario.
  [ "$rootfs" = debian12-systemd ] || { echo "vm-run: unknown vm-rootfs \"$rootfs\"" >&2; exit 2; }
  base="$(fetch_rootfs "$cache")" || verdict_skip "$base"
  deb_dir="${deb_dir:-$(dirname "$cache")/deb}"
  deb="$(find_deb "$deb_dir" 2>/dev/null)" || deb=""
  top="$(cd "$here/../.." && pwd)"
  if [ -z "$deb" ] || [ -n "$(find "$top/src" "$top/packaging" "$top/debian" "$top/CMakeLists.txt" \
      -newer "$deb" -type f -print -quit)" ]; then
    echo "vm[$name] building the package into $deb_dir (packaging/build-deb.sh)"
    deb_rc=0
    JOBS="${JOBS:-2}" "$top/packaging/build-deb.sh" "$deb_dir" >"$work/build-deb.log" 2>&1 || deb_rc=$?
    # 2: a packaging tool is missing (build-deb.sh names it); anything else is a broken build.
    [ "$deb_rc" -eq 2 ] && verdict_skip "$(tail -n 1 "$work/build-deb.log")"
    [ "$deb_rc" -eq 0 ] || {
      tail -n 30 "$work/build-deb.log"
      echo "vm[$name] FAIL: building the package failed, see $work/build-deb.log"
      echo "vm[$name] result: FAIL"
      exit 1
    }
    deb="$(find_deb "$deb_dir")"
  fi
  build_systemd_overlay "$work/root" "$work/overlay.cpio" "$deb" "$vm_steal" "$here/guest" \
    "$scenario" "$vm_config"
  cat "$base" "$work/overlay.cpio" >"$initrd"
  rm -f "$work/overlay.cpio"
  kargs="${kargs/rdinit=\/init/rdinit=/lib/systemd/systemd} systemd.show_status=0"
else
  # vm-tools: C++ files (paths from the repository's top), each built static as its base name.
  extra=""
  for source in $tools; do
    tool="$(basename "$source" .cpp | tr _ -)"
    built="$(build_tool "$cache" "$here/../../$source" "$tool")" || {
      echo "vm[$name] FAIL: $built"; echo "vm[$name] result: FAIL"; exit 1; }
    extra="$extra $built"
  done
  # vm-programs: host programs (with their libraries), e.g. hackbench.
  for program in $programs; do
    path="$(command -v "$program")" || verdict_skip "$program not installed on the host"
    extra="$extra $path"
  done
  build_initramfs "$work/root" "$initrd" "$busybox" "$vm_steal" "$here/guest" "$scenario" \
    "$bin_dir" "$vm_config" "$extra"
fi

# shellcheck disable=SC2054  # commas inside QEMU option values
qemu=(qemu-system-x86_64 -accel tcg,thread=multi -nodefaults -no-reboot -display none
  -m "$mem" -kernel "$kernel" -initrd "$initrd" -append "$kargs")
qemu+=(-smp "$total,sockets=$nodes,cores=$(( cores / nodes )),threads=$threads")
if (( nodes > 1 )); then
  per_node=$(( total / nodes ))
  for (( n = 0; n < nodes; n++ )); do
    qemu+=(-object "memory-backend-ram,id=m$n,size=$(( mem / nodes ))M"
      -numa "node,cpus=$(( n * per_node ))-$(( (n + 1) * per_node - 1 )),nodeid=$n,memdev=m$n")
  done
fi
if [ -n "$qemu_extra" ]; then
  # Scenario extras may name @WORK@ for files of this run (e.g. a small disk image).
  read -r -a extra <<<"${qemu_extra//@WORK@/$work}"
  qemu+=("${extra[@]}")
fi
console="$work/console.log" results="$work/results.log"
rm -f "$console" "$results"
: >"$results"
prepare_qemu_files "$qemu_extra" "$work"

echo "vm[$name] booting: cores=$cores threads=$threads nodes=$nodes cpus=${cpus:-$total}/$total" \
  "mem=${mem}M append=\"$append\""
if (( shell )); then
  echo "vm[$name] interactive: the guest console is this terminal; Ctrl-A X quits QEMU"
  "${qemu[@]}" -serial mon:stdio -serial "file:$results" || true
  exit 0
fi
for attempt in 1 2; do
  rc=0
  timeout -k 5 "$timeout_s" "${qemu[@]}" -serial "file:$console" -serial "file:$results" \
    >"$work/qemu.log" 2>&1 || rc=$?
  # Multi-threaded TCG now and then runs a stale translation of kernel text that text_poke_bp()
  # is patching, and the guest dies with "Oops: int3" (seen about once in 30 boots, mostly during
  # boot). That is the emulator, not prefcpu: boot once more, saying so, and keep the first console.
  retry=""
  if grep -q 'Oops: int3' "$console" 2>/dev/null; then
    retry="the guest kernel hit \"Oops: int3\" (multi-threaded TCG patching kernel text)"
  elif ! grep -q "^vm: $name on " "$console" 2>/dev/null && ! grep -q '^END' "$results"; then
    retry="the guest died before its scenario started (rc=$rc)"
  fi
  [ -n "$retry" ] && [ "$attempt" = 1 ] || break
  mv "$console" "$work/console.attempt1.log"
  mv "$results" "$work/results.attempt1.log"
  : >"$results"
  echo "vm[$name] RETRY: $retry; booting again (first console: $work/console.attempt1.log)"
done
elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
report_results "$name" "$results" "$console" "$work/qemu.log" "$rc" "$timeout_s" "$elapsed" \
  "$verbose"
