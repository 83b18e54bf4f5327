# shellcheck shell=dash disable=SC3043
# The mask rules of kernel-spec.md §2.3-§2.4, written again in shell from the spec (not from the
# core library), so the scenarios check the library against an independent model. Needs lib.sh.

# protected_core: the core of the lowest-numbered online housekeeping CPU.
protected_core() {
  local hk
  hk="$(cpus min "$(housekeeping)")"
  [ -n "$hk" ] && siblings "$hk"
}

# expected_shrink PREFERRED: decrease_preferred_cpus(). Remove the core of the highest preferred
# CPU; never the core of the first housekeeping preferred CPU; nothing when only it is left.
expected_shrink() {
  local pref="$1" hk protected last target
  hk="$(cpus min "$(cpus and "$(housekeeping)" "$pref")")"
  if [ -z "$hk" ]; then cpus norm "$pref"; return; fi
  protected="$(siblings "$hk")"
  last="$(cpus max "$pref")"
  if cpus subset "$last" "$protected"; then
    target="$(cpus max "$(cpus minus "$pref" "$protected")")"
  else
    target="$last"
  fi
  if [ -z "$target" ]; then cpus norm "$pref"; return; fi
  cpus minus "$pref" "$(siblings "$target")"
}

# expected_grow PREFERRED: increase_preferred_cpus(). Add the online siblings of the lowest online
# CPU that is not preferred.
expected_grow() {
  local pref="$1" first
  first="$(cpus min "$(cpus minus "$(online)" "$pref")")"
  if [ -z "$first" ]; then cpus norm "$pref"; return; fi
  cpus or "$pref" "$(cpus and "$(siblings "$first")" "$(online)")"
}

# check_mask_invariants LABEL PREFERRED: §2.4, preferred is non-empty, within online, and holds
# the protected core's online CPUs.
check_mask_invariants() {
  local label="$1" pref="$2" why=""
  [ -n "$pref" ] || why="preferred is empty"
  cpus subset "$pref" "$(online)" || why="preferred $pref is not within online $(online)"
  cpus subset "$(cpus and "$(protected_core)" "$(online)")" "$pref" ||
    why="preferred $pref lost the protected core $(protected_core)"
  if [ -z "$why" ]; then pass "$label.invariants" "$pref within $(online)"; else fail "$label.invariants" "$why"; fi
}

# check_one_core_step LABEL BEFORE AFTER: the step removed (or added) exactly one core: all of its
# siblings that were preferred (or that are online), and nothing else.
check_one_core_step() {
  local label="$1" removed added changed universe core
  removed="$(cpus minus "$2" "$3")"
  added="$(cpus minus "$3" "$2")"
  if [ -n "$removed" ] && [ -z "$added" ]; then
    changed="$removed" universe="$2"
  elif [ -n "$added" ] && [ -z "$removed" ]; then
    changed="$added" universe="$(online)"
  else
    fail "$label.one_core" "from \"$2\" to \"$3\": removed \"$removed\", added \"$added\""
    return
  fi
  core="$(cpus and "$(siblings "$(cpus min "$changed")")" "$universe")"
  if [ "$changed" = "$core" ]; then
    pass "$label.one_core" "$changed"
  else
    fail "$label.one_core" "changed CPUs \"$changed\" are not one whole core (\"$core\")"
  fi
}
