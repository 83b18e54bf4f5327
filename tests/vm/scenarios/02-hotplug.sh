# vm-cores: 4
# vm-threads: 2
# vm-needs: prefcpud prefcpuctl
# vm-timeout: 240
#
# Scenario 2: CPU hotplug under the daemon (real `echo 0 > cpuN/online` in the guest).
# - a preferred CPU goes offline while the set is shrunk, the set shrinks and grows around the
#   hole, then the CPU comes back (and is preferred at once, as at sched_cpu_activate());
# - a non-preferred CPU goes offline and comes back;
# - the mask rules (kernel-spec §2.3-§2.4, rules.sh) hold at every step, and work's cpuset holds
#   what the daemon's v2 rule asks (expected_cpuset below);
# - no managed cpuset is ever empty (a watcher samples it every 20 ms);
# - the daemon neither crashes nor fights the kernel: every value the watcher saw is one the
#   rules call for, and the daemon never "adopts" the kernel's hotplug change as a foreign write.
. /vm/rules.sh

have_prefcpud || { skip prefcpud "not in the initramfs (not built)"; return 0; }

phase setup
expect_eq topology.online "$(online)" 0-7
echo +cpuset >"$CG/cgroup.subtree_control"
cg_make work 0-7
orig_work=$(cg_cpus work)
u1=$(spawn_in work)
p3=$(spawn_in work 3)
check tasks.started wait_until "$T_START" sh -c "[ \"\$(cat /proc/$u1/comm)\" = sleep ] && [ \"\$(cat /proc/$p3/comm)\" = sleep ]"

# Samples work's cpuset every 20 ms with shell builtins only: empty values are violations, and
# each distinct value is logged in order.
watch_cpuset() {
  local c e last=""
  while :; do
    read -r c <"$CG/work/cpuset.cpus"
    read -r e <"$CG/work/cpuset.cpus.effective"
    [ -n "$c" ] && [ -n "$e" ] || echo "empty: cpuset.cpus=\"$c\" effective=\"$e\"" >>"$VM_TMP/violations"
    [ "$c" != "$last" ] && echo "$c" >>"$VM_TMP/seen" && last="$c"
    sleep 0.02
  done
}
: >"$VM_TMP/violations"
watch_cpuset &
echo $! >"$VM_TMP/watcher.pid"

set_online() { echo "$2" >"$SYS_CPU/cpu$1/online"; }
# What prefcpud writes on v2 (src/linux/cgroup/cpuset_plan.h): original ∩ online ∩ preferred, or
# the original itself, offline CPUs included, once preferred covers all of its online CPUs (v2
# keeps offline CPUs in cpuset.cpus, and a CPU that comes back is preferred at once anyway).
expected_cpuset() {
  local base
  base=$(cpus and "$1" "$(online)")
  if cpus subset "$base" "$2"; then cpus norm "$1"; else cpus and "$base" "$2"; fi
}
allowed_values="$orig_work"
# expect_state LABEL PREFERRED: the daemon publishes PREFERRED, the invariants hold, work's
# cpuset holds original ∩ preferred, the unpinned task follows, and nothing moves for 0.5 s.
expect_state() {
  local label="$1" want="$2" cg_want
  if wait_preferred "$want" "$T_STEP"; then pass "$label.preferred" "$want (online $(online))"; else
    fail "$label.preferred" "preferred is \"$(preferred)\", expected \"$want\" (online $(online))"; fi
  check_mask_invariants "$label" "$(preferred)"
  cg_want=$(expected_cpuset "$orig_work" "$want")
  allowed_values="$allowed_values $cg_want"
  check "$label.cpuset" wait_until "$T_STEP" cg_cpus_is work "$cg_want"
  expect_eq "$label.effective" "$(cg_effective work)" "$(cpus and "$cg_want" "$(online)")"
  expect_eq "$label.unpinned_task" "$(affinity "$u1")" "$(cg_effective work)"
  check "$label.stable" stays_for 0.5 sh -c "[ \"\$(cat $STATE/preferred)\" = \"$(cat "$STATE/preferred")\" ] && kill -0 $DAEMON_PID"
  pref=$(preferred)
}
shrink() { local want; want=$(expected_shrink "$pref"); steal_burst; check_one_core_step "$1" "$pref" "$want"; expect_state "$1" "$want"; }
grow() { local want; want=$(expected_grow "$pref"); steal_drop; check_one_core_step "$1" "$pref" "$want"; expect_state "$1" "$want"; }

phase daemon-start
steal_start "$VM_HOLD_BP"
daemon_start --cgroup work
pref=0-7
expect_daemon_started 0-7 || return 0

phase offline-preferred
shrink shrink1                                   # 0-5
set_online 3 0
expect_state offline3 "$(cpus minus "$pref" 3)"  # 0-2,4-5: an offline CPU leaves preferred
info "task pinned to CPU 3 while it is offline: $(affinity "$p3")"
shrink shrink2                                   # 0-2: the core of 5
shrink shrink3                                   # 0-1: what is online of the core of 2
grow grow1                                       # 0-2: the online sibling of 2 only

phase online-again
set_online 3 1
expect_state online3 "$(cpus or "$pref" 3)"      # 0-3: preferred as soon as it is online
info "task pinned to CPU 3 once it is back: $(affinity "$p3")"

phase offline-non-preferred
set_online 7 0
expect_state offline7 "$pref"                    # 0-3 stays
grow grow2                                       # 0-5
grow grow3                                       # 0-6: 7 is offline
set_online 7 1
expect_state online7 0-7

phase stop
kill "$(cat "$VM_TMP/watcher.pid")" 2>/dev/null
rm -f "$VM_TMP/watcher.pid"
check daemon.alive daemon_alive
if [ -s "$VM_TMP/violations" ]; then
  fail cpuset.never_empty "$(head -n 5 "$VM_TMP/violations" | tr '\n' ';')"
else
  pass cpuset.never_empty "$(wc -l <"$VM_TMP/seen") distinct values seen"
fi
bad=""
while read -r seen; do
  ok=0
  for v in $allowed_values; do [ "$(cpus norm "$seen")" = "$v" ] && ok=1; done
  [ "$ok" = 1 ] || bad="$bad $seen"
done <"$VM_TMP/seen"
if [ -z "$bad" ]; then pass daemon.no_fight "every cpuset.cpus value seen is one the rules call for"; else
  fail daemon.no_fight "cpuset.cpus took values the rules never call for:$bad"; fi
adopted=$(tr -d ' \n' <"$STATE/status.json" 2>/dev/null | sed -n 's/.*"adopted":\([0-9]*\).*/\1/p')
if [ -z "$adopted" ]; then info "status.json has no \"adopted\" counter: $(head -c 300 "$STATE/status.json" 2>/dev/null)"
else expect_eq daemon.no_adoption "$adopted" 0; fi
daemon_stop TERM
expect_eq sigterm.exit_status "$DAEMON_RC" 0
expect_eq sigterm.restored "$(cg_cpus work)" "$orig_work"
expect_eq sigterm.task "$(affinity "$u1")" 0-7
expect_eq sigterm.pinned_task "$(affinity "$p3")" 3
if grep -q -E 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$VM_TMP"/prefcpud.*.log; then
  fail sanitizers "prefcpud logs hold sanitizer reports"
else
  pass sanitizers
fi
