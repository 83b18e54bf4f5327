#!/usr/bin/env bash
# The real prefcpuctl binary: replay output shape, exit statuses and error messages.
set -uo pipefail
ctl="$1"
traces="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/support/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/check.sh"

# One JSON line per record, first the baseline, mask back to full at the end.
"$ctl" replay "$traces/example-16cpu-smt2.trace" >"$tmp/out" 2>"$tmp/err"
check "replay exits 0" test $? -eq 0
records=$(grep -c '^@ ' "$traces/example-16cpu-smt2.trace")
check "one line per record" test "$(wc -l <"$tmp/out")" -eq "$records"
check "first line is the baseline" grep -qx '{"t_ns":1000000000000,"action":"baseline","preferred":"0-15"}' <(head -1 "$tmp/out")
check "shrinks remove both siblings" grep -q '"action":"shrink","steal_bp":800,"preferred":"0-6,8-14"' "$tmp/out"
check "never below the protected core" bash -c "! grep -q '\"preferred\":\"0\"' '$tmp/out'"
check "ends at all CPUs" grep -q '"preferred":"0-15"}$' <(tail -1 "$tmp/out")

# The same trace under other knobs behaves differently: a 10 % high threshold never shrinks.
"$ctl" replay "$traces/example-16cpu-smt2.trace" --high 1000 --low 200 >"$tmp/high"
check "knobs change the decisions" bash -c "! grep -q '\"action\":\"shrink\"' '$tmp/high'"

# Every governor replays the bundled traces, which carry busy time (verbatim /proc/stat).
"$ctl" replay "$traces/example-16cpu-smt2.trace" --governor target >"$tmp/target" 2>"$tmp/err"
check "target replays the example trace" test $? -eq 0
check "target: one line per record" test "$(wc -l <"$tmp/target")" -eq "$records"
"$ctl" replay "$traces/recorded-2cpu-kvm.trace" --governor target >"$tmp/target" 2>"$tmp/err"
check "target replays the recorded trace" test $? -eq 0

# The topology can be overridden.
"$ctl" replay "$traces/example-16cpu-smt2.trace" --topology cores=8,smt=2,layout=consecutive >"$tmp/ppc"
check "--topology overrides the header" grep -q '"preferred":"0-13"' "$tmp/ppc"

# --numa splices by node (docs/policy.md): 16 CPUs, 8 cores, 2 nodes, siblings consecutive.
for mode in off balance pack; do
  "$ctl" replay "$traces/example-16cpu-smt2.trace" --topology cores=8,smt=2,nodes=2 --numa "$mode" \
    | sed -n 's/.*"action":"shrink".*"preferred":"\([^"]*\)".*/\1/p' | head -2 | tr '\n' ' ' >"$tmp/numa.$mode"
done
check "--numa off peels the top" grep -qx '0-13 0-11 ' "$tmp/numa.off"
check "--numa balance alternates nodes" grep -qx '0-13 0-5,8-13 ' "$tmp/numa.balance"
check "--numa pack empties node 1 first" grep -qx '0-13 0-11 ' "$tmp/numa.pack"
"$ctl" replay "$traces/example-16cpu-smt2.trace" --numa sideways >/dev/null 2>"$tmp/err"
check "bad --numa exits 2" test $? -eq 2
check "bad --numa explains" grep -q -- '--numa: numa "sideways" is not a NUMA mode: expected off, balance or pack' "$tmp/err"

# A malformed record: exit 2, the error names the record's line.
printf '@ 1\ncpu 1 2 3 4\ncpu0 1 2 3 4\n@ 2000000\ncpu 1 2 x 4\ncpu0 1 2 3 4\n' >"$tmp/bad.trace"
"$ctl" replay "$tmp/bad.trace" --topology cores=1 >"$tmp/out" 2>"$tmp/err"
check "bad record exits 2" test $? -eq 2
check "bad record names line 4" grep -q 'trace record at line 4: malformed /proc/stat line 1' "$tmp/err"

printf '@ 1\ncpu 1 2 3 4\n@ later\n' >"$tmp/bad-time.trace"
"$ctl" replay "$tmp/bad-time.trace" --topology cores=1 >/dev/null 2>"$tmp/err"
check "bad time exits 2" test $? -eq 2
check "bad time names line 3" grep -q 'trace line 3' "$tmp/err"

# Knobs out of range are refused with the accepted range.
"$ctl" replay "$traces/example-16cpu-smt2.trace" --high 10000 >/dev/null 2>"$tmp/err"
check "high 10000 exits 2" test $? -eq 2
check "high 10000 explains" grep -q 'high_threshold 10000 is out of range: expected 1..9999' "$tmp/err"
"$ctl" replay "$traces/example-16cpu-smt2.trace" --governor magic >/dev/null 2>"$tmp/err"
check "unknown governor exits 2" test $? -eq 2
check "unknown governor lists names" grep -q 'expected one of none, kernel, kernel-v2, ewma' "$tmp/err"

# No topology anywhere: exit 2 and say how to give one.
grep -v '^# cores' "$traces/example-16cpu-smt2.trace" >"$tmp/notopo.trace"
"$ctl" replay "$tmp/notopo.trace" >/dev/null 2>"$tmp/err"
check "no topology exits 2" test $? -eq 2
check "no topology explains" grep -q 'give --topology' "$tmp/err"
"$ctl" replay "$tmp/notopo.trace" --topology cores=8,smt=2 --sysfs-root /sys >/dev/null 2>&1
check "--topology excludes --sysfs-root" test $? -eq 2
"$ctl" replay "$tmp/notopo.trace" --topology cores=0 >/dev/null 2>"$tmp/err"
check "bad topology exits 2" test $? -eq 2
"$ctl" replay "$tmp/missing.trace" >/dev/null 2>&1
check "missing trace exits 2" test $? -eq 2

# record writes a trace that replays, from stdin too.
"$ctl" record --interval-ms 100 --count 3 >"$tmp/rec.trace"
check "record exits 0" test $? -eq 0
check "record wrote 3 records" test "$(grep -c '^@ ' "$tmp/rec.trace")" -eq 3
"$ctl" replay - <"$tmp/rec.trace" >"$tmp/rec.out"
check "recorded trace replays" test "$(wc -l <"$tmp/rec.out")" -eq 3

# A request over the socket's 64 KiB: a clear error and exit 2 (it said only "Connection reset by
# peer" and exited 1), whether or not a daemon listens.
long=$(head -c 100000 /dev/zero | tr '\0' '1')
"$ctl" set-preferred "$long" --state-dir "$tmp/no-daemon" >/dev/null 2>"$tmp/long.err"
check "a 100k-character request exits 2" test $? -eq 2
check "and says why" grep -q "prefcpud takes at most 65536 bytes" "$tmp/long.err"

"$ctl" --state-dir "$tmp/no-daemon" status >/dev/null 2>"$tmp/nodaemon.err"
check "--state-dir before status: exit 1 without a daemon" test $? -eq 1
check "and names that directory" grep -qF "state directory $tmp/no-daemon" "$tmp/nodaemon.err"

"$ctl" governors >"$tmp/govs"
check "governors lists five" test "$(wc -l <"$tmp/govs")" -eq 5

exit $((failures > 0))
