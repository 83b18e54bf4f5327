#!/usr/bin/env python3
"""The overcommit rig's report (docs/overcommit.md): reads each guest's results.log, prints one
row per guest and arm, and writes --json, --plot and the --simulate prediction. Run by run.sh."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

USER_HZ = 100  # the guest's /proc/stat unit (x86 USER_HZ)


def cpulist_count(text):
    n = 0
    for part in (text or "").strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        n += int(hi or lo) - int(lo) + 1
    return n


def parse_guest(path):
    """{run: {"info": {...}, "json": {...}}} from one guest's results.log."""
    runs = {}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("INFO RUN "):
                words = line.split()
                k = int(words[2])
                info = {"governor": words[3]}
                for word in words[4:]:
                    key, _, value = word.partition("=")
                    info[key] = int(value) if value.lstrip("-").isdigit() else value
                runs.setdefault(k, {})["info"] = info
            elif line.startswith("JSON "):
                _, k, text = line.split(" ", 2)
                try:
                    runs.setdefault(int(k), {})["json"] = json.loads(text)
                except json.JSONDecodeError:
                    runs.setdefault(int(k), {})["json"] = {}
    return runs


def median_or_none(values):
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 2) if known else None


# Guest event counts per run: task switches and the rescheduling, function-call and TLB IPIs.
EVENTS = ("ctxt", "ipi_res", "ipi_cal", "ipi_tlb")


def run_figures(run):
    """time_s, steal_pct, mean_preferred, busy_cpus, shrinks, grows and the samples of one run."""
    info, blob = run["info"], run.get("json") or {}
    t0, t1 = info["t0_ms"], info["t1_ms"]
    time_s = (t1 - t0) / 1000.0
    steal_pct = (info["steal1"] - info["steal0"]) * (1000.0 / USER_HZ) / max(1, (t1 - t0) * info["cpus"]) * 100
    history = blob.get("history") or []  # prefcpuctl history --json: the entries, oldest first
    # (s since the work started, steal bp, preferred CPUs, busy bp): the JSON's "timeline".
    samples = [
        ((h["monotonic_ns"] / 1e6 - t0) / 1000.0, h.get("steal_bp"), cpulist_count(h.get("preferred")),
         h.get("busy_cpu_bp"))
        for h in history
    ]
    inside = [s for s in samples if 0 <= s[0] <= time_s]
    mean_pref = statistics.mean(s[2] for s in inside) if inside else float(info["cpus"])
    # CPU time the guest received (busy, what `target` reads), in CPUs; None from older daemons.
    busy = [h["busy_cpu_bp"] / 10000.0 for h in history if h.get("busy_cpu_bp") is not None
            and 0 <= (h["monotonic_ns"] / 1e6 - t0) / 1000.0 <= time_s]
    busy_cpus = statistics.mean(busy) if busy else None
    counters = ((blob.get("status") or {}).get("counters")) or {}
    # Mask changes over the daemon's life (it starts just before the work and stops after it);
    # the status counters count decisions, a shrink at one core included.
    steps = [b[2] - a[2] for a, b in zip(samples, samples[1:])]
    return {
        "time_s": time_s, "steal_pct": steal_pct, "mean_preferred": mean_pref, "busy_cpus": busy_cpus,
        "shrinks": sum(1 for d in steps if d < 0), "grows": sum(1 for d in steps if d > 0),
        "shrink_decisions": counters.get("shrinks", 0), "grow_decisions": counters.get("grows", 0),
        "samples": samples, "rc": info.get("rc", 0), "guest_governor": info["governor"],
        # The guest's own counts over the work (guest.sh guest_events); absent from older runs.
        **{key: info.get(key) for key in EVENTS},
    }


def sim_scenario(args, guests, kind, loops, duration_s):
    backoff = [g for g in args.backoff.split(",") if g]
    lines = [
        'name = "overcommit-rig"',
        f'description = "bench/overcommit/run.sh: {len(guests)} guests on {len(args.host_cpu_list)} host CPUs, {args.workload}"',
        "seed = 1", f"duration_s = {duration_s:.1f}", "", "[host]", f"pcpus = {len(args.host_cpu_list)}",
        'profile = "tcg"  # QEMU TCG: fair host, no PV spinlocks/steal hints, no PLE, no halt polling',
        "", "[guest]", "hz = 250  # Debian's CONFIG_HZ", "",
        "[workload]", f'kind = "{kind}"',
    ]
    if kind == "hackbench":
        lines += ["groups = 4", "fds = 20", f"loops = {loops}"]
    for name, vcpus, threads in guests:
        lines += ["", "[[vm]]", f'name = "{name}"', f"vcpus = {vcpus}"]
        if backoff and name not in backoff:
            lines.append('governor = "none"')
        lines += ["[vm.guest]", f"smt = {threads}"]
    return "\n".join(lines) + "\n"


