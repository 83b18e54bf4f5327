# shellcheck shell=dash disable=SC3043,SC2034,SC2154
# The overcommit rig's guest side (docs/overcommit.md), run by tests/vm/guest/init as
# /vm/scenario.sh with /vm/config (OC_* below) and tests/vm/guest/lib.sh.
#   OC_PLAN        governors of the runs, in order ("none kernel none kernel")
#   OC_CMD         the fixed work, run in the cpuset cgroup "bench" that prefcpud manages
#   OC_DAEMON_ARGS extra prefcpud flags (--interval-ms, --high, --low)
#   OC_ORACLE_CPUS the oracle arm's fixed preferred CPUs (this guest's share of the host)
#   OC_ACCEL       tcg: steal comes from the host over /dev/ttyS2 (vm-steal --host-feed);
#                  kvm: the kernel's own steal clock, /proc/stat as it is
# Run K is two host signals: "G 2K-1" (every guest is idle: start prefcpud) and "G 2K" (every
# daemon is up: start the work). Results go to /dev/ttyS1 as "RUN K ..." and "JSON K ..." lines.
OC_FEED_DEV=/dev/ttyS2
OC_GO_TIMEOUT=${OC_GO_TIMEOUT:-600}
OC_DAEMON_CONFIG=/run/oc-prefcpud.toml

# steal_ticks FILE: the aggregate steal of a /proc/stat, with builtins only.
steal_ticks() {
  local _cpu _u _n _s _i _io _irq _sirq st _rest
  read -r _cpu _u _n _s _i _io _irq _sirq st _rest <"$1"
  echo "$st"
}
# guest_events: task switches (/proc/stat ctxt) and the rescheduling, function-call and TLB
# shootdown IPIs (/proc/interrupts RES, CAL, TLB, summed over CPUs), as four numbers: what the
# simulator's mechanisms would have to reproduce (docs/simulator.md).
guest_events() {
  awk '$1 == "ctxt" { c = $2 }
    $1 == "RES:" || $1 == "CAL:" || $1 == "TLB:" {
      n = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i; v[$1] = n }
    END { printf "%d %d %d %d\n", c, v["RES:"], v["CAL:"], v["TLB:"] }' /proc/stat /proc/interrupts
}
# events_delta BEFORE AFTER: guest_events' four counts over the work, as KEY=VALUE words.
events_delta() {
  # shellcheck disable=SC2086  # four words each
  set -- $1 $2
  echo "ctxt=$(( $5 - $1 )) ipi_res=$(( $6 - $2 )) ipi_cal=$(( $7 - $3 )) ipi_tlb=$(( $8 - $4 ))"
}
# oc_preferred_is LIST: prefcpud has published LIST as its preferred CPUs.
oc_preferred_is() { local p; read -r p <"$STATE/preferred" && [ "$p" = "$1" ]; }
# raw LINE: to the host only (long lines stay off the console).
raw() { echo "$*" >"$VM_RESULTS"; }
wait_go() {
  wait_until "$OC_GO_TIMEOUT" test -e "$STEAL_CTL/go.$1" ||
    { fail "go.$1" "no start signal from the host in ${OC_GO_TIMEOUT}s"; return 1; }
}

phase setup
echo +cpuset >"$CG/cgroup.subtree_control"
cg_make bench "$(online)"
mkdir -p "$STEAL_CTL" "$STATE"
vm-steal --host-feed "$OC_FEED_DEV" "$STEAL_FILE" "$STEAL_CTL" >"$VM_TMP/vm-steal.log" 2>&1 &
echo $! >"$VM_TMP/vm-steal.pid"
wait_until "$T_START" test -f "$STEAL_CTL/ready" ||
  { fail feed.start "vm-steal --host-feed did not open $OC_FEED_DEV: $(cat "$VM_TMP/vm-steal.log")"; return 0; }
if [ "$OC_ACCEL" = kvm ]; then
  proc_stat=/proc/stat
else
  proc_stat="$STEAL_FILE"
  wait_until "$T_START" test -f "$STEAL_FILE" ||
    { fail feed.data "no run_delay line from the host in ${T_START}s"; return 0; }
fi
# Every sample of the longest run fits the history.
echo "history_size = 20000" >"$OC_DAEMON_CONFIG"
info "BOOTED $(online)"

k=0
for gov in $OC_PLAN; do
  k=$(( k + 1 ))
  wait_go $(( 2 * k - 1 )) || break
  rm -f "$STATE/preferred" "$STATE/status.json"
  # oracle: no governor; the work is confined to a fixed share of the host from the start.
  daemon_gov=$gov
  [ "$gov" = oracle ] && daemon_gov=none
  # shellcheck disable=SC2086  # OC_DAEMON_ARGS is a list of flags
  prefcpud --foreground --config "$OC_DAEMON_CONFIG" --governor "$daemon_gov" $OC_DAEMON_ARGS \
    --state-dir "$STATE" --proc-stat "$proc_stat" --cgroup bench >"$VM_TMP/prefcpud.$k.log" 2>&1 &
  DAEMON_PID=$!
  echo "$DAEMON_PID" >"$VM_TMP/daemon.pid"
  if ! wait_until "$T_START" test -s "$STATE/preferred"; then
    fail "daemon.$k" "prefcpud did not start: $(tail -n 5 "$VM_TMP/prefcpud.$k.log")"
    break
  fi
  if [ "$gov" = oracle ]; then
    if ! { prefcpuctl set-preferred --state-dir "$STATE" "$OC_ORACLE_CPUS" >"$VM_TMP/oracle.$k.log" 2>&1 &&
      wait_until "$T_START" oc_preferred_is "$OC_ORACLE_CPUS"; }; then
      fail "oracle.$k" "set-preferred $OC_ORACLE_CPUS: $(cat "$VM_TMP/oracle.$k.log")"
      break
    fi
  fi
  info "READY $k"
  wait_go $(( 2 * k )) || break
  s0=$(steal_ticks "$proc_stat")
  ev0=$(guest_events)
  t0=$(now_ms)
  # shellcheck disable=SC2016,SC2086  # $$ is the child's; OC_CMD is words
  sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG/bench" $OC_CMD >"$VM_TMP/work.$k.log" 2>&1
  rc=$?
  t1=$(now_ms)
  ev1=$(guest_events)
  s1=$(steal_ticks "$proc_stat")
  history="$(prefcpuctl history --json --state-dir "$STATE" | tr -d ' \n')"
  status="$(prefcpuctl status --json --state-dir "$STATE" | tr -d ' \n')"
  daemon_stop TERM
  [ "$rc" = 0 ] || fail "work.$k" "$OC_CMD exited with $rc: $(tail -n 3 "$VM_TMP/work.$k.log")"
  raw "JSON $k {\"history\":${history:-null},\"status\":${status:-null}}"
  info "RUN $k $gov rc=$rc t0_ms=$t0 t1_ms=$t1 steal0=$s0 steal1=$s1 cpus=$(cpus count "$(online)")" \
    "daemon_rc=$DAEMON_RC $(events_delta "$ev0" "$ev1")"
done
[ "$k" -gt 0 ] && pass overcommit.runs "$k runs"
