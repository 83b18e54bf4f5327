# vm-cores: 4
# vm-threads: 2
# vm-append: isolcpus=0-1 nohz_full=2
# vm-needs: prefcpuctl
# vm-timeout: 180
#
# Scenario 3: the protected housekeeping core. With isolcpus=0-1 and nohz_full=2 the first
# housekeeping CPU is 3, so the protected core is 2-3 (its core, nohz_full sibling included), not
# the lowest core: the kernel v6 fix ("Don't assume housekeeping core is always at beginning").
# Under steady high steal, preferred shrinks 0-7 -> 0-5 -> 0-3 -> 2-3 (the core below the
# protected one goes when the highest preferred CPU is protected) and never loses 2-3. Checked
# with `prefcpuctl replay --sysfs-root /sys` on a synthetic trace, and with the real prefcpud.
# (6.12 drops the boot CPU from nohz_full= for timekeeping, so isolcpus= moves the protected
# core here.)
# The unbound workqueues follow too: their cpumask boots as possible ∩ HK_TYPE_WQ (nohz_full=) ∩
# HK_TYPE_DOMAIN (isolcpus=) = 3-7, prefcpud writes that ∩ preferred (never widening it to the
# isolated CPUs), the unbound kworkers leave the removed CPUs, and SIGTERM puts 3-7 back.
# So do the unbound kernel threads user space may move (khugepaged, kcompactd, the RCU kthreads:
# PF_KTHREAD without PF_NO_SETAFFINITY, not kthreadd, more than one CPU): each one's boot mask ∩
# preferred while shrunk, and its boot mask again after SIGTERM.
. /vm/rules.sh

WQ=/sys/devices/virtual/workqueue/cpumask
wq_cpus() { cpus hex "$(cat "$WQ")"; }
wq_is() { [ "$(wq_cpus)" = "$1" ]; }
# What the workqueues get under preferred LIST: boot mask ∩ LIST, or the boot mask if empty.
wq_expect() {
  local w
  w=$(cpus and "$WQ_BOOT" "$1")
  echo "${w:-$WQ_BOOT}"
}
# Unbound kworkers (kworker/u*) allowed on a CPU outside LIST; prints "PID:ALLOWED" for each.
kworkers_outside() {
  local dir comm allowed
  for dir in /proc/[0-9]*; do
    read -r comm <"$dir/comm" 2>/dev/null || continue
    case "$comm" in kworker/u*) ;; *) continue ;; esac
    allowed=$(affinity "${dir#/proc/}") || continue
    cpus subset "$allowed" "$1" || echo "${dir#/proc/}:$allowed"
  done
}
no_kworkers_outside() { [ -z "$(kworkers_outside "$1")" ]; }
kworkers_count() { grep -l '^kworker/u' /proc/[0-9]*/comm 2>/dev/null | wc -l; }
# The kthreads prefcpud may move, as "PID:ALLOWED:COMM" lines (flags are field 9 of stat, the
# 7th after the comm).
movable_kthreads() {
  local dir s allowed
  for dir in /proc/[0-9]*; do
    read -r s <"$dir/stat" 2>/dev/null || continue
    # shellcheck disable=SC2086  # split the fields after "(comm) "
    set -- ${s##*) }
    [ $(($7 & 0x00200000)) -ne 0 ] && [ $(($7 & 0x04000000)) -eq 0 ] && [ "$2" != 0 ] || continue
    allowed=$(affinity "${dir#/proc/}") || continue
    case "$allowed" in *-* | *,*) ;; *) continue ;; esac  # one CPU: per-CPU or pinned
    echo "${dir#/proc/}:$(cpus norm "$allowed"):$(cat "$dir/comm")"
  done
}
# Movable kthreads (of the boot snapshot, still alive) whose mask is not what LIST gives them:
# boot ∩ LIST, or the boot mask when that is empty; "none" gives the boot mask. Prints
# "COMM(PID):ALLOWED!=WANT" for each.
kthreads_astray() {
  local pid boot comm now want
  while IFS=: read -r pid boot comm; do
    now=$(affinity "$pid" 2>/dev/null) || continue  # exited
    want=$boot
    [ "$1" = none ] || want=$(cpus and "$boot" "$1")
    want=${want:-$boot}
    cpus eq "$now" "$want" || echo "$comm($pid):$(cpus norm "$now")!=$want"
  done <"$VM_TMP/kthreads.boot"
}
kthreads_follow() { [ -z "$(kthreads_astray "$1")" ]; }

phase kernel
expect_eq cmdline.nohz_full "$(cpus norm "$(cat "$SYS_CPU/nohz_full")")" 2
expect_eq cmdline.isolated "$(cpus norm "$(cat "$SYS_CPU/isolated")")" 0-1
expect_eq housekeeping "$(housekeeping)" 3-7
expect_eq protected_core "$(protected_core)" 2-3
WQ_BOOT=""
[ -f "$WQ" ] && WQ_BOOT=$(wq_cpus)
expect_eq workqueue.boot_cpumask "$WQ_BOOT" 3-7
movable_kthreads >"$VM_TMP/kthreads.boot"
KT_MOVABLE=$(wc -l <"$VM_TMP/kthreads.boot")
if [ "$KT_MOVABLE" -gt 0 ]; then
  pass kthreads.boot "$KT_MOVABLE movable: $(cut -d: -f3,2 "$VM_TMP/kthreads.boot" | tr '\n' ' ')"
