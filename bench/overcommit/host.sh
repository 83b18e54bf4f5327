# shellcheck shell=bash disable=SC2154,SC2015,SC2054,SC2016  # A && B || die; QEMU commas; sh -c scripts
# The overcommit rig's host side: input checks, guests, the steal feeder, the barrier, cleanup.
# Sourced by run.sh, whose variables (guests, vcpus, plan, work, ...) these functions read.
qemu_jobs=() feeder_pid=""

die() { echo "overcommit: error: $*" >&2; exit 2; }
# fail_guest I WHAT: a guest failed after boot: its name, what, and its console's end.
fail_guest() {
  local d="$work/${names[$1]}"
  echo "overcommit: error: guest ${names[$1]} $2" >&2
  echo "----- ${names[$1]}: results -----" >&2
  tr -d '\r' <"$d/results.log" 2>/dev/null | grep -v '^JSON ' | tail -n 20 >&2 || true
  echo "----- ${names[$1]}: console, last 40 lines -----" >&2
  tr -d '\r' <"$d/console.log" 2>/dev/null | tail -n 40 >&2 || true
  [ -s "$d/qemu.log" ] && { echo "----- ${names[$1]}: QEMU -----" >&2; cat "$d/qemu.log" >&2; }
  exit 1
}
is_uint() { [[ "$1" =~ ^[0-9]+$ ]] && (( 10#$1 < 1000000000 )); }
# nth LIST I: the I-th (1-based) value of a comma list, or its only value.
nth() {
  local -a v
  IFS=, read -r -a v <<<"$1"
  if (( ${#v[@]} == 1 )); then echo "${v[0]}"; else echo "${v[$2-1]-}"; fi
}
# expand_cpulist "0-2,5" -> "0 1 2 5"; fails on anything else.
expand_cpulist() {
  local part lo hi c out=() parts=()
  IFS=, read -r -a parts <<<"$1"
  (( ${#parts[@]} > 0 )) || return 1
  for part in "${parts[@]}"; do
    if [[ "$part" =~ ^([0-9]+)-([0-9]+)$ ]]; then lo=${BASH_REMATCH[1]} hi=${BASH_REMATCH[2]}
    elif [[ "$part" =~ ^[0-9]+$ ]]; then lo=$part hi=$part
    else return 1; fi
    (( lo <= hi && hi < 4096 )) || return 1
    for (( c = 10#$lo; c <= 10#$hi; c++ )); do out+=("$c"); done
  done
  echo "${out[*]}"
}
list_count() { local -a v; IFS=, read -r -a v <<<"$1"; echo "${#v[@]}"; }

validate_config() {
  local online cpu gov w
  is_uint "$guests" && (( guests >= 1 )) || die "--guests \"$guests\": expected a positive integer"
  workload_cmd "$workload" 0 >/dev/null ||
    die "unknown --workload \"$workload\": expected one of $OC_WORKLOADS"
  [ -z "$interval" ] || { is_uint "$interval" && (( interval >= 100 && interval <= 100000 )); } ||
    die "--interval-ms \"$interval\" is out of range: expected 100..100000"
  [ -z "$high" ] || { is_uint "$high" && (( high >= 1 && high <= 10000 )); } ||
    die "--high \"$high\" is out of range: expected 1..10000 basis points"
  [ -z "$low" ] || is_uint "$low" || die "--low \"$low\": expected 0..9999 basis points"
  (( ${low:-200} < ${high:-500} )) ||
    die "--low ${low:-200} must be below --high ${high:-500} (basis points)"
  is_uint "$repeat" && (( repeat >= 1 && repeat <= 100 )) || die "--repeat \"$repeat\": expected 1..100"
  is_uint "$mem" && (( mem >= 256 )) || die "--mem \"$mem\": expected at least 256 (MB per guest)"
  is_uint "$run_timeout" && (( run_timeout >= 10 )) || die "--run-timeout \"$run_timeout\": expected 10 or more seconds"
  case "$accel" in
    tcg) ;;
    kvm) check_kvm ;;
    *) die "--accel \"$accel\": expected tcg or kvm" ;;
  esac
  online="$(expand_cpulist "$(cat /sys/devices/system/cpu/online)")"
  host_cpus="${host_cpus:-$(cat /sys/devices/system/cpu/online)}"
  host_list="$(expand_cpulist "$host_cpus")" ||
    die "--host-cpus \"$host_cpus\" is not a cpulist: expected e.g. 0-1 or 0,2"
  for cpu in $host_list; do
    [[ " $online " == *" $cpu "* ]] ||
      die "--host-cpus \"$host_cpus\": CPU $cpu is not online (online: $(cat /sys/devices/system/cpu/online))"
  done
  [ -d "$bin_dir" ] || die "--bin-dir \"$bin_dir\" is not a directory (build with: make build)"
  bin_dir="$(cd "$bin_dir" && pwd)"
  for w in prefcpud prefcpuctl $( ((simulate)) || [[ ",$governors," == *,oracle,* ]] && echo prefcpu-sim); do
    [ -x "$bin_dir/$w" ] || die "$w not found in --bin-dir $bin_dir (build with: make build)"
  done
  # The arms: prefcpud's registered governors (prefcpuctl owns the list) and the oracle.
  local known
  known="$("$bin_dir/prefcpuctl" governors | cut -f1 | tr '\n' ' ')oracle" ||
    die "$bin_dir/prefcpuctl governors failed"
  [ -n "$governors" ] || die "--governor is empty: expected a comma list of $known"
  local -a govs
  IFS=, read -r -a govs <<<"$governors"
  for gov in "${govs[@]}"; do
    [[ " $known " == *" $gov "* ]] ||
      die "unknown --governor \"$gov\" in \"$governors\": expected a comma list of $known"
  done
  command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not installed (Debian package qemu-system-x86)"
  command -v cpio >/dev/null || die "cpio not installed (Debian package cpio)"
  command -v python3 >/dev/null || die "python3 not installed (Debian package python3)"
  [ -z "$plot" ] || command -v gnuplot >/dev/null || die "--plot needs gnuplot (Debian package gnuplot-nox)"
  for w in $(workload_binaries "$workload"); do
    [ -x "$w" ] || die "--workload $workload needs $w (Debian package $(workload_package "$workload"))"
  done
  [ -n "$(workload_binaries "$workload")" ] ||
    die "--workload $workload needs the Debian package $(workload_package "$workload")"
  for w in "$json" "$plot"; do
    [ -z "$w" ] || [ -d "$(dirname "$w")" ] || die "cannot write \"$w\": no directory $(dirname "$w")"
  done
  cache="${cache:-$(dirname "$bin_dir")/vm-cache}"
  mkdir -p "$cache" || die "--cache \"$cache\" cannot be created"
  cache="$(cd "$cache" && pwd)"
  kernel_fetchable
}

# The kernel is cached, given, or apt-get can fetch it; else nothing boots.
kernel_fetchable() {
  if [ -n "${PREFCPU_VM_KERNEL:-}" ]; then
    [ -f "$PREFCPU_VM_KERNEL" ] || die "PREFCPU_VM_KERNEL=$PREFCPU_VM_KERNEL: no such file"
  elif [ ! -f "$cache/$VM_KERNEL_PKG.vmlinuz" ]; then
    command -v apt-get >/dev/null ||
      die "no guest kernel in $cache and no apt-get to fetch $VM_KERNEL_PKG (set PREFCPU_VM_KERNEL)"
    apt-cache show "$VM_KERNEL_PKG" >/dev/null 2>&1 || [ "$(id -u)" -eq 0 ] ||
      die "no guest kernel in $cache and apt does not know $VM_KERNEL_PKG (set PREFCPU_VM_KERNEL)"
  fi
}

# /dev/kvm must open and QEMU must start a KVM machine with it.
check_kvm() {
  local out
  [ -r /dev/kvm ] && [ -w /dev/kvm ] || die "--accel kvm: /dev/kvm is missing or not readable and writable"
  # kvm_pvm (Pagetable-based VM, for nested clouds without VMX) runs only PVM-built guest
  # kernels; the Debian kernel never leaves the firmware there (docs/overcommit.md).
  [ ! -d /sys/module/kvm_pvm ] || [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ] ||
    die "--accel kvm: /dev/kvm here is kvm_pvm, which boots only PVM guest kernels, not $VM_KERNEL_PKG; use --accel tcg"
  out="$(timeout 10 qemu-system-x86_64 -accel kvm -machine q35 -nodefaults -display none -m 64 \
    -kernel /nonexistent 2>&1 || true)"
  case "$out" in
    *"could not open kernel file"* | *"could not load kernel"*) ;;  # KVM came up, then failed on the kernel
    *) die "--accel kvm: QEMU cannot use /dev/kvm here: $(echo "$out" | head -n 3)" ;;
  esac
}

validate_guests() {
  local i v t n avail_mb g host_n
  for n in "$vcpus_arg" "$threads_arg"; do
    local c; c=$(list_count "$n")
    (( c == 1 || c == guests )) || die "\"$n\" has $c values for $guests guests: expected 1 or $guests"
  done
  for (( i = 0; i < guests; i++ )); do
    v=${vcpus[i]} t=${threads[i]}
    is_uint "$v" && (( v >= 1 && v <= 64 )) || die "--vcpus \"$vcpus_arg\": guest g$((i+1)) has \"$v\", expected 1..64"
    is_uint "$t" && (( t >= 1 && t <= 8 )) || die "--threads \"$threads_arg\": guest g$((i+1)) has \"$t\", expected 1..8"
    (( v % t == 0 )) || die "guest g$((i+1)): $v vCPUs are not whole cores of $t threads"
  done
  for g in ${backoff//,/ }; do
    [[ " ${names[*]} " == *" $g "* ]] || die "--backoff \"$backoff\": no guest \"$g\" (guests: ${names[*]})"
  done
  host_n=$(wc -w <<<"$host_list")
  (( guests <= 4 * host_n )) ||
    die "--guests $guests: more guests than $host_n host CPUs can boot (at most $(( 4 * host_n )))"
  avail_mb=$(( $(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) / 1024 ))
  (( guests * mem + 256 <= avail_mb )) ||
    die "--guests $guests x --mem $mem MB is more memory than the host has free ($avail_mb MB available)"
}

# oracle_shares: the oracle arm's static partition, "N1 N2 ...", from prefcpu-sim, which owns the
# rule (src/sim/oracle.h): the host CPUs in proportion to the guests' vCPUs (every vCPU of these
# workloads is busy), at least one each; each guest confines its work to its first N CPUs.
oracle_shares() {
  local -a host_cpu_array
  read -r -a host_cpu_array <<<"$host_list"
  "$bin_dir/prefcpu-sim" oracle --pcpus "${#host_cpu_array[@]}" --demand "$(IFS=,; echo "${vcpus[*]}")"
}

# build_guest I: the initramfs of guest I (its config: its plan, the work, the knobs).
build_guest() {
  local i="$1" d="$work/${names[$1]}" plan_i="" gov args="" v=${vcpus[$1]} t=${threads[$1]}
  mkdir -p "$d"
  for gov in "${plan[@]}"; do
    [ -z "$backoff" ] || [[ ",$backoff," == *",${names[i]},"* ]] || gov=none
    plan_i="$plan_i $gov"
  done
  local -a shares
  local shares_text
  if [[ " ${plan[*]} " == *" oracle "* ]]; then
    shares_text="$(oracle_shares)" || die "prefcpu-sim oracle failed: $shares_text"
    read -r -a shares <<<"$shares_text"
  else
    shares=("${vcpus[@]}")  # unused without the oracle arm
  fi
  local oracle_cpus=0
  (( shares[i] == 1 )) || oracle_cpus="0-$(( shares[i] - 1 ))"
  [ -n "$interval" ] && args="$args --interval-ms $interval"
  [ -n "$high" ] && args="$args --high $high"
  [ -n "$low" ] && args="$args --low $low"
  local config="VM_NAME=${names[i]}
VM_CORES=$(( v / t ))
VM_THREADS=$t
VM_NODES=1
VM_CPUS=$v
VM_BOOT_CPUS=$v
VM_APPEND=''
VM_SCENARIO_TIMEOUT=$(( runs * (run_timeout + 120) + 300 ))
VM_STEP_TIMEOUT=30
VM_START_TIMEOUT=60
VM_SHELL=0
VM_RUN_SCENARIO=1
OC_PLAN='${plan_i# }'
OC_CMD='$cmd'
OC_DAEMON_ARGS='${args# }'
OC_ACCEL=$accel
OC_ORACLE_CPUS=$oracle_cpus
OC_GO_TIMEOUT=$(( run_timeout + 300 ))"
  # shellcheck disable=SC2046  # a list of paths
  build_initramfs "$d/root" "$d/initrd.cpio" "$busybox" "$vm_steal" "$repo/tests/vm/guest" \
    "$OC_HERE/guest.sh" "$bin_dir" "$config" "$(workload_binaries "$workload" | tr '\n' ' ')"
}

# boot_guest I: QEMU in the background, pinned with every other guest to the host CPUs.
boot_guest() {
  local i="$1" d="$work/${names[$1]}" v=${vcpus[$1]} t=${threads[$1]} accel_args
  rm -f "$d/feed.in" "$d/feed.out"
  mkfifo "$d/feed.in" "$d/feed.out"
  : >"$d/results.log"
  if [ "$accel" = kvm ]; then accel_args=(-accel kvm -cpu host); else accel_args=(-accel tcg,thread=multi); fi
  # shellcheck disable=SC2054  # commas inside QEMU option values
  taskset -c "$host_cpus" timeout -k 5 $(( runs * (run_timeout + 120) + 600 )) \
    qemu-system-x86_64 -name "${names[i]},debug-threads=on" "${accel_args[@]}" -nodefaults \
    -no-reboot -display none -m "$mem" -kernel "$kernel" -initrd "$d/initrd.cpio" \
    -append "console=ttyS0 loglevel=4 panic=-1 rdinit=/init tsc=reliable mitigations=off $VM_FAST_BOOT_ARGS" \
    -smp "$v,sockets=1,cores=$(( v / t )),threads=$t" -pidfile "$d/qemu.pid" \
    -serial "file:$d/console.log" -serial "file:$d/results.log" -serial "pipe:$d/feed" \
    >"$d/qemu.log" 2>&1 &
  qemu_jobs+=("$!")
}

# The host half of the steal: every vCPU thread's run_delay, streamed to its guest.
start_feeder() {
  # 20 lines a second whatever the interval: at 100 a second (10 ms for --interval-ms 100) the
  # guests' serial handling fell behind, steal read wrong and backed-off guests ran 2x slower
  # (docs/overcommit.md, "Tuned knobs").
  # OC_FEED_MS: another period, for experiments only (the guests' steal is then coarse).
  local i d specs=() period=${OC_FEED_MS:-50} deadline=$(( SECONDS + 20 ))
  for (( i = 0; i < guests; i++ )); do
    d="$work/${names[i]}"
    until [ -s "$d/qemu.pid" ]; do
      kill -0 "${qemu_jobs[i]}" 2>/dev/null || fail_guest "$i" "QEMU exited at start"
      (( SECONDS < deadline )) || fail_guest "$i" "QEMU wrote no pid file in 20 s"
      sleep 0.1
    done
    specs+=("$(cat "$d/qemu.pid"):${vcpus[i]}:$d/feed.in:$d/feed.out")
  done
  "$steal_feed" "$period" "$work/steal-feed.log" "${specs[@]}" 2>"$work/steal-feed.err" &
  feeder_pid=$!
}

# The guests' result lines, read incrementally: "I<TAB>line" for each complete non-JSON line of
# guest I. Builtins only, from a kept fd: the poll runs on the host CPUs during the measured
# work, and every fork or re-read there is steal the guests would see (docs/overcommit.md).
seen=() result_fds=() result_tails=()
read_results() {
  local i="$1" fd line
  if [ -z "${result_fds[i]:-}" ]; then
    [ -f "$work/${names[i]}/results.log" ] || return 0
    exec {fd}<"$work/${names[i]}/results.log"
    result_fds[i]=$fd
  fi
  while :; do
    if ! IFS= read -r -u "${result_fds[i]}" line; then
      result_tails[i]+="$line"  # a line QEMU has not finished writing
      return 0
    fi
    line="${result_tails[i]:-}$line"
    result_tails[i]=""
    line="${line%$'\r'}"
    [[ "$line" == "JSON "* ]] || seen+=("$i"$'\t'"$line")
  done
}
# has_line I GLOB: guest I has sent a result line matching GLOB.
has_line() {
  local entry
  for entry in "${seen[@]}"; do
    # shellcheck disable=SC2053  # $2 is a glob on purpose
    [[ "$entry" == "$1"$'\t'$2 ]] && return 0
  done
  return 1
}

# nap SECONDS: sleep without forking sleep(1): a read that times out on a FIFO nobody writes.
nap() {
  if [ -z "${nap_fd:-}" ]; then
    mkfifo "$work/.nap" && exec {nap_fd}<>"$work/.nap"
  fi
  read -r -t "$1" -u "$nap_fd" _ || true
}

# wait_all GLOB SECONDS WHAT: every guest has sent a result line matching GLOB; a guest that
# fails a check, dies or misses the deadline stops the whole experiment, named.
wait_all() {
  local glob="$1" deadline=$(( SECONDS + $2 )) i pending
  while :; do
    pending=0
    for (( i = 0; i < guests; i++ )); do
      read_results "$i"
      if has_line "$i" "FAIL *"; then
        fail_guest "$i" "failed during $3: $(grep -E '^FAIL ' "$work/${names[i]}/results.log" | head -n 1 | tr -d '\r')"
      fi
      has_line "$i" "$glob" && continue
      pending=1
      kill -0 "${qemu_jobs[i]}" 2>/dev/null || fail_guest "$i" "died during $3 (QEMU exited)"
      (( SECONDS < deadline )) || fail_guest "$i" "hung: no end of $3 within $2 s; killed"
    done
    (( pending )) || return 0
    nap 0.2
  done
}

# send_all LINE: LINE to every guest's serial input, at once.
send_all() {
  local i
  for (( i = 0; i < guests; i++ )); do
    timeout 5 bash -c 'printf "%s\n" "$1" >>"$2"' _ "$1" "$work/${names[i]}/feed.in" ||
      fail_guest "$i" "does not take input on its serial port"
  done
}

summarize_run() {
  local i line
  for (( i = 0; i < guests; i++ )); do
    line="$(tr -d '\r' <"$work/${names[i]}/results.log" | grep -E "^INFO RUN $1 " | head -n 1)"
    awk -v g="${names[i]}" -v n="$runs" '{
      for (f = 1; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2] }
      t = (v["t1_ms"] - v["t0_ms"]) / 1000
      st = t > 0 ? (v["steal1"] - v["steal0"]) * 10 / (t * 1000 * v["cpus"]) * 100 : 0
      printf "overcommit: run %d/%d %-9s %s %7.2f s  steal %5.1f %%\n", $3, n, $4, g, t, st
    }' <<<"$line"
  done
}

wait_qemus() {
  local i deadline=$(( SECONDS + $1 ))
  for (( i = 0; i < guests; i++ )); do
    while kill -0 "${qemu_jobs[i]}" 2>/dev/null; do
      (( SECONDS < deadline )) || { kill "${qemu_jobs[i]}" 2>/dev/null; break; }
      sleep 0.2
    done
  done
}

report() {
  local args=(--work "$work" --runs "$runs" --workload "$workload" --cmd "$cmd"
    --host-cpus "$host_cpus" --governors "$governors" --repeat "$repeat" --accel "$accel"
    --knobs "high=${high:-500},low=${low:-200},interval_ms=${interval:-1000}" --bin-dir "$bin_dir"
    --backoff "$backoff" --quick "$quick")
  for (( i = 0; i < guests; i++ )); do args+=(--guest "${names[i]}:${vcpus[i]}:${threads[i]}"); done
  [ -n "$json" ] && args+=(--json "$json")
  [ -n "$plot" ] && args+=(--plot "$plot")
  (( simulate )) && args+=(--simulate)
  python3 "$OC_HERE/report.py" "${args[@]}"
}

# cleanup RC: nothing stays running; the work dir goes unless --keep.
cleanup() {
  local job pid d
  trap - EXIT INT TERM
  set +e  # every step runs, whatever failed before
  [ -n "$feeder_pid" ] && kill "$feeder_pid" 2>/dev/null
  for d in "${names[@]/#/$work/}"; do
    [ -s "$d/qemu.pid" ] && pid="$(cat "$d/qemu.pid")" && kill -KILL "$pid" 2>/dev/null
  done
  for job in "${qemu_jobs[@]}"; do kill -KILL "$job" 2>/dev/null; done
  [ -n "$feeder_pid" ] && wait "$feeder_pid" 2>/dev/null
  for job in "${qemu_jobs[@]}"; do wait "$job" 2>/dev/null; done
  [ -n "${work:-}" ] && rm -f "$work/.nap"
  if [ -z "$keep" ] && [ -n "${work:-}" ] && [[ "$work" == /tmp/prefcpu-overcommit.* ]]; then
    rm -rf "$work"
  fi
  exit "$1"
}
