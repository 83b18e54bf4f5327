# shellcheck shell=bash
# Host-side helpers of vm-run.sh: the Debian kernel and busybox cache, the vm-steal helper, the
# initramfs, and the verdict. Sourced, not run.

# The guest kernel: Debian's cloud kernel (CPUSETS, SCHED_SMT, NUMA, HOTPLUG_CPU, NO_HZ_FULL).
VM_KERNEL_PKG="${PREFCPU_VM_KERNEL_PKG:-linux-image-6.12.113+deb12-cloud-amd64-unsigned}"
VM_CONSOLE_LINES=400  # how much of a failed guest's console to print
# The slowest initcalls under TCG (measured with initcall_debug) that no scenario needs: crypto
# self-tests, key rings, certificates, BPF and LSM netfilter hooks. About 1 s per boot.
VM_FAST_BOOT_ARGS="cryptomgr.notests apparmor=0 audit=0 initcall_blacklist=init_encrypted,\
jent_mod_init,load_system_certificate_list,bpf_tcp_ca_kfunc_init,bpf_dummy_struct_ops_init,\
apparmor_nf_ip_init,selinux_nf_ip_init,crypto_kdf108_init,cec_init,tpm_init,init_kprobe_trace"

# scenario_header FILE KEY DEFAULT: the value of the "# vm-KEY: VALUE" line, else DEFAULT.
scenario_header() {
  local value
  value="$(sed -n "s/^# vm-$2:[[:space:]]*//p" "$1" | head -n 1)"
  printf '%s\n' "${value:-$3}"
}

