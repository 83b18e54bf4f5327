#!/usr/bin/env python3
"""Validation against the overcommit rig without re-running it (docs/simulator.md, "Validation
against the overcommit rig"): for each stored rig case (docs/overcommit-data/NAME.json), rebuild
the simulator scenario from the case's configuration with bench/overcommit/report.py's
simulate() (host profile tcg), run it, and print one table row per guest and governor: the rig's
measured change (median and spread) beside the simulator's prediction.

Usage: bench/sim/validate.py BUILD_BIN_DIR [NAME.json ...] [--scenarios DIR] [--tcg-speed]
       [--jobs N]   (cases run N at a time; default: the CPU count)

Two ways to make the simulated guest as slow as the TCG guest:
* default (the rig's --simulate): hackbench loops scaled per case so that the simulated baseline
  lasts as long as the measured one; every guest cost stays at its native value.
* --tcg-speed: the rig's own loop count (hackbench -l), and every guest-side CPU cost (pipe
  write/read, wakeup, guest task switch) multiplied by one TCG slowdown factor, measured once on
  the 1x case (one 2-vCPU guest on the 2 host CPUs, no overcommit): the measured baseline time over
  the simulated time at native costs, refined once. The same factor serves every case; host costs
  (vCPU switch, refill) stay native, since the host schedules TCG threads at native speed.
"""
import re
import argparse
import concurrent.futures
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "overcommit"))
import report  # noqa: E402

# The rig cases that ran hackbench with --simulate: the rows of docs/simulator.md.
DEFAULT_CASES = ["1x", "2x", "asym", "default", "default-forking-poll", "oracle-quick-sim", "target-default",
                 "target-asym", "oracle-events", "fixed-1x", "fixed-2x"]


def pct(a, b):
    return (a / b - 1.0) * 100.0


def rig_args(config, bin_dir):
    return argparse.Namespace(
        workload=config["workload"], backoff=config.get("backoff") or "",
        host_cpu_list=[c for part in config["host_cpus"].split(",")
                       for c in range(int(part.split("-")[0]), int(part.split("-")[-1]) + 1)],
        knobs=",".join(f"{k}={v}" for k, v in config["knobs"].items()), bin_dir=bin_dir)


# Native guest costs (src/sim/params.h): write_ns, read_ns, wake_ns, task_switch_ns.
NATIVE = {"write_ns": 359, "read_ns": 353, "wake_ns": 330}
NATIVE_SWITCH = 330


def costed_scenario(args, guests, config, workload, guest, host):
    """The case's scenario at the rig's own loop count, with the given scenario keys."""
    loops = int(re.search(r"-l (\d+)", config["command"]).group(1))
    text = report.sim_scenario(args, guests, "hackbench", loops, 600.0)
    keys = lambda d: "".join(f"{k} = {round(v)}\n" for k, v in d.items())  # noqa: E731
    text = text.replace(f"loops = {loops}\n", f"loops = {loops}\n{keys(workload)}", 1)
    text = text.replace("[guest]\n", f"[guest]\n{keys(guest)}", 1)
    return text.replace("[host]\n", f"[host]\n{keys(host)}", 1)


def slowed_scenario(args, guests, config, factor):
    return costed_scenario(args, guests, config, {k: v * factor for k, v in NATIVE.items()},
                           {"task_switch_ns": NATIVE_SWITCH * factor}, {})


def measured_costs(path):
    """The tcg profile's keys measured by bench/overcommit/tcg-cost.sh (its "derived")."""
    with open(path) as f:
        d = json.load(f)["derived"]
    return ({k: d[k] for k in ("write_ns", "read_ns", "wake_ns")}, {"task_switch_ns": d["task_switch_ns"]},
            {"ipi_ns": d["ipi_ns"]})


def sim_by_arm(args, scenario, arms):
    out = {}
    for arm in arms:
        if arm == "none" and len(arms) > 1:
            continue
        for result in report.sim_run(args, scenario, "kernel" if arm == "none" else arm):
            gov = "none" if result["governor"] == "none" else arm
            for vm in result["vms"]:
                out[(gov, vm["name"])] = {"median": vm["value"], "steal_pct": vm["steal_pct"]}
    return out


def tcg_factor(bin_dir, data_dir):
    """The TCG slowdown of guest code, from the 1x case's measured baseline."""
    with open(os.path.join(data_dir, "1x.json")) as f:
        data = json.load(f)
    config = data["config"]
    args = rig_args(config, bin_dir)
    guests = [(g["name"], g["vcpus"], g["threads"]) for g in config["guests"]]
    measured = [r["median"] for r in data["results"] if r["governor"] == "none"][0]
    factor = 1.0
    for _ in range(2):
        sim = report.sim_run(args, slowed_scenario(args, guests, config, factor), "none")
        simulated = sim[0]["vms"][0]["value"]
        factor *= measured / simulated
    return factor


