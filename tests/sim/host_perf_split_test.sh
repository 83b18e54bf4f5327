#!/usr/bin/env bash
# bench/overcommit/host-perf-split.py on a hand-made run log and perf script: samples count only
# inside a run's window (its start to its first guest's end), per arm, in the right category; and
# `stamp` prefixes each line with the monotonic clock.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tool="$top/bench/overcommit/host-perf-split.py"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "host-perf-split: FAIL: $*" >&2; exit 1; }
# Run 1 (none): g1 2 s, g2 1 s, reported at 100 s: both worked from 98 to 99 s. Run 2 (oracle):
# both 1 s, reported at 110 s: 109 to 110 s.
cat >"$tmp/run.log" <<'LOG'
90.000000 overcommit: booted in 6s
100.000000 overcommit: run 1/2 none      g1    2.00 s  steal  51.0 %
100.000001 overcommit: run 1/2 none      g2    1.00 s  steal  52.0 %
110.000000 overcommit: run 2/2 oracle    g1    1.00 s  steal   5.0 %
110.000001 overcommit: run 2/2 oracle    g2    1.00 s  steal   6.0 %
LOG
cat >"$tmp/perf.txt" <<'PERF'
       CPU 0/TCG  7364/7370  [000] 98.100000:      7f0000001000 [unknown] ([unknown])
       CPU 1/TCG  7364/7371  [001] 98.200000:      7f0000002000 [unknown] ([unknown])
       CPU 1/TCG  7364/7371  [001] 98.300000:      55aa00001000 qht_lookup_custom (/usr/bin/qemu-system-x86_64)
       CPU 0/TCG  7364/7370  [000] 98.400000:  ffffffff81000000 schedule ([kernel.kallsyms])
       CPU 0/TCG  7364/7370  [000] 99.500000:      7f0000001000 [unknown] ([unknown])
            bash  5000/5000  [001] 109.200000:      7f4753767ef0 read (/usr/lib/x86_64-linux-gnu/libc.so.6)
       CPU 0/TCG  7400/7406  [000] 109.300000:      7f0000003000 [unknown] ([unknown])
PERF
out="$(python3 "$tool" split "$tmp/run.log" "$tmp/perf.txt" --hz 1)"
echo "$out"
grep -q "^none: 1 runs, 1.0 s while every guest worked, 4 samples" <<<"$out" || fail "the none window"
grep -Eq "^  guest code \(TCG-generated\) +50.0 %" <<<"$out" || fail "guest code share"
grep -Eq "^  QEMU and libraries +25.0 %" <<<"$out" || fail "QEMU share"
grep -Eq "^  host kernel +25.0 %" <<<"$out" || fail "host kernel share"
grep -q "^oracle: 1 runs, 1.0 s while every guest worked, 2 samples" <<<"$out" || fail "the oracle window"
grep -Eq "^  other processes +50.0 %" <<<"$out" || fail "other processes"
stamped="$(printf 'a line\n' | python3 "$tool" stamp)"
[[ "$stamped" =~ ^[0-9]+\.[0-9]{6}\ a\ line$ ]] || fail "stamp gave \"$stamped\""
echo "host-perf-split: PASS"
