# vm-cores: 4
# vm-threads: 2
# vm-nodes: 2
# vm-needs: prefcpuctl
# vm-timeout: 180
#
# Scenario 5: two NUMA nodes (node 0: CPUs 0-3, node 1: CPUs 4-7, as QEMU was told). The
# topology and the node CPU lists are read from sysfs. With numa = off (the default) the kernel's
# rule removes by CPU number, so node 1 is emptied before node 0 loses a core: the baseline
# (replay.node_order, daemon.*). NUMA splicing (docs/policy.md) is checked against a shell model
# of the documented rule, written here from the doc: numa = balance takes a core from the node
# with the most preferred cores (0-7 -> 0-5 -> 0-1,4-5 -> 0-1), numa = pack empties the node with
# the fewest (on these equal nodes, with the protected core on node 0, the same order as off), and
# grow mirrors both; by replay and by prefcpud, which switches balance -> pack with prefcpuctl set.
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

# ---- the NUMA splicing rule of docs/policy.md, again in shell --------------------------------
node_cpus() { cat "/sys/devices/system/node/node$1/cpulist"; }
# node_cores PREF N: preferred cores of node N (cores with a preferred CPU in it).
node_cores() {
  local left c k=0
  left="$(cpus and "$1" "$(node_cpus "$2")")"
  while [ -n "$left" ]; do
    c="$(cpus min "$left")"
    left="$(cpus minus "$left" "$(siblings "$c")")"
    k=$((k + 1))
  done
  echo "$k"
}
# splice_from MODE STEP PREF CANDIDATES: the candidates of the node the step uses. Shrink:
# balance the most preferred cores, pack the fewest, ties to the higher node; grow: balance the
# fewest, pack the most, ties to the lower node.
splice_from() {
  local mode="$1" step="$2" n k mine best="" best_k=0 take
  if [ "$mode" = off ]; then echo "$4"; return; fi
  for n in 0 1; do
    mine="$(cpus and "$4" "$(node_cpus "$n")")"
    [ -n "$mine" ] || continue
    k=$(node_cores "$3" "$n")
    take=0
    if [ -z "$best" ]; then take=1
    elif [ "$step" = shrink ] && [ "$mode" = balance ] && [ "$k" -ge "$best_k" ]; then take=1
    elif [ "$step" = shrink ] && [ "$mode" = pack ] && [ "$k" -le "$best_k" ]; then take=1
    elif [ "$step" = grow ] && [ "$mode" = balance ] && [ "$k" -lt "$best_k" ]; then take=1
    elif [ "$step" = grow ] && [ "$mode" = pack ] && [ "$k" -gt "$best_k" ]; then take=1
    fi
    [ "$take" = 1 ] && best="$mine" best_k=$k
  done
  echo "$best"
}
# numa_shrink MODE PREF / numa_grow MODE PREF: one step of the rule.
numa_shrink() {
  local hk removable target
  hk="$(cpus min "$(cpus and "$(housekeeping)" "$2")")"
  if [ -z "$hk" ]; then cpus norm "$2"; return; fi
  removable="$(cpus minus "$2" "$(siblings "$hk")")"
  target="$(cpus max "$(splice_from "$1" shrink "$2" "$removable")")"
  if [ -z "$target" ]; then cpus norm "$2"; return; fi
  cpus minus "$2" "$(siblings "$target")"
}
numa_grow() {
  local first
  first="$(cpus min "$(splice_from "$1" grow "$2" "$(cpus minus "$(online)" "$2")")")"
  if [ -z "$first" ]; then cpus norm "$2"; return; fi
  cpus or "$2" "$(cpus and "$(siblings "$first")" "$(online)")"
}
# numa_seq MODE STEP FROM: the masks the rule visits until it stops.
numa_seq() {
  local p="$3" next seq=""
  while :; do
    next=$("numa_$2" "$1" "$p")
    [ "$next" = "$p" ] && break
    seq="$seq $next"
    p=$next
  done
  echo "${seq# }"
}
for mode in balance pack; do
  eval "shrink_$mode=\"$(numa_seq $mode shrink "$(online)")\""
  info "rule numa=$mode: shrink $(eval echo "\$shrink_$mode")"
done
expect_eq model.off_is_kernel "$(numa_seq off shrink "$(online)")" "$want_seq"
expect_eq model.balance "$shrink_balance" "0-5 0-1,4-5 0-1"

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