def sim_run(args, scenario, governor):
    knobs = dict(kv.split("=") for kv in args.knobs.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "overcommit.toml")
        with open(path, "w") as f:
            f.write(scenario)
        cmd = [os.path.join(args.bin_dir, "prefcpu-sim"), "run", path, "--json", "--governor", governor,
               "--interval-ms", knobs["interval_ms"], "--high", knobs["high"], "--low", knobs["low"]]
        done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"overcommit: prefcpu-sim failed: {done.stderr.strip()}", file=sys.stderr)
        return []
    return json.loads(done.stdout)["results"]


def simulate(args, guests, arms, measured_s):
    """prefcpu-sim on a scenario of the same shape: {(arm, guest): {...}}, and the scenario. The
    simulated hackbench is scaled (loops) so that its baseline lasts as long as the measured one;
    the other kinds run for the measured baseline's duration."""
    kind = {"hackbench": "hackbench", "hackbench-threads": "hackbench", "sysbench-cpu": "cpu-bound",
            "spin": "cpu-bound"}.get(args.workload, "oltp")
    loops = 300
    if kind == "hackbench":
        probe = sim_run(args, sim_scenario(args, guests, kind, loops, 600.0), "none")
        base = [vm["value"] for r in probe if r["governor"] == "none" for vm in r["vms"]]
        if base and max(base) > 0:
            loops = max(1, round(loops * measured_s / max(base)))
    scenario = sim_scenario(args, guests, kind, loops, max(10.0, 3 * measured_s) if kind == "hackbench" else measured_s)
    out = {}
    for arm in arms:
        if arm == "none" and len(arms) > 1:
            continue  # every sim run has its own none baseline
        for result in sim_run(args, scenario, "kernel" if arm == "none" else arm):
            gov = "none" if result["governor"] == "none" else arm
            for vm in result["vms"]:
                out[(gov, vm["name"])] = {
                    "metric": vm.get("metric"), "median": vm.get("value"),
                    "steal_pct": vm.get("steal_pct"), "mean_preferred": vm.get("mean_preferred"),
                    "shrinks": vm.get("shrinks"), "grows": vm.get("grows")}
    return out, scenario


def plot(args, per_run, guests, arms, path):
    """Steal and preferred CPUs over time of the first run of the second arm (else the first)."""
    arm = arms[1] if len(arms) > 1 else arms[0]
    k = min(k for k, (a, _) in per_run.items() if a == arm)
    with tempfile.TemporaryDirectory() as tmp:
        plots_steal, plots_pref = [], []
        for name, _, _ in guests:
            data = os.path.join(tmp, f"{name}.dat")
            with open(data, "w") as f:
                for t, steal_bp, pref, _ in per_run[k][1][name]["samples"]:
                    if t >= -2:  # a baseline sample has no steal: NaN, which gnuplot skips
                        f.write(f"{t:.3f} {'NaN' if steal_bp is None else f'{steal_bp / 100.0:.2f}'} {pref}\n")
            plots_steal.append(f"'{data}' using 1:2 with lines lw 2 title '{name} steal %'")
            plots_pref.append(f"'{data}' using 1:3 with steps lw 2 title '{name} preferred CPUs'")
        script = f"""set terminal pngcairo size 1000,640 noenhanced
set output '{path}'
set multiplot layout 2,1 title '{args.workload}, {" + ".join(str(g[1]) for g in guests)} vCPUs on host CPUs {args.host_cpus}, governor {arm} (run {k}); work starts at 0'
set xlabel 'seconds'
set ylabel 'steal %'
set grid
plot {", ".join(plots_steal)}
set ylabel 'preferred CPUs'
set yrange [0:*]
plot {", ".join(plots_pref)}
unset multiplot
"""
        gp = os.path.join(tmp, "plot.gp")
        with open(gp, "w") as f:
            f.write(script)
        subprocess.run(["gnuplot", gp], check=True)


