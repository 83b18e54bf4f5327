# shellcheck shell=dash disable=SC3043,SC2034
# Guest-side helpers for the VM scenarios (busybox sh). Sourced by /init and by the scenario shell.
#   reporting: pass, fail, skip, info, check, expect_eq, phase
#   waiting:   wait_until SECONDS CMD...  (polls every 20 ms, never sleeps blindly)
#   cpulists:  cpus OP A [B]   (norm and or minus count min max list subset eq)
#   tasks:     spawn_in CGROUP [CPULIST], affinity PID, cg_cpus CGROUP
#   steal:     steal_start RATE_BP, steal_rate BP, steal_window BP, steal_burst, steal_drop
#   daemon:    daemon_start ARGS..., daemon_stop SIGNAL, preferred, wait_preferred LIST,
#              expect_daemon_started LIST
VM_RESULTS=/dev/ttyS1
VM_TMP=/tmp/vm
CG=/sys/fs/cgroup
SYS_CPU=/sys/devices/system/cpu
STATE=/run/prefcpu
STEAL_FILE=/run/vm-steal/stat
STEAL_CTL=/run/vm-steal/ctl
# Middle band for the daemon's thresholds: steal_rate 1500 holds, a burst (one window at 8000 bp)
# shrinks one core, a drop (one window at 0 bp) grows one core. A stalled vCPU skews the daemon's
# clock against the file's by 10-20 ms (a burst at 10000 bp read 8600-10600 under load), so the
# burst sits in the middle: 37 % low still shrinks, 31 % high is still plausible (10000 bp plus one
# tick per CPU per window). At 200 ms, a skew is half the share of a window it is at 100 ms.
VM_HIGH=5000
VM_LOW=100
VM_HOLD_BP=1500
VM_BURST_BP=8000
VM_INTERVAL_MS=200
# Timeouts: a step is two samples away (400 ms) and a start a second or two, but a guest on a
# loaded 2-core host can stall for seconds; the waits poll, so a long timeout costs nothing.
T_STEP=${VM_STEP_TIMEOUT:-15}
T_START=${VM_START_TIMEOUT:-30}
mkdir -p "$VM_TMP"

# Milliseconds since boot, with builtins only (it runs in every poll; forks are slow under TCG).
now_ms() {
  local up cs
  read -r up _ </proc/uptime
  cs=${up#*.}
  case "$cs" in 0?) cs=${cs#0} ;; esac  # "07" would be octal
  echo $(( ${up%.*} * 1000 + cs * 10 ))
}

vm_report() {
  echo "$*" >"$VM_RESULTS"
  echo "vmtest: $*"
}
pass() { vm_report "PASS $1${2:+: $2}"; }
fail() { vm_report "FAIL $1: $2"; echo 1 >"$VM_TMP/failed"; }
skip() { vm_report "SKIP $1: $2"; }
info() { vm_report "INFO $*"; }

# check NAME CMD...: PASS when CMD succeeds.
check() {
  local name="$1"
  shift
  if "$@"; then pass "$name"; else fail "$name" "failed: $*"; fi
}

# expect_eq NAME ACTUAL EXPECTED
expect_eq() {
  if [ "$2" = "$3" ]; then pass "$1" "$2"; else fail "$1" "got \"$2\", expected \"$3\""; fi
}

# phase NAME: an INFO line with the seconds since the previous phase, for the timing report.
phase() {
  local now
  now=$(now_ms)
  [ -f "$VM_TMP/phase" ] && info "phase $(cat "$VM_TMP/phase.name") took $(( (now - $(cat "$VM_TMP/phase")) / 1000 )).$(( (now - $(cat "$VM_TMP/phase")) % 1000 / 100 ))s"
  echo "$now" >"$VM_TMP/phase"
  echo "$1" >"$VM_TMP/phase.name"
}

# secs_to_ms 1.5 -> 1500 (tenths are enough here)
secs_to_ms() {
  case "$1" in
    *.*) echo $(( ${1%.*} * 1000 + $(echo "${1#*.}" | cut -c1) * 100 )) ;;
    *) echo $(( $1 * 1000 )) ;;
  esac
}

# wait_until SECONDS CMD...: polls CMD every 20 ms; fails when SECONDS pass first.
wait_until() {
  local deadline
  deadline=$(( $(now_ms) + $(secs_to_ms "$1") ))
  shift
  until "$@"; do
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    sleep 0.02
  done
}

