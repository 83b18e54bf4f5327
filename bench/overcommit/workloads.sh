# shellcheck shell=bash disable=SC2034  # OC_WORKLOADS is read by run.sh
# The overcommit rig's workloads: real Debian programs, each a fixed amount of work (not a fixed
# time), so that the metric is the seconds it takes. Sourced by run.sh.
OC_WORKLOADS="hackbench hackbench-threads sysbench-threads sysbench-mutex sysbench-cpu sqlite spin"

# workload_cmd NAME QUICK: the command the guest runs (QUICK=1: about a third of the work).
workload_cmd() {
  local name="$1" quick="$2" loops events
  case "$name" in
    # rt-tests: 4 groups of 20 senders and 20 receivers over pipes, processes.
    hackbench) loops=$(( quick ? 300 : 1000 ))
      echo "hackbench -p -g 4 -l $loops" ;;
    # the same over sockets, threads.
    hackbench-threads) loops=$(( quick ? 300 : 1000 ))
      echo "hackbench -T -g 4 -l $loops" ;;
    # 8 threads taking and yielding 8 shared mutexes: wakeups and lock hand-offs.
    sysbench-threads) events=$(( quick ? 3000 : 10000 ))
      echo "sysbench threads --threads=8 --thread-locks=8 --thread-yields=50 --events=$events --time=0 run" ;;
    # 8 threads hammering 64 mutexes (spin then sleep in glibc): lock-holder preemption.
    sysbench-mutex) events=$(( quick ? 100000 : 300000 ))  # 3000: 0.4 s, too short to act
      echo "sysbench mutex --threads=8 --mutex-num=64 --mutex-locks=$events --mutex-loops=100 --time=0 run" ;;
    # the control: independent prime sieves, no sharing at all; backoff should not help.
    sysbench-cpu) events=$(( quick ? 9000 : 30000 ))  # 600: 1 s, too short to act
      echo "sysbench cpu --threads=8 --cpu-max-prime=4000 --events=$events --time=0 run" ;;
    # 8 clients doing small write transactions on one SQLite database (file locks, fsync-free).
    sqlite) events=$(( quick ? 100 : 300 ))
      echo "sqlite-bench.sh 8 $events" ;;
    # the steal check (tests): one busy loop per vCPU of the guest (SPIN_THREADS), no I/O.
    spin) loops=$(( quick ? 200000 : 600000 ))
      echo "spin.sh ${OC_SPIN_THREADS:-2} $loops" ;;
    *) return 1 ;;
  esac
}

# workload_binaries NAME: the host programs the guest needs for NAME.
workload_binaries() {
  case "$1" in
    hackbench*) command -v hackbench ;;
    sysbench*) command -v sysbench ;;
    sqlite) command -v sqlite3; echo "$OC_HERE/sqlite-bench.sh" ;;
    spin) echo "$OC_HERE/spin.sh" ;;
  esac
}

# workload_package NAME: the Debian package that has them.
workload_package() {
  case "$1" in
    hackbench*) echo rt-tests ;;
    sysbench*) echo sysbench ;;
    sqlite) echo sqlite3 ;;
    spin) echo busybox-static ;;
  esac
}
