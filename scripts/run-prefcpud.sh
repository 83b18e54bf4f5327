#!/usr/bin/env bash
# `make run`: prefcpud in the foreground on this machine. As root with a cpuset hierarchy it
# enforces for real; otherwise it runs as a dry run and says why. Ctrl-C (SIGINT) goes straight
# to prefcpud, which restores every cpuset, task and affinity before it exits.
#
# usage: scripts/run-prefcpud.sh BIN_DIR [prefcpud flags...]
# environment: PREFCPU_STATE_DIR (default /run/prefcpu, or a per-user directory when not root),
#              PREFCPU_CGROUP_ROOT (default: the cpuset hierarchy from /proc/self/mountinfo).
set -euo pipefail

bin=${1:?usage: run-prefcpud.sh BIN_DIR [prefcpud flags...]}
shift
prefcpud="$bin/prefcpud"
if [ ! -x "$prefcpud" ]; then
  echo "run-prefcpud: $prefcpud is missing; build it with 'make build'" >&2
  exit 1
fi

say() { echo "run-prefcpud: $*" >&2; }
args=(--foreground)
dry_run() {
  say "running as a dry run: $*"
  say "prefcpud samples steal, decides and publishes the preferred mask, and changes nothing."
  args+=(--dry-run)
}

# The cpuset hierarchy: a v1 "cpuset" mount, else a cgroup2 mount that has the cpuset controller.
find_cpuset_root() {
  local v1 v2
  v1=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
              if ($(i + 1) == "cgroup" && ("," $(i + 3) ",") ~ /,cpuset,/) { print $5; exit } }' \
         /proc/self/mountinfo)
  if [ -n "$v1" ]; then echo "v1 $v1"; return; fi
  for v2 in $(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
                     if ($(i + 1) == "cgroup2") print $5 }' /proc/self/mountinfo); do
    if grep -qw cpuset "$v2/cgroup.controllers" 2>/dev/null; then echo "v2 $v2"; return; fi
  done
}

# Top-level cpuset cgroups prefcpud would manage (ours excluded: a crashed run may have left them).
top_level_cpusets() {
  local dir name
  for dir in "$1"/*/; do
    [ -d "$dir" ] || continue
    name=$(basename "$dir")
    case "$name" in prefcpu-pinned | prefcpu-workload) continue ;; esac
    [ -e "$dir/cpuset.cpus" ] && echo "$name"
  done
}

state_dir=${PREFCPU_STATE_DIR:-/run/prefcpu}
if [ "$(id -u)" -ne 0 ]; then
  state_dir=${PREFCPU_STATE_DIR:-${XDG_RUNTIME_DIR:-/tmp}/prefcpu-$(id -u)}
  dry_run "not root, and only root may change cpusets (run 'sudo make run' to enforce)"
else
  if [ -n "${PREFCPU_CGROUP_ROOT:-}" ]; then
    if [ -e "$PREFCPU_CGROUP_ROOT/cgroup.controllers" ]; then
      found="v2 $PREFCPU_CGROUP_ROOT"
    else
      found="v1 $PREFCPU_CGROUP_ROOT"
    fi
    args+=(--cgroup-root "$PREFCPU_CGROUP_ROOT")
  else
    found=$(find_cpuset_root)
  fi
  version=${found%% *}
  root=${found#* }
  if [ -z "$found" ]; then
    dry_run "no cpuset controller is mounted (neither a v1 cpuset mount nor cgroup2 with cpuset)"
  elif [ -n "$(top_level_cpusets "$root")" ]; then
    say "enforcing on cgroup $version at $root: managing $(top_level_cpusets "$root" | xargs)"
  elif [ "$version" = v1 ]; then
    say "enforcing on cgroup v1 at $root: the workload is in the root cpuset, so --shield moves"
    say "its tasks into prefcpu-workload (kernel threads stay); Ctrl-C moves them back."
    args+=(--shield)
  else
    dry_run "cgroup v2 at $root has no child cgroup with the cpuset controller; enable it with" \
      "'echo +cpuset > $root/cgroup.subtree_control' or name cgroups with --cgroup"
  fi
fi
say "state directory $state_dir; watch it with: prefcpuctl status --state-dir $state_dir"
exec "$prefcpud" "${args[@]}" --state-dir "$state_dir" "$@"