# stays_for SECONDS CMD...: CMD keeps succeeding for SECONDS (a negative check: nothing moves).
stays_for() {
  local deadline
  deadline=$(( $(now_ms) + $(secs_to_ms "$1") ))
  shift
  while [ "$(now_ms)" -lt "$deadline" ]; do
    "$@" || return 1
    sleep 0.05
  done
}

# awk functions shared by every cpulist helper: parse(s, set) and fmt(set) -> "0-3,6".
CPULIST_AWK='
function parse(s, set,   n, parts, i, r, lo, hi, c) {
  gsub(/[ \t\n]/, "", s)
  if (s ~ /null/) return
  n = split(s, parts, ",")
  for (i = 1; i <= n; i++) {
    if (parts[i] == "") continue
    if (split(parts[i], r, "-") == 2) { lo = r[1] + 0; hi = r[2] + 0 } else { lo = parts[i] + 0; hi = lo }
    for (c = lo; c <= hi; c++) set[c] = 1
  }
}
function fmt(set,   c, out, start, top) {
  top = -1
  for (c in set) if (c + 0 > top) top = c + 0
  out = ""; start = -1
  for (c = 0; c <= top + 1; c++) {
    if ((c in set) && start < 0) start = c
    if (!(c in set) && start >= 0) {
      out = out (out == "" ? "" : ",") (start == c - 1 ? start : start "-" (c - 1))
      start = -1
    }
  }
  return out
}
function hex_to_list(h,   set, i, d, bit, p) {
  gsub(/[,\n ]/, "", h)
  for (i = length(h); i >= 1; i--) {
    d = index("0123456789abcdef", tolower(substr(h, i, 1))) - 1
    p = 1  # no ^ here: Debian busybox awk is built without math support
    for (bit = 0; bit < 4; bit++) { if (int(d / p) % 2) set[(length(h) - i) * 4 + bit] = 1; p *= 2 }
  }
  return fmt(set)
}
'

# cpus OP A [B]: cpulist arithmetic, canonical output ("0-3,6").
cpus() {
  awk -v op="$1" -v a="$2" -v b="${3-}" "$CPULIST_AWK"'
    BEGIN {
      parse(a, A); parse(b, B)
      if (op == "norm") { print fmt(A); exit }
      if (op == "hex") { print hex_to_list(a); exit }
      if (op == "and") { for (c in A) if (c in B) R[c] = 1; print fmt(R); exit }
      if (op == "or") { for (c in A) R[c] = 1; for (c in B) R[c] = 1; print fmt(R); exit }
      if (op == "minus") { for (c in A) if (!(c in B)) R[c] = 1; print fmt(R); exit }
      n = 0; lo = -1; hi = -1
      for (c in A) { n++; if (lo < 0 || c + 0 < lo) lo = c + 0; if (c + 0 > hi) hi = c + 0 }
      if (op == "count") { print n; exit }
      if (op == "min") { if (n) print lo; exit }
      if (op == "max") { if (n) print hi; exit }
      if (op == "list") { for (c = lo; c <= hi && n; c++) if (c in A) printf "%d ", c; print ""; exit }
      if (op == "subset") { for (c in A) if (!(c in B)) exit 1; exit 0 }
      if (op == "eq") { if (fmt(A) == fmt(B)) exit 0; exit 1 }
      print "cpus: unknown op " op > "/dev/stderr"; exit 2
    }'
}

online() { cat "$SYS_CPU/online"; }

# Thread siblings as the machine booted: a core keeps its members while one of them is offline.
snapshot_topology() {
  local cpu
  mkdir -p "$VM_TMP/siblings"
  for cpu in $(cpus list "$(cat "$SYS_CPU/present")"); do
    if [ -f "$SYS_CPU/cpu$cpu/topology/thread_siblings_list" ]; then
      cpus norm "$(cat "$SYS_CPU/cpu$cpu/topology/thread_siblings_list")" >"$VM_TMP/siblings/$cpu"
    else
      echo "$cpu" >"$VM_TMP/siblings/$cpu"
    fi
  done
}
siblings() { cat "$VM_TMP/siblings/$1"; }
# online CPUs that are neither nohz_full nor isolated (HK_TYPE_KERNEL_NOISE)
housekeeping() {
  local nohz="" isol=""
  [ -f "$SYS_CPU/nohz_full" ] && nohz="$(cat "$SYS_CPU/nohz_full")"
  [ -f "$SYS_CPU/isolated" ] && isol="$(cat "$SYS_CPU/isolated")"
  case "$nohz" in *null*) nohz="" ;; esac  # CONFIG_NO_HZ_FULL without nohz_full=: "  (null)"
  cpus minus "$(cpus minus "$(online)" "$nohz")" "$isol"
}