def case_rows(path, bin_dir, scenario_dir, factor=None, costs=None):
    with open(path) as f:
        data = json.load(f)
    config, results = data["config"], data["results"]
    args = rig_args(config, bin_dir)
    guests = [(g["name"], g["vcpus"], g["threads"]) for g in config["guests"]]
    arms = config["governors"]
    if costs is not None:
        scenario = costed_scenario(args, guests, config, *costs)
        sim = sim_by_arm(args, scenario, arms)
    elif factor is None:
        measured = [r["median"] for r in results if r["governor"] == "none"] or [r["median"] for r in results]
        sim, scenario = report.simulate(args, guests, arms, max(measured))
    else:
        scenario = slowed_scenario(args, guests, config, factor)
        sim = sim_by_arm(args, scenario, arms)
    name = os.path.splitext(os.path.basename(path))[0]
    if scenario_dir:
        with open(os.path.join(scenario_dir, name + ".toml"), "w") as f:
            f.write(scenario)
    by = {(r["governor"], r["guest"]): r for r in results}
    rows = []
    for guest, _, _ in guests:
        base = by.get(("none", guest))
        sim_base = sim.get(("none", guest), {}).get("median")
        for arm in arms:
            row = by.get((arm, guest))
            if arm == "none" or row is None or base is None:
                continue
            change = pct(row["median"], base["median"])
            lo, hi = pct(row["min"], base["max"]), pct(row["max"], base["min"])
            s = sim.get((arm, guest), {}).get("median")
            pred = None if s is None or not sim_base else pct(s, sim_base)
            rows.append({
                "case": name, "guest": guest, "governor": arm, "rig": change, "lo": lo, "hi": hi,
                "sim": pred, "within_spread": pred is not None and lo <= pred <= hi,
                "within_5pp": pred is not None and abs(pred - change) <= 5.0,
                "base_rig": base["median"], "base_sim": sim_base,
                "steal_rig": base["steal_pct"], "steal_sim": sim.get(("none", guest), {}).get("steal_pct"),
            })
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("bin_dir")
    p.add_argument("cases", nargs="*")
    p.add_argument("--scenarios", help="write each regenerated scenario to DIR/NAME.toml")
    p.add_argument("--json", action="store_true")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--tcg-speed", action="store_true")
    p.add_argument("--tcg-measured", nargs="?", const=os.path.join(HERE, "..", "..", "docs", "overcommit-data", "tcg-cost.json"),
                   help="guest costs measured by bench/overcommit/tcg-cost.sh (default: the stored run)")
    a = p.parse_args()
    data_dir = os.path.join(HERE, "..", "..", "docs", "overcommit-data")
    paths = a.cases or [os.path.join(data_dir, c + ".json") for c in DEFAULT_CASES]
    factor = tcg_factor(a.bin_dir, data_dir) if a.tcg_speed else None
    if factor is not None:
        print(f"TCG slowdown of guest code, measured on 1x: {factor:.2f}x", file=sys.stderr)
    costs = measured_costs(a.tcg_measured) if a.tcg_measured else None
    if costs is not None:
        print(f"TCG guest costs measured by tcg-cost: {costs}", file=sys.stderr)
    # Each case is its own simulator processes, so threads run them in parallel; rows keep case order.
    with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as pool:
        per_case = pool.map(lambda path: case_rows(path, a.bin_dir, a.scenarios, factor, costs), paths)
        rows = [row for case in per_case for row in case]
    if a.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    print("| case | guest | governor | rig change (spread) | sim prediction | within spread / 5 pp | steal none: rig / sim | none s: rig / sim |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        sim = "n/a" if r["sim"] is None else f"{r['sim']:+.1f} %"
        yes = lambda b: "yes" if b else "no"  # noqa: E731
        steal = "n/a" if r["steal_sim"] is None else f"{r['steal_sim']:.1f}"
        base_sim = "n/a" if r["base_sim"] is None else f"{r['base_sim']:.2f}"
        print(f"| {r['case']} | {r['guest']} | {r['governor']} | {r['rig']:+.1f} % ({r['lo']:+.0f}..{r['hi']:+.0f}) "
              f"| {sim} | {yes(r['within_spread'])} / {yes(r['within_5pp'])} | {r['steal_rig']:.1f} / {steal} "
              f"| {r['base_rig']:.2f} / {base_sim} |")
    hits = sum(r["within_5pp"] for r in rows)
    inside = sum(r["within_spread"] for r in rows)
    print(f"\n{inside} of {len(rows)} rows inside the rig's spread, {hits} within 5 percentage points.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