else
  fail kthreads.boot "no movable unbound kernel thread found"
fi

# The sequence the rule gives under steal that stays high.
want_seq=""
p=$(online)
while :; do
  next=$(expected_shrink "$p")
  [ "$next" = "$p" ] && break
  want_seq="$want_seq $next"
  p=$next
done
want_seq="${want_seq# }"
expect_eq model.sequence "$want_seq" "0-5 0-3 2-3"

phase replay
# write_trace RECORDS STEAL_PER_RECORD: a trace of this guest's online CPUs, 100 ms apart.
write_trace() {
  awk -v n="$1" -v inc="$2" -v cpulist="$(cpus list "$(online)")" 'BEGIN {
    print "# user_hz: 100"
    split(cpulist, c, " ")
    for (r = 0; r < n; r++) {
      printf "@ %d\n", 1000000000 + r * 100000000
      printf "cpu  100 0 100 1000 0 0 0 %d 0 0\n", r * inc
      for (i = 1; i in c; i++) printf "cpu%d 10 0 10 100 0 0 0 0 0 0\n", c[i]
    }
  }'
}
# 50 % steal on 8 CPUs: 40 ticks per 100 ms record.
write_trace 8 40 >"$VM_TMP/high.trace"
if prefcpuctl replay --sysfs-root /sys "$VM_TMP/high.trace" >"$VM_TMP/replay.out" 2>"$VM_TMP/replay.err"; then
  pass replay.runs "$(wc -l <"$VM_TMP/replay.out") records"
else
  fail replay.runs "$(cat "$VM_TMP/replay.err")"
fi
got_seq=$(sed -n 's/.*"action":"shrink".*"preferred":"\([^"]*\)".*/\1/p' "$VM_TMP/replay.out" | uniq | tr '\n' ' ')
expect_eq replay.sequence "${got_seq% }" "$want_seq"
expect_eq replay.final "$(sed -n '$s/.*"preferred":"\([^"]*\)".*/\1/p' "$VM_TMP/replay.out")" 2-3
check replay.protected_never_removed sh -c "! sed -n 's/.*\"preferred\":\"\\([^\"]*\\)\".*/\\1/p' $VM_TMP/replay.out | grep -q -v -x -E '0-7|0-5|0-3|2-3'"

phase daemon
if ! have_prefcpud; then
  skip daemon "prefcpud not built: only the replay half ran"
  return 0
fi
echo +cpuset >"$CG/cgroup.subtree_control"
cg_make work 0-7
steal_start "$VM_HOLD_BP"
daemon_start --cgroup work
pref=0-7
expect_daemon_started 0-7 || return 0
for want in $want_seq; do
  steal_burst
  if wait_preferred "$want" "$T_STEP"; then pass "daemon.shrink.$want" "$pref -> $want"; else
    fail "daemon.shrink.$want" "preferred is \"$(preferred)\", expected \"$want\" after \"$pref\""; fi
  check_one_core_step "daemon.$want" "$pref" "$want"
  check_mask_invariants "daemon.$want" "$want"
  check "daemon.workqueue.$want" wait_until "$T_STEP" wq_is "$(wq_expect "$want")"
  pref=$want
done
check daemon.cpuset wait_until "$T_STEP" cg_cpus_is work 2-3
# Every movable kthread now runs on its boot mask ∩ 2-3 (none of them may stay on 0-1 or 4-7).
if wait_until "$T_STEP" kthreads_follow "$pref"; then
  confined=$(grep -o '"confined": *[0-9]*' "$STATE/status.json")
  pass daemon.kthreads "all $KT_MOVABLE movable kthreads on boot mask ∩ $pref, status $confined"
else
  fail daemon.kthreads "not following $pref: $(kthreads_astray "$pref" | tr '\n' ' ')"
fi
# The unbound kworkers take their pool's mask: none may run on a CPU the workqueues left.
wq_want=$(wq_expect "$pref")
if wait_until "$T_STEP" no_kworkers_outside "$wq_want"; then
  pass daemon.kworkers "all $(kworkers_count) kworker/u* allowed only on $wq_want"
else
  fail daemon.kworkers "allowed outside $wq_want: $(kworkers_outside "$wq_want" | tr '\n' ' ')"
fi
steal_burst
steal_burst
check daemon.protected_core_kept stays_for 1 preferred_is 2-3
daemon_stop TERM
expect_eq daemon.exit_status "$DAEMON_RC" 0
expect_eq daemon.restored "$(cg_cpus work)" 0-7
expect_eq daemon.workqueue_restored "$(wq_cpus)" "$WQ_BOOT"
if kthreads_follow none; then
  pass daemon.kthreads_restored "all $KT_MOVABLE movable kthreads back on their boot masks"
else
  fail daemon.kthreads_restored "$(kthreads_astray none | tr '\n' ' ')"
fi
