"""Issue 11's governor matrix: generated scenarios x governors kernel, kernel-v2, target, oracle x
seeds, summarised per cell with bench/sim/govmetrics.py (the metrics of bench/sim/target.sh);
the load steps and ramps (groups step, step-32) come from bench/sim/steps.py.

Usage: python3 bench/sim/matrix.py BUILD_BIN_DIR [--jobs N] [--only SUBSTRING,...] [--seeds 1,2,3]
       [--raw FILE.json]  (bench/sim/matrix.sh is the same)
Prints a Markdown table per cell group, then the cells whose workloads ran fewer than 30 governor
intervals. Knobs for every run: --interval-ms 100 --high 200 --low 100 (the series' published
hackbench setting); host profile kvm; nothing else is changed from the model's defaults.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import govmetrics  # noqa: E402
import steps  # noqa: E402

OPTS = ["--interval-ms", "100", "--high", "200", "--low", "100"]
PCPUS = 16
OLTP_LOAD = 0.6
DURATION_S = 3.5  # 35 intervals of 100 ms
HACKBENCH_LOOPS = 13000  # 1 group: ~3.7 s per guest at 1 pCPU each


def sizes(guests, oc, shape, pcpus):
    """vCPUs per guest: `sym` equal, `asym` alternating 3:1, totalling oc x pcpus."""
    units = [1] * guests if shape == "sym" else [3 if i % 2 == 0 else 1 for i in range(guests)]
    total = oc * pcpus
    out = [total * u // sum(units) for u in units]
    assert sum(out) == total and min(out) >= 1, (guests, oc, shape)
    return out


def cell_toml(cell):
    """A scenario for one cell. Guests g1..gN (or `names`); `uncoop` guests pin governor none;
    `vm_load` gives a guest a load schedule; `host` replaces the kvm profile."""
    pcpus = cell["pcpus"]
    lines = ['name = "%s"' % cell["id"], "seed = 1", "duration_s = %.1f" % cell["duration_s"],
             "", "[host]", "pcpus = %d" % pcpus] + cell.get("host", ['profile = "kvm"'])
    lines += ["", "[workload]"] + ["%s = %s" % kv for kv in cell["workload"]]
    names = cell.get("names") or ["g%d" % (i + 1) for i in range(cell["guests"])]
    for i, vcpus in enumerate(sizes(cell["guests"], cell["oc"], cell["shape"], pcpus)):
        lines += ["", "[[vm]]", 'name = "%s"' % names[i], "vcpus = %d" % vcpus]
        if "entitlement" in cell:
            lines.append("entitlement = %.1f" % cell["entitlement"])
        if i in cell["uncoop"]:
            lines.append('governor = "none"')
        for key, value in cell.get("vm_workload", {}).get(i, []):
            lines.append("workload.%s = %s" % (key, value))
        lines += steps.load_lines(cell.get("vm_load", {}).get(i, []))
    return "\n".join(lines) + "\n"


def oltp(load=OLTP_LOAD):
    return [("kind", '"oltp"'), ("load", str(load))]


def hackbench_loops(oc, guests, shape, pcpus, scale=1.0):
    """Loops per guest in proportion to its vCPUs, so that under `none` (the fair host shares by
    vCPU) every guest ends at about the same time, after ~3.5 s (35 intervals)."""
    vcpus = sizes(guests, oc, shape, pcpus)
    mean = sum(vcpus) / len(vcpus)
    return {i: [("loops", str(int(HACKBENCH_LOOPS * v / mean * scale)))] for i, v in enumerate(vcpus)}


def cells():
    out = []
    # The grid: OLTP, every overcommit x guest count x shape, all guests cooperating.
    for oc in (1, 2, 3, 4):
        for guests in (2, 4, 8):
            for shape in ("sym", "asym"):
                out.append(dict(group="grid", oc=oc, guests=guests, shape=shape, uncoop=[],
                                workload=oltp()))
    # Not cooperating: every second guest (g2, g4, ...; in asym the small ones) pins none.
    for oc in (2, 4):
        for guests in (2, 4, 8):
            for shape in ("sym", "asym"):
                out.append(dict(group="uncoop", oc=oc, guests=guests, shape=shape,
                                uncoop=list(range(1, guests, 2)), workload=oltp()))
    # Offered load, one level per run (the steps and ramps within a run are in steps.py).
    for load in (0.3, 0.9, 1.0):
        for oc in (2, 4):
            out.append(dict(group="load", oc=oc, guests=4, shape="sym", uncoop=[],
                            workload=oltp(load), load=load))
    # hackbench on the overcommit rig's shapes (2 pCPUs: `2x` 2 x 2 vCPUs, `default` 2 x 4,
    # `asym` 6 + 2), host profile kvm.
    hackbench = [("kind", '"hackbench"'), ("groups", "1")]
    # The small asym guest ends sooner once the large one backs off (17-26 intervals at the
    # sym loop count): twice the loops keeps it above 30.
    for oc, shape, scale in ((2, "sym", 1.0), (4, "sym", 1.0), (4, "asym", 2.0)):
        out.append(dict(group="hackbench", oc=oc, guests=2, shape=shape, uncoop=[], pcpus=2,
                        workload=hackbench, duration_s=60.0,
                        vm_workload=hackbench_loops(oc, 2, shape, 2, scale=scale)))
    # A load step down. A run ends when every finite workload has, so the step can only be a
    # hackbench neighbour that ends first: g2 runs a third of g1's loops, pinned to none, and g1
    # then has the host to itself (its mask must grow back). Every cell is also a step up at
    # t = 0: all guests start fully preferred under full contention ("settled").
    loops = hackbench_loops(4, 2, "sym", 2, scale=1.5)
    loops[1] = [("loops", str(int(HACKBENCH_LOOPS * 1.5 / 3)))]
    out.append(dict(group="step-down", oc=4, guests=2, shape="sym", uncoop=[1], pcpus=2,
                    workload=hackbench, duration_s=60.0, vm_workload=loops))
    out += steps.cells(oltp())
    for c in out:
        c.setdefault("pcpus", PCPUS)
        c.setdefault("duration_s", DURATION_S)
        c["id"] = "%s-%dx-%dg-%s" % (c["group"], c["oc"], c["guests"], c["shape"])
        if c["group"] == "step-32":
            c["id"] = "step-32"
        if "load" in c:
            c["id"] += "-load%.0f" % (100 * c["load"])
        if "schedule" in c:
            c["id"] += "-" + c["schedule"]
    return out


def run_one(bin, cell, seed, tmp):
    dir = os.path.join(tmp, "%s-s%d" % (cell["id"], seed))
    os.makedirs(dir)
    path = os.path.join(dir, "scenario.toml")
    open(path, "w").write(cell_toml(cell))
    for g in govmetrics.GOVERNORS:
        with open(os.path.join(dir, g + ".json"), "w") as out:
            subprocess.run([os.path.join(bin, "prefcpu-sim"), "run", path, "--governor", g,
                            "--seed", str(seed), *OPTS, "--json", "--timeseries",
                            os.path.join(dir, g + ".csv")], stdout=out, check=True)
    runs, series = govmetrics.load(dir)
    rows = list(govmetrics.rows(runs, series, step_s=cell.get("step_s")))
    json.dump(rows, open(os.path.join(dir, "rows.json"), "w"))
    return rows


def spread(values):
    return max(values) - min(values) if values else 0.0


def summarise(cell, per_seed):
    """Per governor: mean over seeds of the mean change of the guests running it, its spread
    across seeds, the worst such guest, target's fraction of oracle, settle and steal."""
    s = {}
    for g in govmetrics.GOVERNORS:
        means, worst, frac, pref, steal, settled, changes = [], [], [], [], [], [], []
        for rows in per_seed:
            mine = [r for r in rows if r["governor"] == g and r["vm_governor"] != "none"]
            means.append(statistics.mean(r["vs_none"] for r in mine))
            worst.append(min(r["vs_none"] for r in mine))
            frac.append(statistics.mean(r["vs_oracle"] for r in mine if r["vs_oracle"]))
            pref.append(statistics.mean(r["mean_preferred"] for r in mine))
            steal.append(statistics.mean(r["steal_pct"] for r in mine))
            settled += [r["settled"] for r in mine if r["settled"] != "-"]
            changes.append(statistics.mean(r["shrinks"] + r["grows"] for r in mine))
        s[g] = dict(mean=statistics.mean(means), spread=spread(means),
                    worst=statistics.mean(worst), frac=statistics.mean(frac),
                    pref=statistics.mean(pref), steal=statistics.mean(steal),
                    settled=statistics.mean(settled) if settled else None,
                    changes=statistics.mean(changes))
    t, k = s["target"], s["kernel"]
    noise = max(t["spread"], k["spread"])
    s["verdict"] = ("yes" if t["mean"] >= k["mean"] else
                    "within noise" if k["mean"] - t["mean"] <= noise else "**no**")
    none_rows = [r for rows in per_seed for r in rows
                 if r["governor"] == "target" and r["vm_governor"] == "none"]
    s["uncoop"] = statistics.mean(r["vs_none"] for r in none_rows) if none_rows else None
    s["steal_none"] = statistics.mean(r["steal_none_pct"] for rows in per_seed for r in rows
                                      if r["governor"] == "target" and r["vm_governor"] != "none")
    s["vcpus"] = sizes(cell["guests"], cell["oc"], cell["shape"], cell["pcpus"])
    s["short"] = {}
    for rows in per_seed:
        for r in rows:
            if r["governor_intervals"] is not None and r["governor_intervals"] < 30:
                s["short"].setdefault((r["vm"], r["vm_governor"] == "none"), []).append(
                    r["governor_intervals"])
    return s