# ---- tasks and cgroups ------------------------------------------------------------------------
# spawn_in CGROUP [CPULIST]: a sleeping task in CGROUP (relative to /sys/fs/cgroup, "" = root),
# pinned with taskset to CPULIST if given. Prints its PID.
spawn_in() {
  local cg="$CG${1:+/$1}" pin="${2-}"
  if [ -n "$pin" ]; then
    sh -c 'echo $$ >"$0/cgroup.procs" && exec taskset -c "$1" sleep 100000' "$cg" "$pin" \
      >/dev/null 2>&1 &
  else
    sh -c 'echo $$ >"$0/cgroup.procs" && exec sleep 100000' "$cg" >/dev/null 2>&1 &
  fi
  echo $!
}
# affinity PID: its Cpus_allowed_list, read with shell builtins only (no fork: forks are slow
# under TCG, and the scenarios read many affinities).
affinity() {
  local key value
  while read -r key value; do
    [ "$key" = "Cpus_allowed_list:" ] && { echo "$value"; return 0; }
  done <"/proc/$1/status"
  return 1
}
cg_cpus() { cpus norm "$(cat "$CG/$1/cpuset.cpus")"; }
cg_effective() { cpus norm "$(cat "$CG/$1/cpuset.cpus.effective")"; }
cg_make() {
  mkdir -p "$CG/$1"
  echo "$2" >"$CG/$1/cpuset.cpus"
}
# The cgroup v2 rule on 6.2+: a task's affinity is its request ∩ the cpuset's effective CPUs, or
# all of the cpuset's effective CPUs when that is empty (the request is kept for later).
v2_expected_affinity() {
  local both
  both="$(cpus and "$1" "$2")"
  if [ -n "$both" ]; then echo "$both"; else cpus norm "$2"; fi
}
# v2_mismatches < "PID REQUEST EFFECTIVE ACTUAL" lines: the tasks that break that rule, in one
# awk (one fork for all tasks).
v2_mismatches() {
  awk "$CPULIST_AWK"'{
    split("", R); split("", E); split("", A); split("", W)
    parse($2, R); parse($3, E); parse($4, A)
    n = 0
    for (c in R) if (c in E) { W[c] = 1; n++ }
    want = n ? fmt(W) : fmt(E)
    if (fmt(A) != want) printf "task %s (request %s, cpuset %s) reads %s, expected %s; ", $1, $2, $3, $4, want
  }'
}

# ---- synthetic steal --------------------------------------------------------------------------
steal_start() {
  mkdir -p "$STEAL_CTL"
  echo "$1" >"$STEAL_CTL/rate"
  rm -f "$STEAL_CTL/ready" "$STEAL_CTL/window"
  # On CPU 0 at SCHED_FIFO, beside prefcpud (daemon_start): see the top of vm_steal.cpp.
  vm-steal "$STEAL_FILE" "$STEAL_CTL" 0 >"$VM_TMP/vm-steal.log" 2>&1 &
  echo $! >"$VM_TMP/vm-steal.pid"
  wait_until "$T_START" test -f "$STEAL_CTL/ready" || fail steal.start "vm-steal did not start"
}
steal_rate() {
  echo "$1" >"$STEAL_CTL/rate.tmp"
  mv "$STEAL_CTL/rate.tmp" "$STEAL_CTL/rate"
}
# steal_window BP: exactly one of the daemon's samples reads BP (vm_steal.cpp); returns once the
# daemon has read it, so back-to-back calls make back-to-back single samples.
steal_window() {
  echo "$1" >"$STEAL_CTL/window.tmp"
  mv "$STEAL_CTL/window.tmp" "$STEAL_CTL/window"
  wait_until "$T_STEP" test ! -e "$STEAL_CTL/window" ||
    fail steal.window "the daemon did not sample a window at $1 bp"
}
# One sample above the high threshold: one core shrinks.
steal_burst() { steal_window "$VM_BURST_BP"; }
# One sample with zero steal: one core grows.
steal_drop() { steal_window 0; }

