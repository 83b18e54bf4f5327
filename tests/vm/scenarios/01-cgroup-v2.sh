# vm-cores: 4
# vm-threads: 2
# vm-needs: prefcpud prefcpuctl
# vm-timeout: 240
#
# Scenario 1: cgroup v2 enforcement on 8 vCPUs (4 cores x 2 threads) with the real prefcpud.
# - unpinned tasks follow preferred down and back up, one whole core (both siblings) per step,
#   the highest core first;
# - pins inside preferred are kept;
# - a task pinned only to removed CPUs falls back to its cpuset's CPUs and gets its pin back on
#   grow (the cgroup v2 difference from the kernel rule, see docs/testing.md);
# - SIGTERM, and SIGKILL plus a restart, leave every cpuset and affinity as it was.
. /vm/rules.sh

have_prefcpud || { skip prefcpud "not in the initramfs (not built)"; return 0; }

phase setup
expect_eq topology.online "$(online)" 0-7
expect_eq topology.core0 "$(siblings 0)" 0-1
expect_eq topology.core3 "$(siblings 7)" 6-7
echo +cpuset >"$CG/cgroup.subtree_control"
cg_make work 0-7
cg_make batch 2-7
mkdir -p "$VM_TMP/req"
# spawn NAME CGROUP [PIN]: a sleeping task; its requested affinity goes to $VM_TMP/req/NAME.
spawn() {
  local pid
  pid=$(spawn_in "$2" "${3-}")
  eval "$1=$pid"
  echo "${3:-0-7}" >"$VM_TMP/req/$pid"
  echo "$2" >"$VM_TMP/req/$pid.cg"
}
spawn u1 work
spawn u2 work
spawn p_in work 1       # inside every preferred set: the protected core
spawn p_part work 1-2   # partly outside once preferred is 0-1
spawn p_out work 7      # only on the first core to go
spawn b1 batch
spawn b_pin batch 3
spawn r1 ""             # root cgroup: not managed, never touched
tasks="$u1 $u2 $p_in $p_part $p_out $b1 $b_pin $r1"
is_sleeping() { for pid in $tasks; do [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] || return 1; done; }
check tasks.started wait_until "$T_START" is_sleeping

# The originals: every cgroup's cpuset.cpus and every task's affinity.
snapshot() {
  for f in $(find "$CG" -name cpuset.cpus | sort); do echo "$f $(cpus norm "$(cat "$f")")"; done
  for d in /proc/[0-9]*; do
    [ -f "$d/status" ] && echo "${d#/proc/} $(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$d/status")"
  done
}
snapshot >"$VM_TMP/orig.snap"
find "$CG" -type d | sort >"$VM_TMP/orig.cgroups"
orig_work=$(cg_cpus work)
orig_batch=$(cg_cpus batch)

# same_as_originals LABEL: every cgroup and every task still alive reads what it read at the start.
same_as_originals() {
  local diff
  snapshot >"$VM_TMP/now.snap"
  diff=$(awk 'NR == FNR { orig[$1] = $2; next } ($1 in orig) && orig[$1] != $2 {
      printf "%s: %s -> %s; ", $1, orig[$1], $2 }' "$VM_TMP/orig.snap" "$VM_TMP/now.snap")
  find "$CG" -type d | sort >"$VM_TMP/now.cgroups"
  cmp -s "$VM_TMP/orig.cgroups" "$VM_TMP/now.cgroups" ||
    diff="$diff cgroups differ: $(diff "$VM_TMP/orig.cgroups" "$VM_TMP/now.cgroups" | grep '^[+-]/' | tr '\n' ' ')"
  if [ -z "$diff" ]; then pass "$1" "every cpuset and affinity as it was"; else fail "$1" "$diff"; fi
}