# fetch_deb CACHE PACKAGE MEMBER_GLOB DEST: downloads PACKAGE with apt-get download once, keeps
# the one member that matches, and removes the .deb. Prints a reason and fails when offline.
fetch_deb() {
  local cache="$1" package="$2" member="$3" dest="$4" tmp log found
  tmp="$(mktemp -d "$cache/fetch.XXXXXX")"
  log="$cache/fetch-$package.log"
  chmod 755 "$tmp"  # apt's _apt user downloads into it when we are root
  if ! (cd "$tmp" && timeout 300 apt-get download "$package") >"$log" 2>&1; then
    # A fresh machine may lack package lists; refresh them once if we may.
    if [ "$(id -u)" -eq 0 ] && timeout 300 apt-get update -q >>"$log" 2>&1 &&
      (cd "$tmp" && timeout 300 apt-get download "$package") >>"$log" 2>&1; then
      :
    else
      rm -rf "$tmp"
      echo "cannot download Debian package $package (offline?): $(tail -n 1 "$log")"
      return 1
    fi
  fi
  if ! dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards "$member" 2>>"$log"; then
    rm -rf "$tmp"
    echo "cannot unpack $member from $package, see $log"
    return 1
  fi
  found="$(find "$tmp" -path "$tmp/${member#./}" -type f | head -n 1)"
  [ -n "$found" ] || { rm -rf "$tmp"; echo "$package has no $member"; return 1; }
  mv "$found" "$dest"
  rm -rf "$tmp"
}

# fetch_kernel CACHE: prints the path of the cached vmlinuz, downloading it the first time.
# PREFCPU_VM_KERNEL=/path/to/vmlinuz uses that kernel instead.
fetch_kernel() {
  local cache="$1" dest
  if [ -n "${PREFCPU_VM_KERNEL:-}" ]; then
    [ -f "$PREFCPU_VM_KERNEL" ] || { echo "PREFCPU_VM_KERNEL=$PREFCPU_VM_KERNEL: no such file"; return 1; }
    echo "$PREFCPU_VM_KERNEL"
    return 0
  fi
  dest="$cache/$VM_KERNEL_PKG.vmlinuz"
  [ -f "$dest" ] || (
    flock 9  # ctest or two shells may fetch at once
    [ -f "$dest" ] || fetch_deb "$cache" "$VM_KERNEL_PKG" "./boot/vmlinuz-*" "$dest" || exit 1
    # The ELF inside boots through PVH without the in-guest decompression, ~1 s faster under TCG.
    extract_vmlinux "$dest" "$dest.elf" || true
  ) 9>"$cache/.fetch.lock" || return 1
  if [ "${PREFCPU_VM_PVH:-1}" = 1 ] && [ -f "$dest.elf" ]; then
    echo "$dest.elf"
  else
    echo "$dest"
  fi
}

# extract_vmlinux BZIMAGE OUT: the zstd payload of a bzImage (boot protocol: setup_sects at 0x1f1,
# payload_offset at 0x248, payload_length at 0x24c), decompressed. Fails quietly without zstd.
extract_vmlinux() {
  local bz="$1" out="$2" sects offset length
  command -v zstd >/dev/null || return 1
  sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
  offset=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
  length=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
  # zstd stops at the 4-byte size the kernel build appends, and says so: only the ELF counts.
  tail -c +$(( (sects + 1) * 512 + offset + 1 )) "$bz" | head -c "$length" | zstd -dcq >"$out.tmp" 2>/dev/null
  if [ "$(head -c 4 "$out.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    mv "$out.tmp" "$out"
  else
    rm -f "$out.tmp"
    return 1
  fi
}

# fetch_busybox CACHE: a static busybox, from the installed busybox-static or downloaded once.
fetch_busybox() {
  local cache="$1" dest="$1/busybox"
  [ -x "$dest" ] && { echo "$dest"; return 0; }
  if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
    cp /bin/busybox "$dest"
  else
    (
      flock 9
      [ -x "$dest" ] || fetch_deb "$cache" busybox-static "./bin/busybox" "$dest"
    ) 9>"$cache/.fetch.lock" || return 1
  fi
  echo "$dest"
}

# build_vm_steal CACHE SOURCE: the steal feeder, static, rebuilt when its source changes.
build_vm_steal() { build_tool "$1" "$2" vm-steal; }

# build_tool CACHE SOURCE NAME: one C++ file with the host compiler into CACHE/NAME, static,
# rebuilt when its source changes.
build_tool() {
  local cache="$1" source="$2" out="$1/$3" cxx="${CXX:-c++}"
  if [ ! -x "$out" ] || [ "$source" -nt "$out" ]; then
    command -v "$cxx" >/dev/null || { echo "no C++ compiler ($cxx) to build $3"; return 1; }
    "$cxx" -std=c++20 -O2 -static -Wall -Wextra -Werror -o "$out.tmp.$$" "$source" \
      >"$cache/$3.log" 2>&1 || { echo "building $3 failed: $(cat "$cache/$3.log")"; return 1; }
    mv "$out.tmp.$$" "$out"
  fi
  echo "$out"
}

# copy_with_libraries ROOT BINARY: BINARY into ROOT/opt/prefcpu/bin, and every library ldd names
# (the dynamic loader included) at its own path under ROOT.
copy_with_libraries() {
  local root="$1" binary="$2" lib dest
  dest="$root/opt/prefcpu/bin/$(basename "$binary")"
  # Debug info only weighs on the initramfs (an ASan prefcpud is ~70 MB with it, and the guest
  # has no symbolizer): drop it when binutils is there.
  objcopy --strip-debug "$binary" "$dest" 2>/dev/null || cp "$binary" "$dest"
  for lib in $(ldd "$binary" 2>/dev/null | awk '/=> \// { print $3 } /^[[:space:]]*\// { print $1 }'); do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# build_initramfs ROOT OUT BUSYBOX VM_STEAL GUEST_DIR SCENARIO BIN_DIR CONFIG [EXTRA]
# EXTRA: more host binaries (paths) for /opt/prefcpu/bin, with their libraries.
build_initramfs() {
  local root="$1" out="$2" busybox="$3" vm_steal="$4" guest="$5" scenario="$6" bin_dir="$7"
  local config="$8" extra="${9-}" binary
  rm -rf "$root"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,root,etc,vm,opt/prefcpu/bin}
  cp "$busybox" "$root/bin/busybox"
  cp "$guest/init" "$root/init"
  chmod 755 "$root/init"
  cp "$guest/lib.sh" "$guest/rules.sh" "$root/vm/"
  cp "$scenario" "$root/vm/scenario.sh"
  printf '%s\n' "$config" >"$root/vm/config"
  cp "$vm_steal" "$root/opt/prefcpu/bin/vm-steal"
  for binary in prefcpud prefcpuctl; do
    [ -x "$bin_dir/$binary" ] && copy_with_libraries "$root" "$bin_dir/$binary"
  done
  for binary in $extra; do copy_with_libraries "$root" "$binary"; done
  echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
  # Uncompressed: under TCG the guest would spend longer inflating than QEMU spends loading it.
  (cd "$root" && find . -print | cpio -o -H newc --quiet) >"$out"
  rm -rf "$root"  # tens of MB with ASan binaries; `cpio -itv <initrd.cpio` lists what was in it
}

# prepare_qemu_files EXTRA WORK: small zeroed disk images for each @WORK@/NAME.img in EXTRA.
prepare_qemu_files() {
  local image
  for image in $(printf '%s\n' "$1" | grep -o '@WORK@/[A-Za-z0-9_.-]*\.img' || true); do
    truncate -s 1M "$2/${image#@WORK@/}"
  done
}

# report_results NAME RESULTS CONSOLE QEMU_LOG RC TIMEOUT ELAPSED VERBOSE: prints the guest's
# check lines and the verdict, the console on failure, and exits 0, 1 or 77.
report_results() {
  local name="$1" results="$2" console="$3" qemu_log="$4" rc="$5" timeout_s="$6" elapsed="$7"
  local verbose="$8" passed failed skipped verdict ended=0
  tr -d '\r' <"$results" >"$results.txt"
  sed -n 's/^\(PASS\|FAIL\|SKIP\|INFO\) /\1 /p' "$results.txt" | sed "s/^/vm[$name] /"
  passed=$(grep -c '^PASS ' "$results.txt" || true)
  failed=$(grep -c '^FAIL ' "$results.txt" || true)
  skipped=$(grep -c '^SKIP ' "$results.txt" || true)
  grep -q '^END' "$results.txt" && ended=1
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "vm[$name] FAIL guest: timed out after ${timeout_s}s"
    failed=$(( failed + 1 ))
  elif (( ! ended )); then
    echo "vm[$name] FAIL guest: ended without reporting END (panic, crash or QEMU error, rc=$rc)"
    failed=$(( failed + 1 ))
  fi
  if (( failed > 0 )); then
    verdict=FAIL
  elif (( passed == 0 && skipped > 0 )); then
    verdict=SKIP
  elif (( passed == 0 )); then
    verdict=FAIL
    failed=1
    echo "vm[$name] FAIL guest: reported no check at all"
  else
    verdict=PASS
  fi
  if [ "$verdict" = FAIL ] || (( verbose )); then
    echo "vm[$name] ----- guest console ($console), last $VM_CONSOLE_LINES lines -----"
    tr -d '\r' <"$console" 2>/dev/null | tail -n "$VM_CONSOLE_LINES"
    if [ -s "$qemu_log" ]; then
      echo "vm[$name] ----- QEMU ($qemu_log) -----"
      cat "$qemu_log"
    fi
    echo "vm[$name] ----- end of guest console -----"
  fi
  echo "vm[$name] result: $verdict ($passed passed, $failed failed, $skipped skipped) in ${elapsed}s"
  case "$verdict" in
    PASS) exit 0 ;;
    SKIP) exit 77 ;;
    *) exit 1 ;;
  esac
}

