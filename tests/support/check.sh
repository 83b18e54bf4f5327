# shellcheck shell=bash
# The PASS/FAIL lines of the shell tests: `check NAME CONDITION...` runs CONDITION and counts the
# failures in $failures, which the test turns into its exit status. Sourced, not run.
failures=0

check() {
  local name="$1"
  shift
  if "$@"; then
    echo "PASS $name"
  else
    echo "FAIL $name"
    failures=$((failures + 1))
  fi
}