# NUMA splicing: 5 high-steal samples shrink to the bottom, then 4 with none grow back.
awk -v cpulist="$(cpus list "$(online)")" 'BEGIN {
  print "# user_hz: 100"
  split(cpulist, c, " ")
  for (r = 0; r < 10; r++) {
    printf "@ %d\n", 1000000000 + r * 100000000
    printf "cpu  100 0 100 1000 0 0 0 %d 0 0\n", (r < 6 ? r : 5) * 40
    for (i = 1; i in c; i++) printf "cpu%d 10 0 10 100 0 0 0 0 0 0\n", c[i]
  }
}' >"$VM_TMP/down-up.trace"
# actions_of ACTION FILE: the masks after each ACTION step, repeats dropped.
actions_of() {
  seq=$(sed -n "s/.*\"action\":\"$1\".*\"preferred\":\"\([^\"]*\)\".*/\1/p" "$2" | uniq | tr '\n' ' ')
  echo "${seq% }"
}
# reversed LIST...: the words in reverse order.
reversed() { echo "$@" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "\n") }'; }
for mode in balance pack; do
  if ! prefcpuctl replay --sysfs-root /sys --numa "$mode" "$VM_TMP/down-up.trace" \
    >"$VM_TMP/replay.$mode.out" 2>"$VM_TMP/replay.$mode.err"; then
    fail "replay.$mode" "$(cat "$VM_TMP/replay.$mode.err")"
    continue
  fi
  down=$(actions_of shrink "$VM_TMP/replay.$mode.out")
  up=$(actions_of grow "$VM_TMP/replay.$mode.out")
  expect_eq "replay.$mode.sequence" "$down" "$(eval echo "\$shrink_$mode")"
  expect_eq "replay.$mode.grow" "$up" "$(numa_seq "$mode" grow "$(echo "$down" | awk '{ print $NF }')")"
  # Grow mirrors shrink: the same masks in reverse, back to all online CPUs.
  expect_eq "replay.$mode.mirror" "$up" "$(reversed "$(online)" $down | cut -d' ' -f2-)"
done
first_two=$(echo "$shrink_balance" | awk '{ print $2 }')
expect_eq replay.balance.node_order "$(per_node "$first_two")" "node0=0-1 node1=4-5"
first_two=$(echo "$shrink_pack" | awk '{ print $2 }')
expect_eq replay.pack.node_order "$(per_node "$first_two")" "node0=0-3 node1="
if prefcpuctl replay --sysfs-root /sys --numa spread "$VM_TMP/down-up.trace" >/dev/null 2>"$VM_TMP/bad.err"; then
  fail replay.bad_numa "--numa spread was accepted"
else
  check replay.bad_numa grep -q 'numa "spread" is not a NUMA mode: expected off, balance or pack' "$VM_TMP/bad.err"
fi

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

# numa = balance from the flag: shrink to the bottom by the rule, grow back mirrored; then
# `prefcpuctl set numa pack` at run time, and the same again by pack's rule.
# splice_run MODE [down]: the daemon steps through MODE's shrink sequence, and back up unless
# "down" (pack's grow is checked by replay above: each daemon step costs a second or two).
splice_run() {
  local mode="$1" want pref up
  pref=$(preferred)
  for want in $(eval echo "\$shrink_$mode"); do
    steal_burst
    if wait_preferred "$want" "$T_STEP"; then pass "numa.$mode.shrink.$want" "$(per_node "$want")"; else
      fail "numa.$mode.shrink.$want" "preferred is \"$(preferred)\", expected \"$want\" after \"$pref\""; fi
    check_one_core_step "numa.$mode.$want" "$pref" "$want"
    pref=$(preferred)
    check "numa.$mode.cpuset.$want" wait_until "$T_STEP" cg_cpus_is work "$pref"
  done
  [ "${2-}" = down ] && return
  for want in $(numa_seq "$mode" grow "$pref"); do
    steal_drop
    if wait_preferred "$want" "$T_STEP"; then pass "numa.$mode.grow.$want" "$(per_node "$want")"; else
      fail "numa.$mode.grow.$want" "preferred is \"$(preferred)\", expected \"$want\" after \"$pref\""; fi
    check_one_core_step "numa.$mode.grow.$want" "$pref" "$want"
    pref=$(preferred)
  done
  expect_eq "numa.$mode.back" "$pref" "$(online)"
}
status_has() { tr -d ' \n' <"$STATE/status.json" | grep -q "$1"; }
daemon_start --cgroup work --numa balance
expect_daemon_started 0-7 || return 0
check numa.start_log grep -q "numa balance" "$DAEMON_LOG"
check numa.status wait_until "$T_STEP" status_has '"numa":"balance"'
splice_run balance
if prefcpuctl set --state-dir "$STATE" numa pack >"$VM_TMP/set.out" 2>&1; then
  check numa.set grep -q "numa pack" "$VM_TMP/set.out"
else
  fail numa.set "$(cat "$VM_TMP/set.out")"
fi
if prefcpuctl set --state-dir "$STATE" numa sideways >"$VM_TMP/set.bad" 2>&1; then
  fail numa.set_bad "numa sideways was accepted"
else
  check numa.set_bad grep -q 'expected off, balance or pack' "$VM_TMP/set.bad"
fi
check numa.status_pack wait_until "$T_STEP" status_has '"numa":"pack"'
splice_run pack down
daemon_stop TERM
expect_eq numa.exit_status "$DAEMON_RC" 0
expect_eq numa.restored "$(cg_cpus work)" 0-7