# ---- the systemd guest (scenarios with "# vm-rootfs: debian12-systemd") -------------------------
# A Debian 12 root filesystem with systemd as PID 1, booted whole from an initramfs (no disk,
# no modules: the cloud kernel has cgroups, cpusets and devtmpfs built in). It is built once with
# mmdebstrap from apt's configured sources and kept as a cpio archive; each run appends a small
# archive with the package under test and the scenario.
VM_ROOTFS_PACKAGES="systemd systemd-sysv dbus procps libfmt9 libtomlplusplus3 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0"

# rootfs_cache_dir CACHE: machine-wide (/var/cache/prefcpu-vm) when we may write there, else CACHE.
rootfs_cache_dir() {
  local dir="${PREFCPU_VM_ROOTFS_CACHE:-/var/cache/prefcpu-vm}"
  if mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ]; then echo "$dir"; else echo "$1"; fi
}

# fetch_rootfs CACHE: prints the path of the cached debian12-systemd cpio, building it the first
# time (about 3 minutes). Prints a reason and fails when it cannot be built (offline, no
# mmdebstrap, not root: the archive must hold root-owned files).
fetch_rootfs() {
  local dir key dest log sources
  dir="$(rootfs_cache_dir "$1")"
  key="$(printf '%s\n' "$VM_ROOTFS_PACKAGES" | md5sum | cut -c1-8)"
  dest="$dir/debian12-systemd-$key.cpio"
  [ -f "$dest" ] && { echo "$dest"; return 0; }
  command -v mmdebstrap >/dev/null || { echo "mmdebstrap not installed (Debian package mmdebstrap)"; return 1; }
  [ "$(id -u)" -eq 0 ] || { echo "building the Debian rootfs needs root (mmdebstrap, root-owned files)"; return 1; }
  (
    flock 9
    [ -f "$dest" ] && exit 0
    log="$dir/rootfs-build.log"
    sources=/etc/apt/sources.list
    [ -f "$sources" ] || sources="$(ls /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1)"
    echo "vm: building the Debian 12 systemd rootfs once into $dest (log: $log)" >&2
    rm -rf "$dir/rootfs.tmp" && mkdir -p "$dir/rootfs.tmp"
    # Docs, man pages and locales only weigh on every boot.
    if ! with_low_fds timeout 900 mmdebstrap --variant=minbase --include="${VM_ROOTFS_PACKAGES// /,}" \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        bookworm "$dir/rootfs.tmp/root.tar" ${sources:+"$sources"} >"$log" 2>&1; then
      echo "cannot build the Debian 12 rootfs with mmdebstrap (offline?): $(tail -n 1 "$log")"
      rm -rf "$dir/rootfs.tmp"
      exit 1
    fi
    mkdir "$dir/rootfs.tmp/root"
    tar -xpf "$dir/rootfs.tmp/root.tar" -C "$dir/rootfs.tmp/root"
    (cd "$dir/rootfs.tmp/root" && find . -print | cpio -o -H newc --quiet) >"$dest.tmp"
    mv "$dest.tmp" "$dest"
    rm -rf "$dir/rootfs.tmp"
  ) 9>"$dir/.rootfs.lock" || return 1
  [ -f "$dest" ] || { echo "the Debian 12 rootfs was not built, see $dir/rootfs-build.log"; return 1; }
  echo "$dest"
}