# check_enforced LABEL PREFERRED: the managed cpusets hold original ∩ preferred and every task
# reads the v2 rule's affinity.
check_enforced() {
  local label="$1" pref="$2" cg want pid req eff bad=""
  for cg in work batch; do
    eval "orig=\$orig_$cg"
    want="$(cpus and "$orig" "$pref")"
    if [ -n "$want" ]; then
      wait_until "$T_STEP" cg_cpus_is "$cg" "$want" || bad="$bad $cg cpuset.cpus $(cg_cpus "$cg") != $want;"
    elif [ -z "$(cg_cpus "$cg")" ] || ! cpus subset "$(cg_cpus "$cg")" "$orig"; then
      bad="$bad $cg cpuset.cpus \"$(cg_cpus "$cg")\" is empty or outside its original $orig;"
    else
      info "$label: $cg original $orig ∩ preferred $pref is empty; left at $(cg_cpus "$cg")"
    fi
  done
  bad="$bad$(for pid in $tasks; do
    read -r req <"$VM_TMP/req/$pid"
    read -r cg <"$VM_TMP/req/$pid.cg"
    eff=0-7
    [ -n "$cg" ] && read -r eff <"$CG/$cg/cpuset.cpus.effective"
    echo "$pid $req $eff $(affinity "$pid")"
  done | v2_mismatches)"
  if [ -z "$bad" ]; then pass "$label.enforced" "cpusets and affinities follow $pref"; else fail "$label.enforced" "$bad"; fi
}

# step KIND LABEL: one burst (shrink) or one drop (grow) of steal, then every check of a step.
step() {
  local kind="$1" label="$2" want
  if [ "$kind" = shrink ]; then want=$(expected_shrink "$pref"); steal_burst; else want=$(expected_grow "$pref"); steal_drop; fi
  if wait_preferred "$want" "$T_STEP"; then
    pass "$label.preferred" "$pref -> $want"
  else
    fail "$label.preferred" "preferred is \"$(preferred)\", expected \"$want\" after \"$pref\""
  fi
  check_one_core_step "$label" "$pref" "$want"
  pref="$want"
  check_enforced "$label" "$pref"
}

phase daemon-start
steal_start "$VM_HOLD_BP"
daemon_start --cgroup work --cgroup batch
pref=0-7
expect_daemon_started 0-7 || return 0
check daemon.holds stays_for 1 preferred_is 0-7

phase shrink
step shrink shrink1
expect_eq shrink1.highest_core_first "$pref" 0-5
expect_eq v2.fallback "$(affinity "$p_out")" "$(cg_effective work)"
expect_eq v2.fallback.taskset "$(taskset -p "$p_out" | sed 's/.*: *//')" 3f
step shrink shrink2
step shrink shrink3
expect_eq shrink3.protected_core_left "$pref" 0-1
expect_eq pin_inside.kept "$(affinity "$p_in")" 1
expect_eq pin_partial.narrowed "$(affinity "$p_part")" 1
steal_burst
check shrink4.protected_core_kept stays_for 1 preferred_is 0-1

phase grow
step grow grow1
expect_eq grow1.lowest_core_first "$pref" 0-3
expect_eq pin_partial.restored "$(affinity "$p_part")" 1-2
step grow grow2
step grow grow3
expect_eq grow3.all "$pref" 0-7
expect_eq v2.pin_back "$(affinity "$p_out")" 7
expect_eq v2.pin_back.taskset "$(taskset -p "$p_out" | sed 's/.*: *//')" 80
steal_drop
check grow4.full_kept stays_for 1 preferred_is 0-7
check grow.daemon_alive daemon_alive

phase sigterm
step shrink term.shrink1
step shrink term.shrink2
daemon_stop TERM
expect_eq sigterm.exit_status "$DAEMON_RC" 0
same_as_originals sigterm.restored

phase sigkill
daemon_start --cgroup work --cgroup batch
pref=0-7
check sigkill.started wait_preferred 0-7 "$T_START"
step shrink kill.shrink1
step shrink kill.shrink2
daemon_stop KILL
expect_eq sigkill.exit_status "$DAEMON_RC" 137
expect_eq sigkill.left_shrunk "$(cg_cpus work)" 0-3
daemon_start --cgroup work --cgroup batch
pref=0-7
check restart.recovers_cpusets wait_until "$T_START" cg_cpus_is work "$orig_work"
check restart.recovers_batch wait_until "$T_STEP" cg_cpus_is batch "$orig_batch"
check restart.preferred wait_preferred 0-7 "$T_START"
# The recovered original is the real one (0-7), not the shrunk value the crash left.
step shrink restart.shrink1
daemon_stop TERM
expect_eq restart.exit_status "$DAEMON_RC" 0
same_as_originals sigkill.restored

phase checks
if grep -q -E 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$VM_TMP"/prefcpud.*.log; then
  fail sanitizers "prefcpud logs hold sanitizer reports"
else
  pass sanitizers "no sanitizer report in $(ls "$VM_TMP"/prefcpud.*.log | wc -l) daemon logs"
fi
