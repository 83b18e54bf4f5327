#!/usr/bin/env bash
# `make lint`: clang-format must leave every tracked C++ file unchanged, and clang-tidy (config in
# .clang-tidy, warnings are errors) must be silent on every source file.
set -euo pipefail
build=${1:?usage: lint.sh BUILD_DIR_WITH_COMPILE_COMMANDS}
jobs=${JOBS:-$(nproc)}

git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror
echo "lint: clang-format clean"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# clang-tidy prints "N warnings generated" for suppressed header warnings; keep only findings.
if ! git ls-files 'src/*.cpp' | xargs -P "$jobs" -n 4 clang-tidy -p "$build" --quiet >"$log" 2>&1; then
  grep -v ' warnings\? generated\.$' "$log" >&2
  echo "lint: clang-tidy found problems" >&2
  exit 1
fi
echo "lint: clang-tidy clean"
