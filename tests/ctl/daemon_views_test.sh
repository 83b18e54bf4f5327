#!/usr/bin/env bash
# The real prefcpud (dry run, fixture /proc and /sys, synthetic steal; no root needed) seen from
# outside: its Prometheus endpoint scraped over HTTP on 127.0.0.1 at a port the kernel picks,
# `prefcpuctl top --once` and `prefcpuctl status`; and metrics addresses it must refuse at start.
set -uo pipefail
prefcpud="$1"
ctl="$2"
tmp="$(mktemp -d)"
daemon=0
writer=0
cleanup() {
  [ "$writer" -gt 0 ] && kill "$writer" 2>/dev/null
  [ "$daemon" -gt 0 ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=tests/support/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/check.sh"

wait_for() {  # wait_for SECONDS CONDITION...: polls every 0.1 s
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# A 4-CPU guest: topology, a hypervisor flag, and a /proc/stat whose steal the writer drives.
for cpu in 0 1 2 3; do
  mkdir -p "$tmp/sys/devices/system/cpu/cpu$cpu/topology"
  echo "$cpu" >"$tmp/sys/devices/system/cpu/cpu$cpu/topology/thread_siblings_list"
done
echo 0-3 >"$tmp/sys/devices/system/cpu/online"
mkdir -p "$tmp/proc"
printf 'processor\t: 0\nflags\t\t: fpu hypervisor\n' >"$tmp/proc/cpuinfo"
mkdir -p "$tmp/textfile"
printf 'metrics_textfile = "%s"\n' "$tmp/textfile/prefcpu.prom" >"$tmp/prefcpud.toml"
write_stat() {  # write_stat STEAL_TICKS
  printf 'cpu  10 0 10 100 0 0 0 %s 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\ncpu1 1 0 1 1 0 0 0 0 0 0\ncpu2 1 0 1 1 0 0 0 0 0 0\ncpu3 1 0 1 1 0 0 0 0 0 0\n' "$1" >"$tmp/stat.new"
  mv "$tmp/stat.new" "$tmp/stat"
}
write_stat 0
# About 50 % steal: 4 CPUs at 100 ticks a second give 40 ticks per 100 ms, 20 of them stolen.
(
  steal=0
  while true; do
    steal=$((steal + 20))
    write_stat "$steal"
    sleep 0.1
  done
) &
writer=$!

start() {  # start LOG STATE_DIR ARGS...: prefcpud in the foreground of this shell or subshell
  local log="$1" state="$2"
  shift 2
  exec "$prefcpud" --foreground --dry-run --config "$tmp/prefcpud.toml" --state-dir "$state" \
    --proc-stat "$tmp/stat" --sysfs-root "$tmp/sys" --proc-root "$tmp/proc" --irq-mode off \
    --interval-ms 100 "$@" >"$log" 2>&1
}

# exec in a subshell: $! is prefcpud itself, so the signals below reach it.
(start "$tmp/log" "$tmp/state" --metrics-listen 127.0.0.1:0) &
daemon=$!
serving() { grep -q 'metrics: serving http://127.0.0.1:[0-9]*/metrics' "$tmp/log"; }
check "prefcpud says where it serves metrics" wait_for 20 serving
port=$(sed -n 's|.*metrics: serving http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$tmp/log" | head -1)
check "the kernel picked a port" test -n "$port"
shrunk() { grep -q '"preferred": "0-[0-2]"' "$tmp/state/status.json" 2>/dev/null; }
check "steal shrinks the mask" wait_for 20 shrunk

# The synthetic steal is a shell loop: on a loaded machine it misses a window now and then, a
# sample of no steal grows the mask back for a period, so mask checks wait for a shrunk reading.
scrape_shrunk() {
  curl -sS --max-time 5 "http://127.0.0.1:$port/metrics" >"$tmp/scrape" 2>"$tmp/curl.err" &&
    grep -qE '^prefcpu_preferred_cpus [1-3]$' "$tmp/scrape"
}
wait_for 10 scrape_shrunk
curl -sS --max-time 5 "http://127.0.0.1:$port/metrics" >/dev/null 2>"$tmp/curl.err"
check "the endpoint answers a scrape" test $? -eq 0
has() { grep -qE "$1" "$tmp/scrape"; }
check "steal_ratio is a gauge" has '^# TYPE prefcpu_steal_ratio gauge$'
check "steal_ratio is near one half" has '^prefcpu_steal_ratio 0\.[3-7][0-9]*$'
check "preferred_cpus below 4" has '^prefcpu_preferred_cpus [1-3]$'
check "online_cpus 4" has '^prefcpu_online_cpus 4$'
check "shrink decisions counted" has '^prefcpu_decisions_total\{action="shrink"\} [1-9][0-9]*$'
check "mask changes counted" has '^prefcpu_mask_changes_total [1-9][0-9]*$'
check "error counters present" has '^prefcpu_sample_errors_total 0$'
check "info labels" has '^prefcpu_info\{backend="cgroupfs",governor="kernel",mode="dry-run"\} 1$'
check "the textfile has the metrics" grep -q '^prefcpu_info{backend="cgroupfs",governor="kernel",mode="dry-run"} 1$' "$tmp/textfile/prefcpu.prom"
textfile_shrunk() { grep -qE '^prefcpu_preferred_cpus [1-3]$' "$tmp/textfile/prefcpu.prom"; }
check "the textfile follows mask changes" wait_for 10 textfile_shrunk
# The one writer keeps a hidden spare beside the file (swapped in by rename); node_exporter reads
# only *.prom, so the spare is never scraped.
check "the textfile leaves only itself and its spare" \
  test "$(ls -A "$tmp/textfile" | LC_ALL=C sort | tr '\n' ' ')" = ".prefcpu.prom.spare prefcpu.prom "
curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other" >"$tmp/code"
check "only /metrics is served" grep -qx 404 "$tmp/code"

"$ctl" top --once --state-dir "$tmp/state" >"$tmp/top" 2>"$tmp/top.err"
check "top --once exits 0" test $? -eq 0
check "top shows the mode" grep -q '^prefcpu top  mode dry-run, governor kernel, interval_ms 100' "$tmp/top"
check "top shows the CPU row" grep -q '^CPU         0 1 2 3$' "$tmp/top"
check "top marks a CPU not preferred" grep -qE '^preferred   ■( [■·]){2} ·$' "$tmp/top"
check "top draws steal" grep -qE '^steal      [▁▂▃▄▅▆▇█ ]+$' "$tmp/top"
check "top lists a shrink" grep -qE '^ +-[0-9.]+  shrink ' "$tmp/top"
check "top --once has no escape codes" bash -c "! grep -q $'\x1b' '$tmp/top'"
"$ctl" top --state-dir "$tmp/state" </dev/null >/dev/null 2>"$tmp/top.err"
check "live top without a terminal exits 2" test $? -eq 2
check "and says to use --once" grep -q 'use --once' "$tmp/top.err"

"$ctl" status --state-dir "$tmp/state" >"$tmp/status"
check "status exits 0" test $? -eq 0
check "status is not JSON" bash -c "! grep -q '[{}]' '$tmp/status'"
"$ctl" --state-dir "$tmp/state" history --json --count 1 >"$tmp/history"
check "--state-dir before the subcommand reaches the daemon" grep -q '"action"' "$tmp/history"

# The port is now taken: a second prefcpud must refuse to start and say why.
(start "$tmp/log2" "$tmp/state2" --metrics-listen "127.0.0.1:$port")
check "a port in use: exit 1" test $? -eq 1
check "a port in use: the reason" grep -q "metrics_listen 127.0.0.1:$port: cannot bind: Address already in use" "$tmp/log2"
check "a port in use: nothing published" test ! -e "$tmp/state2/status.json"
for bad in localhost:9747 127.0.0.1:99999 '[::1]:9747' 127.0.0.1; do
  (start "$tmp/log3" "$tmp/state3" --metrics-listen "$bad")
  check "malformed $bad: exit 2" test $? -eq 2
  check "malformed $bad: the reason" grep -qF "invalid metrics address \"$bad\"" "$tmp/log3"
  check "malformed $bad: what is accepted" grep -qF "expected IPV4:PORT such as 127.0.0.1:9747" "$tmp/log3"
done
printf 'metrics_listen = "127.0.0.1:80x"\n' >"$tmp/bad.toml"
"$prefcpud" --foreground --dry-run --config "$tmp/bad.toml" --state-dir "$tmp/state3" \
  --proc-stat "$tmp/stat" --sysfs-root "$tmp/sys" --proc-root "$tmp/proc" >"$tmp/log4" 2>&1
check "malformed in the config: exit 2" test $? -eq 2
check "malformed in the config: names the file" grep -qE "bad.toml(:[0-9]+)?: invalid metrics address" "$tmp/log4"

kill -TERM "$daemon"
wait "$daemon"
check "SIGTERM with a listener: exit 0" test $? -eq 0
daemon=0
[ "$failures" -gt 0 ] && { echo "--- prefcpud log"; cat "$tmp/log"; }
exit $((failures > 0))
