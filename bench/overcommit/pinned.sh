#!/usr/bin/env bash
# The overcommit rig with every QEMU vCPU thread pinned to one host CPU (docs/simulator.md, "What
# burns the 2-vCPU guests' time"): LAYOUT "same" puts all vCPU threads of guest i on host CPU i,
# "cross" puts vCPU j of every guest on host CPU j. The rest of the arguments go to run.sh.
# usage: pinned.sh same|cross RUN.SH-ARGS...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
layout="${1:-}"
case "$layout" in same|cross) shift ;; *) echo "pinned.sh: layout \"$layout\": expected same or cross" >&2; exit 2 ;; esac
guests=2  # run.sh's default
args=("$@")
for (( i = 0; i + 1 < ${#args[@]}; i++ )); do
  [ "${args[i]}" = --guests ] && guests="${args[i + 1]}"
done
"$here/run.sh" "$@" &
run=$!
trap 'kill "$run" 2>/dev/null || true' INT TERM
# Pin as soon as every guest's QEMU has its vCPU threads ("CPU n/TCG", debug-threads=on), before
# the first run: the threads exist from QEMU's start.
for _ in $(seq 1 300); do
  n=0 ready=1
  for p in $(pgrep -f "qemu-system-x86_64.*prefcpu-overcommit" | sort -n); do
    case "$(cat "/proc/$p/comm" 2>/dev/null)" in qemu-system*) ;; *) continue ;; esac
    found=0
    for t in /proc/"$p"/task/*; do
      name="$(cat "$t/comm" 2>/dev/null)" || continue
      [[ "$name" =~ ^CPU\ ([0-9]+)/ ]] || continue
      cpu=$n; [ "$layout" = cross ] && cpu=${BASH_REMATCH[1]}
      taskset -pc "$cpu" "${t##*/}" >/dev/null
      found=$(( found + 1 ))
    done
    [ "$found" -ge 1 ] || ready=0
    n=$(( n + 1 ))
  done
  if [ "$n" -ge "$guests" ] && [ "$ready" = 1 ]; then
    echo "pinned.sh: $layout: vCPU threads of $n QEMU processes pinned" >&2
    break
  fi
  sleep 0.2
done
wait "$run"
