#!/bin/bash
# Issue 11: `target` beside `kernel`, `kernel-v2` and the `oracle` yardstick in the simulator.
# Per scenario, case, governor and VM: the metric, its change against the same run with governor
# none, the fraction of the oracle's value, mean preferred vCPUs, mask changes (shrinks + grows),
# the governor interval after which preferred stays within one core (2 vCPUs) of its final value
# ("settled"), and mask changes per minute over the second half of the run ("steady/min").
# Usage: [OPTS="--interval-ms 100 ..."] bench/sim/target.sh BUILD_BIN_DIR [SCENARIO...]
# (default: the built-ins and step-32, step-32-both); OPTS go to every `prefcpu-sim run`.
set -euo pipefail
bin=${1:?usage: $0 BUILD_BIN_DIR [SCENARIO...]}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  scenarios=(seed-hackbench seed-daytrader no-overcommit cpu-bound large "$root/bench/sim/step-32.toml"
    "$root/bench/sim/step-32-both.toml")
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for scenario in "${scenarios[@]}"; do
  for governor in kernel kernel-v2 target oracle; do
    # shellcheck disable=SC2086
    "$bin/prefcpu-sim" run "$scenario" --governor "$governor" ${OPTS:-} --json \
      --timeseries "$dir/$governor.csv" >"$dir/$governor.json"
  done
  python3 - "$dir" "$scenario" "${OPTS:-}" <<'PY'
import csv, json, os, statistics, sys
dir, scenario, opts = sys.argv[1], sys.argv[2], sys.argv[3]
govs = ["kernel", "kernel-v2", "target", "oracle"]
runs = {g: json.load(open(os.path.join(dir, g + ".json"))) for g in govs}
series = {}
for g in govs:
    for row in csv.DictReader(open(os.path.join(dir, g + ".csv"))):
        if row["governor"] == "none":
            continue
        series.setdefault((g, row["case"], row["vm"]), []).append(
            (float(row["t_s"]), float(row["preferred"])))
def settle(points):
    if len(points) < 2:
        return "-", "-"
    final = points[-1][1]
    settled = len(points)
    for i in range(len(points) - 1, -1, -1):
        if abs(points[i][1] - final) > 2:
            break
        settled = i
    half = points[len(points) // 2:]
    moves = sum(1 for a, b in zip(half, half[1:]) if a[1] != b[1])
    span = half[-1][0] - half[0][0]
    return settled, ("%.1f" % (moves * 60 / span) if span > 0 else "-")
name = os.path.basename(scenario).removesuffix(".toml")
print("\n%s: `prefcpu-sim run %s --governor G %s--json --timeseries FILE`\n"
      % (name, scenario, opts + " " if opts else ""))
print("| case | VM | governor | value (metric) | vs none | vs oracle | mean preferred | shrinks + grows | settled (interval) | steady changes/min |")
print("|---|---|---|---|---|---|---|---|---|---|")
oracle = {(r["case"], v["name"]): v["value"] for r in runs["oracle"]["results"] for v in r["vms"]
          if r["governor"] == "oracle"}
for g in govs:
    for r in runs[g]["results"]:
        if r["governor"] == "none":
            continue
        base = {v["name"]: v["value"] for r2 in runs[g]["results"] if r2["governor"] == "none"
                and r2["case"] == r["case"] for v in r2["vms"]}
        for v in r["vms"]:
            lower = v["metric"] in ("time_s",)
            b, o, x = base.get(v["name"]), oracle.get((r["case"], v["name"])), v["value"]
            def rel(ref):
                if not ref:
                    return "-"
                return "%+.1f %%" % (100 * ((ref / x - 1) if lower else (x / ref - 1)))
            def frac(ref):
                if not ref or not x:
                    return "-"
                return "%.0f %%" % (100 * ((ref / x) if lower else (x / ref)))
            key = None
            for k in series:
                if k[0] == g and k[1] == r["case"] and k[2] in (v["name"], str(r["vms"].index(v))):
                    key = k
            settled, steady = settle(series[key]) if key else ("-", "-")
            print("| %s | %s | %s | %.4g (%s) | %s | %s | %.1f | %d + %d | %s | %s |" % (
                r["case"], v["name"], g, x, v["metric"], rel(b), frac(o), v["mean_preferred"],
                v.get("shrinks", 0), v.get("grows", 0), settled, steady))
PY
done
