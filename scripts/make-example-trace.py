#!/usr/bin/env python3
"""Writes traces/example-16cpu-smt2.trace: a synthetic 16-vCPU x86-style guest (8 cores x 2
threads, siblings N and N+8) whose steal rises to 8 %, settles at 3.5 % and falls to 0.5 %.
Deterministic; run it again to regenerate the bundled file."""

import sys

CPUS = 16
USER_HZ = 100
# (seconds, steal in basis points of all CPU time)
PHASES = [(5, 100), (20, 800), (10, 350), (25, 50)]


def main() -> None:
    out = sys.stdout
    out.write("# prefcpu example trace: synthetic, written by scripts/make-example-trace.py\n")
    out.write("# format: 1\n")
    out.write(f"# user_hz: {USER_HZ}\n")
    out.write("# cores: " + " ".join(f"{c},{c + 8}" for c in range(8)) + "\n")
    out.write("# nohz_full:\n# isolated:\n")
    out.write("# nodes: 0-15\n")
    t_ns = 1_000_000_000_000
    steal = 0
    busy = [0] * CPUS
    second = 0
    for seconds, bp in PHASES:
        for _ in range(seconds + (1 if second == 0 else 0)):
            if second > 0:
                # bp/10000 of CPUS*USER_HZ ticks of CPU time per second.
                steal += bp * CPUS * USER_HZ // 10000
                for cpu in range(CPUS):
                    busy[cpu] += 60 + (cpu * 7 + second) % 11
            out.write(f"@ {t_ns}\n")
            user = sum(busy)
            idle = second * CPUS * USER_HZ - user - steal if second else 0
            out.write(f"cpu  {user} 0 {user // 10} {max(idle, 0)} 0 0 {user // 50} {steal} 0 0\n")
            for cpu in range(CPUS):
                cpu_steal = steal // CPUS + (1 if cpu < steal % CPUS else 0)
                out.write(f"cpu{cpu} {busy[cpu]} 0 {busy[cpu] // 10} 0 0 0 0 {cpu_steal} 0 0\n")
            out.write(f"intr {second * 1000}\nctxt {second * 5000}\n")
            t_ns += 1_000_000_000
            second += 1


if __name__ == "__main__":
    main()