def label(cell):
    out = "%dx %dg %s" % (cell["oc"], cell["guests"], cell["shape"])
    if "load" in cell:
        out += " load %.1f" % cell["load"]
    return out


def print_tables(results):
    head = ("| cell | vCPUs / pCPUs | steal none | kernel | kernel-v2 | target | oracle |"
            " target / oracle | target ≥ kernel | worst guest k / t | mean preferred k / t / o |"
            " steal k / t | mask changes k / t | settled k / t | non-coop guests (target) |")
    groups = []
    for cell, s in results:
        if cell["group"] not in groups and "step_s" not in cell:
            groups.append(cell["group"])
    for group in groups:
        print("\n**%s**\n" % group)
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for cell, s in results:
            if cell["group"] != group:
                continue

            def c(g):
                return "%+.1f [%.1f]" % (s[g]["mean"], s[g]["spread"])

            def n(v):
                return "-" if v is None else "%.0f" % v
            vcpus = "+".join(str(v) for v in s["vcpus"][:2]) + ("+…" if cell["guests"] > 2 else "")
            print("| %s | %s / %d | %.0f %% | %s | %s | %s | %s | %.0f %% | %s | %+.1f / %+.1f |"
                  " %.1f / %.1f / %.1f | %.1f / %.1f %% | %.0f / %.0f | %s / %s | %s |" % (
                      label(cell), vcpus, cell["pcpus"], s["steal_none"], c("kernel"),
                      c("kernel-v2"), c("target"), c("oracle"), s["target"]["frac"], s["verdict"],
                      s["kernel"]["worst"], s["target"]["worst"], s["kernel"]["pref"],
                      s["target"]["pref"], s["oracle"]["pref"], s["kernel"]["steal"],
                      s["target"]["steal"], s["kernel"]["changes"], s["target"]["changes"],
                      n(s["kernel"]["settled"]), n(s["target"]["settled"]),
                      "-" if s["uncoop"] is None else "%+.1f" % s["uncoop"]))
    short = [(cell["id"], s["short"]) for cell, s in results if s["short"]]
    print("\nWorkloads with fewer than 30 governor intervals (VM: intervals, over governors and"
          " seeds):", "none" if not short else "")
    for id, vms in short:
        print("- %s: %s" % (id, ", ".join(
            "%s%s %s" % (vm, " (pinned none)" if pinned else "",
                         "-".join(str(x) for x in sorted({min(ivs), max(ivs)})))
            for (vm, pinned), ivs in sorted(vms.items()))))


