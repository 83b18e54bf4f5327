"""Issue 11's per-VM governor metrics, shared by bench/sim/target.sh and bench/sim/matrix.py.

Input: a directory with GOV.json (`prefcpu-sim run ... --json`) and GOV.csv (`--timeseries`)
per governor. Per case, governor and VM: the metric, its change against the same run with
governor none, the fraction of the oracle's value, mean preferred vCPUs, mask changes, the
governor interval after which preferred stays within one core (2 vCPUs) of its final value
("settled"), and mask changes per minute over the second half of the run ("steady/min").
"""
import csv
import json
import os

GOVERNORS = ["kernel", "kernel-v2", "target", "oracle"]


def load(dir, govs=GOVERNORS):
    runs = {g: json.load(open(os.path.join(dir, g + ".json"))) for g in govs}
    series = {}
    for g in govs:
        for row in csv.DictReader(open(os.path.join(dir, g + ".csv"))):
            if row["governor"] == "none":
                continue
            series.setdefault((g, row["case"], row["vm"]), []).append(
                (float(row["t_s"]), float(row["preferred"])))
    return runs, series


def settle(points):
    """(settled interval, steady changes/min) of one VM's preferred series, "-" if unknown."""
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
    return settled, (moves * 60 / span if span > 0 else "-")


def change(x, ref, lower):
    """Relative change of x against ref in %, positive = better; None without a reference."""
    if not ref:
        return None
    return 100 * ((ref / x - 1) if lower else (x / ref - 1))


def fraction(x, ref, lower):
    """x as a fraction of ref in %, time inverted (above 100 = better); None if undefined."""
    if not ref or not x:
        return None
    return 100 * ((ref / x) if lower else (x / ref))


def rows(runs, series, govs=GOVERNORS):
    """One dict per governor, case and VM (governor none skipped), in the order of `govs`."""
    oracle = {}
    if "oracle" in runs:
        oracle = {(r["case"], v["name"]): v["value"] for r in runs["oracle"]["results"]
                  for v in r["vms"] if r["governor"] == "oracle"}
    for g in govs:
        for r in runs[g]["results"]:
            if r["governor"] == "none":
                continue
            base = {v["name"]: v for r2 in runs[g]["results"] if r2["governor"] == "none"
                    and r2["case"] == r["case"] for v in r2["vms"]}
            for v in r["vms"]:
                lower = v["metric"] in ("time_s",)
                b = base.get(v["name"])
                x = v["value"]
                key = None
                for k in series:
                    if k[0] == g and k[1] == r["case"] and k[2] in (v["name"], str(r["vms"].index(v))):
                        key = k
                settled, steady = settle(series[key]) if key else ("-", "-")
                yield {
                    "case": r["case"], "vm": v["name"], "governor": g, "vm_governor": v.get("governor", g),
                    "metric": v["metric"], "value": x, "lower": lower,
                    "vs_none": change(x, b["value"] if b else None, lower),
                    "vs_oracle": fraction(x, oracle.get((r["case"], v["name"])), lower),
                    "mean_preferred": v["mean_preferred"], "vcpus": None,
                    "steal_pct": v["steal_pct"], "steal_none_pct": b["steal_pct"] if b else None,
                    "shrinks": v.get("shrinks", 0), "grows": v.get("grows", 0),
                    "governor_intervals": v.get("governor_intervals"),
                    "settled": settled, "steady": steady,
                }


def _pct(value, fmt):
    return "-" if value is None else fmt % value


def print_table(dir, scenario, opts):
    """target.sh's table for one scenario."""
    runs, series = load(dir)
    name = os.path.basename(scenario).removesuffix(".toml")
    print("\n%s: `prefcpu-sim run %s --governor G %s--json --timeseries FILE`\n"
          % (name, scenario, opts + " " if opts else ""))
    print("| case | VM | governor | value (metric) | vs none | vs oracle | mean preferred | shrinks + grows | settled (interval) | steady changes/min |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows(runs, series):
        steady = row["steady"] if row["steady"] == "-" else "%.1f" % row["steady"]
        print("| %s | %s | %s | %.4g (%s) | %s | %s | %.1f | %d + %d | %s | %s |" % (
            row["case"], row["vm"], row["governor"], row["value"], row["metric"],
            _pct(row["vs_none"], "%+.1f %%"), _pct(row["vs_oracle"], "%.0f %%"),
            row["mean_preferred"], row["shrinks"], row["grows"], row["settled"], steady))


if __name__ == "__main__":
    import sys
    print_table(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
