"""Issue 11's load steps and ramps for bench/sim/matrix.py: cells whose guests change their load
mid-run through the scenario's load schedule ([[vm.load]], docs/simulator.md, "Load
schedules"), and their table: the change after the step, the intervals to settle after it, and
the preferred count before and at the end.

Groups:
  step     OLTP 60 % on 16 pCPUs, 4 equal guests at 2x and 4x, all running the governor: every
           guest steps or ramps between level 0.25 (no contention) and 1 at STEP_S; or only the
           neighbours g2-g4 do, while g1 stays at 1 (it is the guest measured: its neighbours
           going quiet is the way back, their return a step up it did not cause).
  step-32  The 32-vCPU guest of bench/sim/step-32-both.toml (32 + 32 vCPUs on 32 pCPUs, dispatch
           window, entitlement 16 + 16, CPU-bound): the neighbour starts or stops at STEP_S, and
           cooperates (runs the governor) or not (pinned none). The guest is measured, and when
           a cooperating neighbour starts, the neighbour too (both see the same step).
"""
import statistics

STEP_S = 3.0      # 30 intervals of 100 ms before the step
DURATION_S = 7.0  # 40 after it
RAMP_S = 2.0
LOW = 0.25        # OLTP at 60 % x 0.25: 15 % of each vCPU, no contention at 4x

# name: (load phases of a stepping guest, who steps: "all" or "neighbours")
SCHEDULES = {
    "up": ([(0, LOW, 0), (STEP_S, 1.0, 0)], "all"),
    "down": ([(STEP_S, LOW, 0)], "all"),
    "ramp-up": ([(0, LOW, 0), (STEP_S, 1.0, RAMP_S)], "all"),
    "ramp-down": ([(STEP_S, LOW, RAMP_S)], "all"),
    "neighbours-up": ([(0, LOW, 0), (STEP_S, 1.0, 0)], "neighbours"),
    "neighbours-down": ([(STEP_S, LOW, 0)], "neighbours"),
}


def load_lines(phases):
    out = []
    for at, level, ramp in phases:
        out += ["[[vm.load]]", "at_s = %g" % at, "level = %g" % level]
        if ramp:
            out.append("ramp_s = %g" % ramp)
    return out


def cells(oltp):
    out = []
    for oc in (2, 4):
        for name, (phases, who) in SCHEDULES.items():
            stepping = range(4) if who == "all" else range(1, 4)
            out.append(dict(group="step", oc=oc, guests=4, shape="sym", uncoop=[],
                            workload=oltp, duration_s=DURATION_S, step_s=STEP_S, schedule=name,
                            vm_load={i: phases for i in stepping},
                            focus=list(range(4)) if who == "all" else [0]))
    for name, phases in (("up", [(0, 0.0, 0), (STEP_S, 1.0, 0)]), ("down", [(STEP_S, 0.0, 0)])):
        for coop in (True, False):
            out.append(dict(group="step-32", oc=2, guests=2, shape="sym", pcpus=32,
                            uncoop=[] if coop else [1], workload=[("kind", '"cpu-bound"')],
                            duration_s=DURATION_S, step_s=STEP_S,
                            schedule="neighbour-" + name + ("" if coop else "-uncoop"),
                            host=['scheduler = "dispatch-window"'], entitlement=16.0,
                            names=["guest", "neighbour"], vm_load={1: phases},
                            focus=[0, 1] if coop and name == "up" else [0]))
    return out


def summarise(cell, per_seed, governors):
    """Per governor, over the focus guests and seeds: whole-run and after-step change against
    none (and the after-step spread across seeds), intervals to settle after the step,
    preferred before the step and at the end, mask changes after the step."""
    s = {}
    names = cell.get("names") or ["g%d" % (i + 1) for i in range(cell["guests"])]
    focus = {names[i] for i in cell["focus"]}
    for g in governors:
        whole, after, settled, before, end, changes = [], [], [], [], [], []
        for rows in per_seed:
            mine = [r for r in rows if r["governor"] == g and r["vm"] in focus
                    and r.get("settled_after") is not None]
            whole.append(statistics.mean(r["vs_none"] for r in mine))
            after.append(statistics.mean(r["after_vs_none"] for r in mine))
            settled += [r["settled_after"] for r in mine]
            before += [r["pref_before"] for r in mine]
            end += [r["pref_end"] for r in mine]
            changes += [r["changes_after"] for r in mine]
        s[g] = dict(whole=statistics.mean(whole), after=statistics.mean(after),
                    spread=max(after) - min(after), settled=statistics.mean(settled),
                    settled_max=max(settled), before=statistics.mean(before),
                    end=statistics.mean(end), changes=statistics.mean(changes))
    return s


def label(cell):
    if cell["group"] == "step-32":
        return cell["schedule"]
    return "%dx %s" % (cell["oc"], cell["schedule"])


def print_tables(results, governors):
    short = {"kernel": "k", "kernel-v2": "v2", "target": "t", "oracle": "o"}
    head = ("| cell | focus | " + " | ".join("%s after [spread] / run" % g for g in governors)
            + " | settled after step %s (max) |" % " / ".join(short.get(g, g) for g in governors)
            + " preferred before → end k / t | mask changes after k / t |")
    for group in ("step", "step-32"):
        rows = [(c, s) for c, s in results if c["group"] == group]
        if not rows:
            continue
        print("\n**%s**\n" % group)
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for cell, s in rows:
            names = cell.get("names") or ["g%d" % (i + 1) for i in range(cell["guests"])]
            focus = ("all" if len(cell["focus"]) == cell["guests"] > 2 else
                     " + ".join(names[i] for i in cell["focus"]))
            k, t = s["kernel"], s["target"]
            print("| %s | %s | %s | %s | %.0f → %.0f / %.0f → %.0f | %.1f / %.1f |" % (
                label(cell), focus,
                " | ".join("%+.1f [%.1f] / %+.1f" % (s[g]["after"], s[g]["spread"], s[g]["whole"])
                           for g in governors),
                " / ".join("%.1f (%d)" % (s[g]["settled"], s[g]["settled_max"])
                           for g in governors),
                k["before"], k["end"], t["before"], t["end"], k["changes"], t["changes"]))
