#!/usr/bin/env bash
# The packaging's quick checks, for `make test` (the package build and the systemd guest that
# installs it run in `make vmtest`, tests/vm/scenarios/06-systemd.sh):
# - the unit as built passes `systemd-analyze verify` without a single complaint about it;
# - its offline `systemd-analyze security` exposure stays below 3.0 (docs/daemon.md);
# - debian/ as a source package passes lintian without errors (packaging/build-deb.sh --source).
#   packaging_test.sh UNIT PREFCPUD SOURCE_DIR
# Exit 77 (skip) when systemd-analyze or the Debian packaging tools are missing.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/support/check.sh
. "$here/../support/check.sh"
if [ $# -ne 3 ]; then
  echo "usage: $0 UNIT PREFCPUD SOURCE_DIR" >&2
  exit 2
fi
unit="$1" prefcpud="$2" top="$3"
for tool in systemd-analyze:systemd dpkg-source:dpkg-dev lintian:lintian; do
  command -v "${tool%%:*}" >/dev/null || {
    echo "SKIP: ${tool%%:*} not installed (Debian package ${tool#*:}; make deps-test)"
    exit 77
  }
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The unit names the installed prefcpud; verify wants an executable there, so use this build's.
sed "s|^ExecStart=[^ ]*prefcpud |ExecStart=$prefcpud |" "$unit" >"$tmp/prefcpud.service"
# verify exits 0 on most bad values ("Failed to parse ..., ignoring"): any line about the unit fails.
verified() {
  systemd-analyze verify --man=no "$tmp/prefcpud.service" >"$tmp/verify.log" 2>&1 || return 1
  if grep -q prefcpud "$tmp/verify.log"; then
    cat "$tmp/verify.log"
    return 1
  fi
}
check "systemd-analyze verify: no complaint about the unit" verified

score="$(systemd-analyze security --offline=true --no-pager "$tmp/prefcpud.service" 2>&1 |
  sed -n 's/.*Overall exposure level for prefcpud.service: \([0-9.]*\).*/\1/p')"
echo "INFO systemd-analyze security --offline=true: ${score:-no score}"
below_3() { [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s < 3.0) }'; }
check "hardened: exposure ${score:-?} is below 3.0" below_3

lintian_clean() {
  "$top/packaging/build-deb.sh" --source "$tmp/deb" >"$tmp/source.log" 2>&1 || {
    cat "$tmp/source.log"
    return 1
  }
  grep '^build-deb: lintian:' "$tmp/source.log"
}
check "debian/: the source package passes lintian without errors" lintian_clean

exit $((failures > 0))