def print_regrown(per_cell):
    """target's guests split by whether they grew again after shrinking (an undone shrink, in
    runs this short), over seeds: how the cell mean splits between the two."""
    print("\n`target`'s guests that grew again after their shrink against those whose shrink"
          " stood (guests x seeds, mean change vs none), cells where any grew:\n")
    print("| cell | grew again: guests, change | shrink stood: guests, change |")
    print("|---|---|---|")
    for cell, per_seed in per_cell:
        mine = [r for rows in per_seed for r in rows
                if r["governor"] == "target" and r["vm_governor"] != "none"]
        grew = [r["vs_none"] for r in mine if r["grows"] > 0]
        stood = [r["vs_none"] for r in mine if r["grows"] == 0]
        if grew:
            print("| %s %s | %d, %+.1f %% | %d, %s |" % (
                cell["group"], label(cell), len(grew), statistics.mean(grew), len(stood),
                "%+.1f %%" % statistics.mean(stood) if stood else "-"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bin")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--only", default="", help="run the cells whose id contains one of these "
                    "comma-separated substrings")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--raw", help="write every row of every run to this JSON file")
    ap.add_argument("--from-raw", help="tabulate a --raw file instead of running")
    ap.add_argument("--keep", help="run in this directory and keep it (default: a temp dir)")
    a = ap.parse_args()
    try:
        seeds = [int(x) for x in a.seeds.split(",")]
    except ValueError:
        ap.error("--seeds %r: expected comma-separated integers, e.g. 1,2,3" % a.seeds)
    only = a.only.split(",")

    def chosen(id):
        return any(o in id for o in only)
    todo = [c for c in cells() if chosen(c["id"])]
    if not todo:
        ap.error("--only %r matches no cell; cell ids: %s" % (
            a.only, ", ".join(c["id"] for c in cells())))
    if a.from_raw:
        raw = json.load(open(a.from_raw))
        seeds = raw[0]["seeds"]
        per_cell = [(r["cell"], r["rows"]) for r in raw if chosen(r["cell"]["id"])]
        todo = []
    tmp = a.keep or tempfile.mkdtemp(prefix="prefcpu-matrix.")
    try:
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
            futures = {(c["id"], seed): pool.submit(run_one, a.bin, c, seed, tmp)
                       for c in todo for seed in seeds}
            if todo:
                per_cell = [(c, [futures[(c["id"], seed)].result() for seed in seeds])
                            for c in todo]
    finally:
        if not a.keep:
            shutil.rmtree(tmp)
    if a.raw:
        json.dump([{"cell": c, "seeds": seeds, "rows": rows} for c, rows in per_cell],
                  open(a.raw, "w"), indent=1)
    print("`python3 bench/sim/matrix.py BIN%s`: governors kernel, kernel-v2, target, oracle; "
          "seeds %s; `prefcpu-sim run S --governor G --seed N %s --json --timeseries F`"
          % (" --only " + a.only if a.only else "", ",".join(map(str, seeds)), " ".join(OPTS)))
    flat = [(c, rows) for c, rows in per_cell if "step_s" not in c]
    if flat:
        print_tables([(c, summarise(c, rows)) for c, rows in flat])
        print_regrown(flat)
    steps.print_tables([(c, steps.summarise(c, rows, govmetrics.GOVERNORS))
                        for c, rows in per_cell if "step_s" in c], govmetrics.GOVERNORS)


if __name__ == "__main__":
    main()