def main():
    p = argparse.ArgumentParser()
    for name in ("work", "workload", "cmd", "host-cpus", "governors", "accel", "knobs", "bin-dir",
                 "backoff", "quick", "json", "plot"):
        p.add_argument("--" + name, default="")
    p.add_argument("--runs", type=int)
    p.add_argument("--repeat", type=int)
    p.add_argument("--guest", action="append", default=[])
    p.add_argument("--simulate", action="store_true")
    args = p.parse_args()
    args.host_cpu_list = [c for part in args.host_cpus.split(",")
                          for c in range(int(part.split("-")[0]), int(part.split("-")[-1]) + 1)]
    guests = [(g.split(":")[0], int(g.split(":")[1]), int(g.split(":")[2])) for g in args.guest]
    arms = args.governors.split(",")
    per_run = {}  # k -> (arm, {guest: figures})
    for name, _, _ in guests:
        for k, run in parse_guest(os.path.join(args.work, name, "results.log")).items():
            if "info" not in run:
                continue
            per_run.setdefault(k, (arms[(k - 1) % len(arms)], {}))[1][name] = run_figures(run)
    results = []
    for name, vcpus, threads in guests:
        for arm in arms:
            runs = [figs[name] for k, (a, figs) in sorted(per_run.items()) if a == arm and name in figs]
            if not runs:
                continue
            times = [r["time_s"] for r in runs]
            row = {
                "governor": arm, "guest": name, "guest_governor": runs[0]["guest_governor"],
                "vcpus": vcpus, "threads": threads, "workload": args.workload,
                "metric": "time_s", "lower_is_better": True,
                "median": round(statistics.median(times), 3), "min": round(min(times), 3),
                "max": round(max(times), 3), "runs": [round(t, 3) for t in times],
                "steal_pct": round(statistics.median(r["steal_pct"] for r in runs), 1),
                "mean_preferred": round(statistics.mean(r["mean_preferred"] for r in runs), 2),
                "busy_cpus": median_or_none([r["busy_cpus"] for r in runs]),
                "shrinks": sum(r["shrinks"] for r in runs), "grows": sum(r["grows"] for r in runs),
                "shrink_decisions": sum(r["shrink_decisions"] for r in runs),
                "grow_decisions": sum(r["grow_decisions"] for r in runs),
                "failed_runs": sum(1 for r in runs if r["rc"] != 0),
                "events": {key: median_or_none([r[key] for r in runs]) for key in EVENTS},
            }
            results.append(row)
    if args.simulate:
        measured = [r["median"] for r in results if r["governor"] == "none"] or [r["median"] for r in results]
        sim, scenario = simulate(args, guests, arms, max(measured))
        for row in results:
            row["sim"] = sim.get((row["governor"], row["guest"]), {})
    else:
        scenario = None
    base = {r["guest"]: r["median"] for r in results if r["governor"] == "none"}
    print(f"\n{args.workload} ({args.cmd}); {len(guests)} guests on host CPUs {args.host_cpus}; "
          f"{args.repeat} run(s) per arm, interleaved; {args.accel}; knobs {args.knobs}")
    head = ("| guest | vCPUs | governor | median s | min-max s | vs none | steal % | busy CPUs | mean preferred "
            "| shrinks | grows |")
    if args.simulate:
        head += " sim value | sim steal % | sim mean preferred |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in results:
        change = "" if r["governor"] == "none" or r["guest"] not in base else \
            f"{(r['median'] / base[r['guest']] - 1) * 100:+.1f} %"
        gov = r["governor"] if r["guest_governor"] == r["governor"] else f"{r['governor']} ({r['guest_governor']})"
        line = (f"| {r['guest']} | {r['vcpus']}{'' if r['threads'] == 1 else ' (SMT' + str(r['threads']) + ')'} "
                f"| {gov} | {r['median']:.2f} | {r['min']:.2f}-{r['max']:.2f} | {change} | {r['steal_pct']:.1f} "
                f"| {'n/a' if r['busy_cpus'] is None else format(r['busy_cpus'], '.2f')} "
                f"| {r['mean_preferred']:.2f} | {r['shrinks']} | {r['grows']} |")
        if args.simulate:
            s = r.get("sim") or {}
            fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
            line += (f" {fmt(s.get('median'), '.2f')} {s.get('metric') or ''} | {fmt(s.get('steal_pct'), '.1f')} "
                     f"| {fmt(s.get('mean_preferred'), '.2f')} |")
        print(line)
    counted = [r for r in results if any(v is not None for v in r["events"].values())]
    if counted:
        print("\nguest events during the work, median per run: task switches, and the rescheduling, "
              "function-call and TLB-shootdown IPIs")
        for r in counted:
            e = {k: "n/a" if v is None else f"{v:.0f}" for k, v in r["events"].items()}
            print(f"  {r['guest']} {r['governor']}: ctxt {e['ctxt']}, RES {e['ipi_res']}, CAL {e['ipi_cal']}, "
                  f"TLB {e['ipi_tlb']}")
    if args.json:
        config = {
            "guests": [{"name": n, "vcpus": v, "threads": t} for n, v, t in guests],
            "host_cpus": args.host_cpus, "workload": args.workload, "command": args.cmd,
            "governors": arms, "repeat": args.repeat, "accel": args.accel, "backoff": args.backoff,
            "knobs": {k: int(v) for k, v in (kv.split("=") for kv in args.knobs.split(","))},
            "quick": args.quick == "1",
        }
        out = {"config": config, "results": results,
               "timeline": {str(k): {"governor": a, "guests": {g: f["samples"] for g, f in figs.items()}}
                            for k, (a, figs) in sorted(per_run.items())}}
        if scenario:
            out["sim_scenario"] = scenario
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
    if args.plot and per_run:
        plot(args, per_run, guests, arms, args.plot)
    return 1 if any(r["failed_runs"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