# with_low_fds CMD...: CMD with only stdin, stdout and stderr open. mmdebstrap gives apt the hook
# "cat >&N" on its lowest free fd N, which dash refuses above 9 ("Bad fd number"); the callers'
# locks (flock, the .rootfs.lock here) can hold enough fds to push N past it.
with_low_fds() {
  (
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
      fd="${fd##*/}"
      [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done
    exec "$@"
  )
}

# rootfs_prepare ROOT: in the overlay, so the cached rootfs stays mmdebstrap's own: boot quicker
# under TCG (no udev, so no gettys that wait for their tty device; no timers or module loading).
rootfs_prepare() {
  local root="$1" unit
  mkdir -p "$root/etc/systemd/system"
  echo prefcpu-vm >"$root/etc/hostname"
  for unit in getty@.service serial-getty@.service systemd-timesyncd.service apt-daily.timer \
    apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer \
    systemd-tmpfiles-clean.timer systemd-journal-flush.service systemd-update-utmp.service \
    systemd-remount-fs.service systemd-firstboot.service modprobe@.service \
    systemd-modules-load.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
}

# find_deb DIR: the newest prefcpu_*.deb in DIR.
find_deb() {
  local deb
  deb="$(ls -t "$1"/prefcpu_*.deb 2>/dev/null | head -n 1)"
  [ -n "$deb" ] || { echo "no prefcpu_*.deb in $1 (run make deb)"; return 1; }
  echo "$deb"
}

# previous_deb DEB OUT: the same package as version VERSION~prev, to test an upgrade.
previous_deb() {
  local deb="$1" out="$2" tmp version
  tmp="$(mktemp -d "$(dirname "$out")/previous.XXXXXX")"  # in the run's work tree, not /tmp
  dpkg-deb -R "$deb" "$tmp/pkg"
  version="$(sed -n 's/^Version: //p' "$tmp/pkg/DEBIAN/control")"
  sed -i "s/^Version: .*/Version: $version~prev/" "$tmp/pkg/DEBIAN/control"
  dpkg-deb -b --root-owner-group "$tmp/pkg" "$out" >/dev/null
  rm -rf "$tmp"
}

# build_systemd_overlay ROOT OUT DEB VM_STEAL GUEST_DIR SCENARIO CONFIG: the archive appended to
# the rootfs: the scenario, lib.sh, vm-steal, the package (and its "previous" build), and the
# vmtest.service that runs the scenario once the system is up and powers off.
build_systemd_overlay() {
  local root="$1" out="$2" deb="$3" vm_steal="$4" guest="$5" scenario="$6" config="$7"
  rm -rf "$root"
  mkdir -p "$root/vm/debs" "$root/opt/prefcpu/bin" "$root/etc/systemd/system/multi-user.target.wants"
  cp "$guest/lib.sh" "$guest/rules.sh" "$guest/systemd-init.sh" "$root/vm/"
  chmod 755 "$root/vm/systemd-init.sh"
  cp "$scenario" "$root/vm/scenario.sh"
  printf '%s\n' "$config" >"$root/vm/config"
  cp "$vm_steal" "$root/opt/prefcpu/bin/vm-steal"
  cp "$deb" "$root/vm/debs/current.deb"
  previous_deb "$deb" "$root/vm/debs/previous.deb"
  rootfs_prepare "$root"
  cp "$guest/vmtest.service" "$root/etc/systemd/system/"
  ln -s ../vmtest.service "$root/etc/systemd/system/multi-user.target.wants/vmtest.service"
  (cd "$root" && find . -print | cpio -o -H newc -R 0:0 --quiet) >"$out"
  rm -rf "$root"
}
