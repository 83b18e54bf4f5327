#!/bin/sh
# spin.sh SPINNERS LOOPS: SPINNERS shell loops that each count to LOOPS and never sleep (the
# overcommit rig's steal check: every vCPU busy, so steal is the host's share that is missing).
n=0
while [ "$n" -lt "$1" ]; do
  n=$(( n + 1 ))
  sh -c 'i=0; while [ "$i" -lt "$0" ]; do i=$(( i + 1 )); done' "$2" &
done
wait
