# vm-cores: 4
# vm-threads: 2
# vm-nodes: 2
# vm-needs: prefcpuctl
# vm-timeout: 180
#
# Scenario 5: two NUMA nodes (node 0: CPUs 0-3, node 1: CPUs 4-7, as QEMU was told). The
# topology and the node CPU lists are read from sysfs, and the scenario shows what the current
# rule removes first: by CPU number, so node 1 is emptied before node 0 loses a core. That is the
# baseline for NUMA-aware splicing (deferred in the v12/v13 cover letter); when splicing lands,
# the *.node_order checks below are the ones that change.
. /vm/rules.sh

phase topology
nodes=$(ls -d /sys/devices/system/node/node[0-9]* | sed 's|.*/node||' | sort -n | tr '\n' ' ')
expect_eq sysfs.nodes "${nodes% }" "0 1"
expect_eq sysfs.node0 "$(cpus norm "$(cat /sys/devices/system/node/node0/cpulist)")" 0-3
expect_eq sysfs.node1 "$(cpus norm "$(cat /sys/devices/system/node/node1/cpulist)")" 4-7
expect_eq sysfs.cores "$(siblings 0) $(siblings 2) $(siblings 4) $(siblings 6)" "0-1 2-3 4-5 6-7"
node_of() {
  local n
  for n in 0 1; do
    cpus subset "$1" "$(cat /sys/devices/system/node/node$n/cpulist)" && { echo "$n"; return; }
  done
  echo "?"
}
# per_node PREFERRED: "node0=LIST node1=LIST", the preferred CPUs left on each node.
per_node() {
  echo "node0=$(cpus and "$1" "$(cat /sys/devices/system/node/node0/cpulist)")" \
    "node1=$(cpus and "$1" "$(cat /sys/devices/system/node/node1/cpulist)")"
}

want_seq=""
p=$(online)
while :; do
  next=$(expected_shrink "$p")
  [ "$next" = "$p" ] && break
  want_seq="$want_seq $next"
  info "rule: $p -> $next removes $(cpus minus "$p" "$next") (node $(node_of "$(cpus minus "$p" "$next")")); left $(per_node "$next")"
  p=$next
done
want_seq="${want_seq# }"

phase replay
awk -v cpulist="$(cpus list "$(online)")" 'BEGIN {
  print "# user_hz: 100"
  split(cpulist, c, " ")
  for (r = 0; r < 6; r++) {
    printf "@ %d\n", 1000000000 + r * 100000000
    printf "cpu  100 0 100 1000 0 0 0 %d 0 0\n", r * 40
    for (i = 1; i in c; i++) printf "cpu%d 10 0 10 100 0 0 0 0 0 0\n", c[i]
  }
}' >"$VM_TMP/high.trace"
if prefcpuctl replay --sysfs-root /sys "$VM_TMP/high.trace" >"$VM_TMP/replay.out" 2>"$VM_TMP/replay.err"; then
  pass replay.reads_sysfs "topology read from /sys with two nodes"
else
  fail replay.reads_sysfs "$(cat "$VM_TMP/replay.err")"
fi
got_seq=$(sed -n 's/.*"action":"shrink".*"preferred":"\([^"]*\)".*/\1/p' "$VM_TMP/replay.out" | uniq | tr '\n' ' ')
got_seq="${got_seq% }"
expect_eq replay.sequence "$got_seq" "$want_seq"
# The baseline fact: the rule takes both cores of node 1 before any core of node 0.
first_two=$(echo "$got_seq" | awk '{ print $2 }')
expect_eq replay.node_order "$(per_node "$first_two")" "node0=0-3 node1="
expect_eq replay.final "$(echo "$got_seq" | awk '{ print $NF }')" 0-1

phase daemon
if ! have_prefcpud; then
  skip daemon "prefcpud not built: only the replay half ran"
  return 0
fi
echo +cpuset >"$CG/cgroup.subtree_control"
cg_make work 0-7
echo 0-1 >"$CG/work/cpuset.mems"
steal_start "$VM_HOLD_BP"
daemon_start --cgroup work
pref=0-7
expect_daemon_started 0-7 || return 0
daemon_seq=""
for want in $want_seq; do
  steal_burst
  if wait_preferred "$want" "$T_STEP"; then pass "daemon.shrink.$want" "$(per_node "$want")"; else
    fail "daemon.shrink.$want" "preferred is \"$(preferred)\", expected \"$want\" after \"$pref\""; fi
  check_one_core_step "daemon.$want" "$pref" "$want"
  pref=$(preferred)
  daemon_seq="$daemon_seq $pref"
  check "daemon.cpuset.$want" wait_until "$T_STEP" cg_cpus_is work "$pref"
done
expect_eq daemon.same_as_replay "${daemon_seq# }" "$got_seq"
expect_eq daemon.mems_untouched "$(cpus norm "$(cat "$CG/work/cpuset.mems")")" 0-1
daemon_stop TERM
expect_eq daemon.exit_status "$DAEMON_RC" 0
expect_eq daemon.restored "$(cg_cpus work)" 0-7
