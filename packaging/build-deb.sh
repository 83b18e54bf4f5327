#!/usr/bin/env bash
# Builds prefcpu_<version>_<arch>.deb with dpkg-buildpackage from a copy of the source tree (so
# the tree stays clean and nothing lands in its parent), then runs lintian on it.
#   packaging/build-deb.sh [OUT_DIR]           (default build-deb/; JOBS=N for the compile)
#   packaging/build-deb.sh --source OUT_DIR    only the source package and lintian on it: the
#                                              debian/ metadata in seconds, no compile (make test)
# Prints the path of the .deb (or .dsc) last. `make deb` calls it. lintian errors fail it.
set -euo pipefail

source_only=0
if [ "${1:-}" = --source ]; then
  source_only=1
  shift
fi
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$top/build-deb}"
for tool in dpkg-parsechangelog dpkg-buildpackage dpkg-source lintian cpio; do
  command -v "$tool" >/dev/null || {
    echo "build-deb: $tool not installed (make deps-deb installs dpkg-dev, debhelper, lintian, cpio)" >&2
    exit 2
  }
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
version="$(sed -n 's/^project(prefcpu VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")"
changelog="$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)"
if [ "$version" != "$changelog" ]; then
  echo "build-deb: CMakeLists.txt says version $version but debian/changelog says $changelog;" \
    "add a changelog entry (dch -v $version)" >&2
  exit 1
fi

src="$out/src/prefcpu-$version"
rm -rf "$out/src"
mkdir -p "$src"
trap 'rm -rf "$out/src"' EXIT
# The tracked and new files of a checkout; a tarball without .git: everything but build trees.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$top" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' | cpio -0 -pdm --quiet "$src")
else
  tar -C "$top" --exclude='./build*' --exclude='./.git' -cf - . | tar -C "$src" -xf -
fi

# lintian_check FILE: lintian's tags in OUT/lintian.log; errors fail, warnings are listed.
lintian_check() {
  echo "build-deb: lintian $(basename "$1")"
  lintian --fail-on error --info "$1" | tee "$out/lintian.log" || {
    echo "build-deb: lintian reports errors (above)" >&2
    exit 1
  }
  echo "build-deb: lintian: $(grep -c '^E:' "$out/lintian.log" || true) errors," \
    "$(grep -c '^W:' "$out/lintian.log" || true) warnings"
}

if ((source_only)); then
  # A native source package: what lintian checks of debian/ (control, copyright, rules, changelog).
  (cd "$out/src" && dpkg-source -b "prefcpu-$version" >"$out/dpkg-source.log" 2>&1) ||
    { cat "$out/dpkg-source.log" >&2; echo "build-deb: dpkg-source -b failed" >&2; exit 1; }
  for f in "$out/src/"prefcpu_"${version}"*; do mv -f "$f" "$out/"; done
  lintian_check "$out/prefcpu_${version}.dsc"
  echo "$out/prefcpu_${version}.dsc"
  exit 0
fi

arch="$(dpkg --print-architecture)"
deb="prefcpu_${version}_${arch}.deb"
echo "build-deb: building $deb in $src"
(
  cd "$src"
  # ccache (when configured) keeps rebuilds of the same tree quick; tests run in `make test`.
  export DEB_BUILD_OPTIONS="parallel=${JOBS:-$(nproc)} nocheck"
  command -v ccache >/dev/null && export CMAKE_CXX_COMPILER_LAUNCHER=ccache
  dpkg-buildpackage -b -us -uc >"$out/dpkg-buildpackage.log" 2>&1
) || { tail -n 40 "$out/dpkg-buildpackage.log" >&2; echo "build-deb: failed, see $out/dpkg-buildpackage.log" >&2; exit 1; }
for f in "$out/src/"prefcpu_"${version}"_*; do mv -f "$f" "$out/"; done
lintian_check "$out/$deb"
echo "$out/$deb"
