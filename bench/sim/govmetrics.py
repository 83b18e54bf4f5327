"""Issue 11's per-VM governor metrics, shared by bench/sim/target.sh and bench/sim/matrix.py.

Input: a directory with GOV.json (`prefcpu-sim run ... --json`) and GOV.csv (`--timeseries`)
per governor. Per case, governor and VM: the metric, its change against the same run with
governor none, the fraction of the oracle's value, mean preferred vCPUs, mask changes, the
governor interval after which preferred stays within one core (2 vCPUs) of its final value
("settled"), and mask changes per minute over the second half of the run ("steady/min").
With a load step at step_s (bench/sim/steps.py): the same after the step, from the timeseries.
"""
import csv
import json
import os

GOVERNORS = ["kernel", "kernel-v2", "target", "oracle"]


def load(dir, govs=GOVERNORS):
    """The runs, and per (governor, case, VM) the (t_s, preferred, throughput) series; the
    baseline run of governor G's file under ("none:G", case, VM)."""
    runs = {g: json.load(open(os.path.join(dir, g + ".json"))) for g in govs}
    series = {}
    for g in govs:
        for row in csv.DictReader(open(os.path.join(dir, g + ".csv"))):
            key = ("none:" + g if row["governor"] == "none" else g, row["case"], row["vm"])
            series.setdefault(key, []).append(
                (float(row["t_s"]), float(row["preferred"]), float(row["throughput"])))
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


def after_step(points, base, step_s, lower):
    """After a load step at step_s: the change of the mean per-interval throughput against the
    baseline's over the same span, the intervals until preferred stays within 2 vCPUs of its
    final value (0: it never left; the last sample before the step counts as interval 0), the
    preferred count before the step and at the end, and the mask changes after the step."""
    before = [p for p in points if p[0] <= step_s]
    after = [p for p in points if p[0] > step_s]
    after_base = [p for p in base if p[0] > step_s]
    if not after or not after_base or not before:
        return None
    pts = before[-1:] + after
    final = pts[-1][1]
    settled = len(pts) - 1
    for i in range(len(pts) - 1, -1, -1):
        if abs(pts[i][1] - final) > 2:
            break
        settled = i
    mean = sum(p[2] for p in after) / len(after)
    mean_base = sum(p[2] for p in after_base) / len(after_base)
    return {"after_vs_none": change(mean, mean_base, lower) if mean else None,
            "settled_after": settled, "pref_before": before[-1][1], "pref_end": final,
            "changes_after": sum(1 for a, b in zip(pts, pts[1:]) if a[1] != b[1])}


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


def rows(runs, series, govs=GOVERNORS, step_s=None):
    """One dict per governor, case and VM (governor none skipped), in the order of `govs`; with
    step_s, also after_step()'s fields (None where a series is missing)."""
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
                step = None
                if step_s is not None and key and ("none:" + g,) + key[1:] in series:
                    step = after_step(series[key], series[("none:" + g,) + key[1:]], step_s, lower)
                yield dict(step or {}, **{
                    "case": r["case"], "vm": v["name"], "governor": g, "vm_governor": v.get("governor", g),
                    "metric": v["metric"], "value": x, "lower": lower,
                    "vs_none": change(x, b["value"] if b else None, lower),
                    "vs_oracle": fraction(x, oracle.get((r["case"], v["name"])), lower),
                    "mean_preferred": v["mean_preferred"], "vcpus": None,
                    "steal_pct": v["steal_pct"], "steal_none_pct": b["steal_pct"] if b else None,
                    "shrinks": v.get("shrinks", 0), "grows": v.get("grows", 0),
                    "governor_intervals": v.get("governor_intervals"),
                    "settled": settled, "steady": steady,
                })


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
