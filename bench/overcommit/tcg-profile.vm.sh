# vm-cores: 4
# vm-mem: 1024
# vm-timeout: 1200
# vm-programs: hackbench perf
#
# The guest half of bench/overcommit/tcg-profile.sh: one guest whose QEMU the host confines to
# fewer CPUs, so the guest is overcommitted on its own, with no other guest. The same work runs on
# all vCPUs and confined to tcg_profile.confined (default vCPU 0: what the oracle does), interleaved:
#   spin: one shell busy loop per vCPU, nothing shared: the cost of time-sharing vCPU threads;
#   hackbench: the rig's work, timed, then once more under perf (cpu-clock samples, kernel symbols),
#   to see where the vCPUs' time goes. Results: "INFO tcg-profile ..." lines.
runs=3 loops=300 spin=200000 confined=0
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    tcg_profile.runs=*) runs=${arg#*=} ;;
    tcg_profile.loops=*) loops=${arg#*=} ;;
    tcg_profile.spin=*) spin=${arg#*=} ;;
    tcg_profile.confined=*) confined=${arg#*=} ;;
  esac
done
# timed CPUS CMD...: CMD on CPUS (a cpulist), its wall time in ms on stdout.
timed() {
  local cpus="$1" t0 t1
  shift
  t0=$(now_ms)
  taskset -c "$cpus" "$@" >"$VM_TMP/timed.out" 2>&1 || { fail timed "$*: $(tail -n 2 "$VM_TMP/timed.out")"; return 1; }
  t1=$(now_ms)
  echo $(( t1 - t0 ))
}
all=$(online)
# One busy loop per vCPU, of SPIN steps each, in one script so that taskset confines them all.
cat >"$VM_TMP/spinners.sh" <<EOF
n=0
while [ "\$n" -lt $(cpus count "$all") ]; do
  n=\$(( n + 1 ))
  sh -c 'i=0; while [ "\$i" -lt "\$0" ]; do i=\$(( i + 1 )); done' "\$1" &
done
wait
EOF
phase timing
k=0
while [ "$k" -lt "$runs" ]; do
  k=$(( k + 1 ))
  for cpus in "$all" "$confined"; do
    ms=$(timed "$cpus" sh "$VM_TMP/spinners.sh" "$spin") || break 2
    info "tcg-profile spin cpus=$cpus run=$k ms=$ms"
    ms=$(timed "$cpus" hackbench -p -g 4 -l "$loops") || break 2
    info "tcg-profile hackbench cpus=$cpus run=$k ms=$ms"
  done
done
phase profile
for cpus in "$all" "$confined"; do
  # -C: only the vCPUs that run the work, so that the others' idle does not dilute the profile.
  if taskset -c "$cpus" perf record -q -C "$cpus" -e cpu-clock -F 997 -o "$VM_TMP/perf.$cpus" \
      hackbench -p -g 4 -l "$loops" >"$VM_TMP/perf.out" 2>&1; then
    perf report -q -i "$VM_TMP/perf.$cpus" --sort sym --stdio 2>/dev/null | grep -v '^$' | head -n 25 |
      while read -r line; do info "tcg-profile perf cpus=$cpus $line"; done
  else
    fail perf "$(tail -n 3 "$VM_TMP/perf.out")"
  fi
done
pass tcg-profile "$runs runs"
