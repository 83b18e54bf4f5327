#!/usr/bin/env bash
# Runs every libFuzzer target in BIN_DIR for SECONDS each, from its seed corpus in fuzz/corpus/
# (read only: new inputs go to a scratch corpus). Prints one line per target with its executions
# per second; exits 1 if any target crashed, leaking, timing out or aborting on a broken property,
# with the reproducer kept in build-fuzz/artifacts/.
set -euo pipefail
bin_dir=${1:?usage: run-fuzzers.sh BIN_DIR SECONDS}
seconds=${2:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
artifacts=$(cd "$bin_dir/.." && pwd)/artifacts
scratch=$(mktemp -d /tmp/prefcpu-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"

failed=()
for corpus in "$root"/fuzz/corpus/*/; do
  target=$(basename "$corpus")
  binary="$bin_dir/fuzz_$target"
  [ -x "$binary" ] || { echo "fuzz: $binary is missing" >&2; failed+=("$target"); continue; }
  mkdir -p "$scratch/$target"
  log="$scratch/$target.log"
  if "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$target-" "$scratch/$target" "$corpus" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    printf 'fuzz %-18s ok: %s runs in %ss, %s exec/s, coverage %s edges\n' \
      "$target" "${runs:-?}" "$seconds" "${rate:-?}" "${cov:-?}"
  else
    echo "fuzz $target FAILED; the last lines of its log:" >&2
    tail -40 "$log" >&2
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: ${failed[*]} failed; reproducers in $artifacts" >&2
  exit 1
fi
