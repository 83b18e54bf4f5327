#!/usr/bin/env bash
# Runs every VM scenario against the binaries in BIN_DIR, one guest at a time, and prints a
# summary with each scenario's verdict and time. `make vmtest` calls it. Exit 1 if any failed;
# skipped scenarios (offline, binary not built) do not fail the run. See docs/testing.md.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 BIN_DIR [vm-run.sh options...]   (BIN_DIR: where prefcpud and prefcpuctl are)" >&2
  exit 2
fi
bin_dir="$1"
shift

passed=0 failed=0 skipped=0
summary=()
started=$(date +%s)
for scenario in "$here"/scenarios/*.sh; do
  name="$(basename "$scenario" .sh)"
  t0=$(date +%s.%N)
  "$here/vm-run.sh" --bin-dir "$bin_dir" "$@" "$scenario"
  rc=$?
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%5.1f", b - a }')
  case $rc in
    0) verdict=PASS; passed=$((passed + 1)) ;;
    77) verdict=SKIP; skipped=$((skipped + 1)) ;;
    *) verdict=FAIL; failed=$((failed + 1)) ;;
  esac
  summary+=("  $verdict  ${took}s  $name")
  echo
done

echo "VM scenarios ($(( $(date +%s) - started )) s in all):"
printf '%s\n' "${summary[@]}"
echo "vmtest: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