# ---- the daemon -------------------------------------------------------------------------------
have_prefcpud() { command -v prefcpud >/dev/null 2>&1; }
# daemon_start ARGS...: prefcpud in the foreground on the synthetic steal, logging to a file.
daemon_start() {
  local n
  n=$(( $(cat "$VM_TMP/daemon.count" 2>/dev/null || echo 0) + 1 ))
  echo "$n" >"$VM_TMP/daemon.count"
  # What a previous run published (its exit publishes the full mask) must not pass for this
  # one's first sample; the journal stays, a restart must find it.
  rm -f "$STATE/preferred" "$STATE/status.json"
  DAEMON_LOG="$VM_TMP/prefcpud.$n.log"
  echo "taskset -c 0 prefcpud --foreground --interval-ms $VM_INTERVAL_MS --high $VM_HIGH --low $VM_LOW" \
    "--state-dir $STATE --proc-stat $STEAL_FILE $*" >"$DAEMON_LOG"
  # Pinned beside vm-steal, so that the steal file is never stale when the daemon samples it.
  taskset -c 0 prefcpud --foreground --interval-ms "$VM_INTERVAL_MS" --high "$VM_HIGH" \
    --low "$VM_LOW" --state-dir "$STATE" --proc-stat "$STEAL_FILE" "$@" >>"$DAEMON_LOG" 2>&1 &
  DAEMON_PID=$!
  echo "$DAEMON_PID" >"$VM_TMP/daemon.pid"
}
# expect_daemon_started LIST: daemon.started passes once the daemon publishes LIST (T_START); else
# it fails with the daemon's log and returns 1, and the scenario ends: `... || return 0`.
expect_daemon_started() {
  if wait_preferred "$1" "$T_START"; then
    pass daemon.started "preferred $1 published"
    return 0
  fi
  fail daemon.started "no $STATE/preferred of $1 after $T_START s"
  daemon_log_tail
  return 1
}
daemon_alive() { kill -0 "$DAEMON_PID" 2>/dev/null; }
daemon_exited() { ! kill -0 "$DAEMON_PID" 2>/dev/null || grep -q '^State:.*Z' "/proc/$DAEMON_PID/status"; }
# daemon_stop SIGNAL: sends it and waits (T_START) for the exit; DAEMON_RC is the exit status
# (128+N for a signal), 124 if it had to be killed.
daemon_stop() {
  DAEMON_RC=0
  kill -"$1" "$DAEMON_PID" 2>/dev/null
  if ! wait_until "$T_START" daemon_exited; then
    kill -KILL "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_RC=124
    return
  fi
  wait "$DAEMON_PID" 2>/dev/null || DAEMON_RC=$?
}
preferred() { cpus norm "$(cat "$STATE/preferred" 2>/dev/null)"; }
# LIST is canonical (as `cpus` prints it); the kernel and prefcpud print canonical cpulists too,
# so the common case needs no fork.
preferred_is() {
  local p=""
  [ -f "$STATE/preferred" ] && read -r p <"$STATE/preferred"
  [ "$p" = "$1" ] || { [ -n "$p" ] && [ "$(cpus norm "$p")" = "$(cpus norm "$1")" ]; }
}
# wait_preferred LIST [SECONDS]: the daemon publishes LIST.
wait_preferred() { wait_until "${2:-$T_STEP}" preferred_is "$1"; }
cg_cpus_is() {
  local c=""
  read -r c <"$CG/$1/cpuset.cpus"
  [ "$c" = "$2" ] || [ "$(cpus norm "$c")" = "$(cpus norm "$2")" ]
}
daemon_log_tail() {
  echo "----- ${DAEMON_LOG:-no daemon log}, last 60 lines -----"
  [ -n "${DAEMON_LOG:-}" ] && tail -n 60 "$DAEMON_LOG"
}

# ---- lifecycle --------------------------------------------------------------------------------
vm_start() {
  echo "vm: $VM_NAME on $(uname -r), online $(online), cmdline: $(cat /proc/cmdline)"
  now_ms >"$VM_TMP/start"
}
vm_resume() { snapshot_topology; }
# Stops what the scenario left running and prints the daemon logs to the console.
vm_cleanup() {
  local pid log
  for pid in $(cat "$VM_TMP"/*.pid 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  phase end
  for log in "$VM_TMP"/prefcpud.*.log "$VM_TMP/vm-steal.log"; do
    [ -f "$log" ] || continue
    echo "----- $log -----"
    cat "$log"
  done
}
vm_finish() {
  local start
  start=$(cat "$VM_TMP/start")
  vm_report "END after $(( ($(now_ms) - start) / 1000 )).$(( ($(now_ms) - start) % 1000 / 100 ))s in the guest"
}
