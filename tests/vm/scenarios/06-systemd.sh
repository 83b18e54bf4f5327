# vm-rootfs: debian12-systemd
# vm-cores: 2
# vm-threads: 2
# vm-mem: 1024
# vm-timeout: 480
#
# Scenario 6: the Debian package on Debian 12 with systemd as PID 1 (docs/testing.md).
# - install the previous build, upgrade to this one; the daemon starts only when enabled;
# - `systemctl enable --now prefcpud` under the hardened unit picks the systemd backend and says
#   so first; on steal, AllowedCPUs= of system.slice and user.slice and a service's affinity
#   follow preferred; a pin inside preferred is kept, a pin outside comes back on grow;
# - `systemctl daemon-reload` keeps the shrink; `systemctl reload` takes a new config;
# - `systemctl stop`, and `systemctl kill -s KILL` with the automatic restart, restore
#   everything; removing the package with the daemon running restores everything; purge leaves
#   nothing of the package behind.
. /vm/rules.sh

unit_allowed() { systemctl show -p AllowedCPUs --value "$1"; }
allowed_is() { [ "$(unit_allowed "$1")" = "$2" ]; }
main_pid() { systemctl show -p MainPID --value "$1"; }
affinity_is() { [ "$(affinity "$1")" = "$2" ]; }
daemon_journal() { journalctl -q -o cat _SYSTEMD_UNIT=prefcpud.service; }
status_has() { grep -q "$1" "$STATE/status.json" 2>/dev/null; }
# confined LABEL LIST: both slices, system.slice's cgroup and the services follow LIST.
confined() {
  local label="$1" want="$2"
  if wait_until "$T_STEP" allowed_is system.slice "$want"; then
    pass "$label.system_slice" "AllowedCPUs=$want"
  else
    fail "$label.system_slice" "AllowedCPUs=\"$(unit_allowed system.slice)\", expected \"$want\""
  fi
  expect_eq "$label.user_slice" "$(unit_allowed user.slice)" "$want"
  expect_eq "$label.cgroup" "$(cat "$CG/system.slice/cpuset.cpus")" "$want"
  if wait_until "$T_STEP" affinity_is "$work" "${want:-0-3}"; then
    pass "$label.service_affinity" "vmwork.service runs on ${want:-0-3}"
  else
    fail "$label.service_affinity" "vmwork.service runs on $(affinity "$work"), expected ${want:-0-3}"
  fi
}
# restored LABEL [ALLOWED]: every task as before prefcpud, and the units' AllowedCPUs= ALLOWED:
# unset ("", as before) once prefcpud has exited; every online CPU (0-3) while it runs at the full
# mask, because it widens an unset unit rather than unsetting it (docs/daemon.md, "What is set").
restored() {
  confined "$1" "${2-}"
  expect_eq "$1.pin_outside" "$(affinity "$pin_out")" 3
  expect_eq "$1.pin_inside" "$(affinity "$pin_in")" 1
}

phase install
current="$(dpkg-deb -f /vm/debs/current.deb Version)"
check install.previous sh -c "dpkg -i /vm/debs/previous.deb >$VM_TMP/dpkg.log 2>&1"
expect_eq install.previous_version "$(dpkg-query -W -f='${Version}' prefcpu)" "$current~prev"
expect_eq install.not_started "$(systemctl is-active prefcpud)" inactive
check upgrade sh -c "dpkg -i /vm/debs/current.deb >>$VM_TMP/dpkg.log 2>&1"
expect_eq upgrade.version "$(dpkg-query -W -f='${Version}' prefcpu)" "$current"
check package.conffile sh -c "dpkg-query -W -f='\${Conffiles}' prefcpu | grep -q /etc/prefcpu/prefcpud.toml"
# Listed by dpkg: the rootfs excludes man pages and docs from what dpkg unpacks.
has_files() {
  for f in /usr/sbin/prefcpud /usr/bin/prefcpuctl /lib/systemd/system/prefcpud.service \
    /usr/share/man/man8/prefcpud.8.gz /usr/share/doc/prefcpu/README.md.gz; do
    dpkg -L prefcpu | grep -qx "$f" || { echo "missing $f"; return 1; }
  done
}
check package.files has_files

phase setup
# Thresholds in the config (so `systemctl reload` can change them); the synthetic steal on the
# command line, through a drop-in that keeps every sandboxing option of the packaged unit.
cat >/etc/prefcpu/prefcpud.toml <<CONF
interval_ms = $VM_INTERVAL_MS
high_threshold = $VM_HIGH
low_threshold = $VM_LOW
metrics_listen = "127.0.0.1:9747"
CONF
mkdir -p /etc/systemd/system/prefcpud.service.d
cat >/etc/systemd/system/prefcpud.service.d/vmtest.conf <<CONF
[Service]
ExecStart=
ExecStart=/usr/sbin/prefcpud --config /etc/prefcpu/prefcpud.toml --proc-stat $STEAL_FILE
CPUAffinity=0
CONF
systemctl daemon-reload
systemd-run --quiet --unit=vmwork sleep 100000
systemd-run --quiet --unit=vmpin-out taskset -c 3 sleep 100000
systemd-run --quiet --unit=vmpin-in taskset -c 1 sleep 100000
is_sleeping() { for u in vmwork vmpin-out vmpin-in; do [ "$(cat "/proc/$(main_pid $u)/comm" 2>/dev/null)" = sleep ] || return 1; done; }
check services.started wait_until "$T_START" is_sleeping
work=$(main_pid vmwork) pin_out=$(main_pid vmpin-out) pin_in=$(main_pid vmpin-in)
expect_eq setup.unset "$(unit_allowed system.slice)" ""
steal_start "$VM_HOLD_BP"

phase start
check start.enable_now systemctl enable --now prefcpud
check start.preferred wait_preferred 0-3 "$T_START"
first="$(daemon_journal | head -n 1)"
case "$first" in
  "backend = auto: PID 1 is systemd"*) pass start.first_line "$first" ;;
  *) fail start.first_line "first log line is \"$first\", expected the systemd backend and why" ;;
esac

phase shrink
steal_burst
check shrink.preferred wait_preferred 0-1
confined shrink 0-1
expect_eq shrink.pin_inside "$(affinity "$pin_in")" 1
expect_eq shrink.pin_outside_falls_back "$(affinity "$pin_out")" 0-1

phase metrics
# The hardened unit must let the opt-in listener bind and serve (bash's /dev/tcp: no curl here).
scrape() {
  bash -c 'exec 3<>/dev/tcp/127.0.0.1/9747 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' \
    >"$VM_TMP/metrics" 2>&1
}
check metrics.scrape scrape
check metrics.backend_label grep -q '^prefcpu_info{backend="systemd",governor="kernel",mode="enforce"} 1' "$VM_TMP/metrics"
check metrics.preferred grep -q '^prefcpu_preferred_cpus 2$' "$VM_TMP/metrics"
check status.backend status_has '"backend": "systemd"'

phase daemon-reload
systemctl daemon-reload
check daemon_reload.kept stays_for 2 allowed_is system.slice 0-1
expect_eq daemon_reload.cgroup "$(cat "$CG/system.slice/cpuset.cpus")" 0-1
expect_eq daemon_reload.service_affinity "$(affinity "$work")" 0-1
check daemon_reload.seen wait_until "$T_STEP" status_has '"reloads_seen": [1-9]'

phase config-reload
sed -i 's/^high_threshold = .*/high_threshold = 4000/' /etc/prefcpu/prefcpud.toml
check reload.command systemctl reload prefcpud
check reload.applied wait_until "$T_STEP" status_has '"high_threshold": 4000'

phase grow
steal_drop
check grow.preferred wait_preferred 0-3
restored grow 0-3

phase stop
steal_burst
check stop.shrunk wait_until "$T_STEP" allowed_is system.slice 0-1
check stop.command systemctl stop prefcpud
restored stop

phase sigkill
check sigkill.start systemctl start prefcpud
steal_burst
check sigkill.shrunk wait_until "$T_STEP" allowed_is system.slice 0-1
systemctl kill -s KILL prefcpud
restarted() { [ "$(systemctl show -p NRestarts --value prefcpud)" = 1 ] && [ "$(systemctl is-active prefcpud)" = active ]; }
check sigkill.restarted wait_until "$T_START" restarted
restored sigkill 0-3
check sigkill.recovered_from_journal sh -c "journalctl -q -o cat _SYSTEMD_UNIT=prefcpud.service | grep -q 'unclean exit; restoring'"

phase security
score="$(systemd-analyze security --no-pager prefcpud 2>&1 | sed -n 's/.*Overall exposure level for prefcpud.service: //p')"
info "systemd-analyze security prefcpud: $score"
case "$score" in
  [0-2].*) pass security.score "$score" ;;
  *) fail security.score "exposure \"$score\", expected below 3.0 (docs/daemon.md)" ;;
esac
# An IRQ the kernel cannot move has a read-only smp_affinity_list (0444): without
# CAP_DAC_OVERRIDE its open fails, as its write would. Any other refusal is the sandbox's.
settable() { case "$(stat -c %a "/proc/irq/$1/smp_affinity_list")" in 6*) return 0 ;; esac; return 1; }
daemon_journal | grep -E 'Read-only file system|Operation not permitted|Permission denied|Access denied' |
  while read -r line; do
    irq="$(echo "$line" | sed -n 's/.*opening \/proc\/irq\/\([0-9]*\)\/smp_affinity_list: Permission denied.*/\1/p')"
    if [ -n "$irq" ] && ! settable "$irq"; then continue; fi
    echo "$line"
  done >"$VM_TMP/denied"
info "IRQs the kernel cannot move: $(for d in /proc/irq/[0-9]*; do settable "${d#/proc/irq/}" || printf '%s ' "${d#/proc/irq/}"; done)"
if [ -s "$VM_TMP/denied" ]; then
  fail security.no_denials "the sandbox refused something: $(head -n 3 "$VM_TMP/denied" | tr '\n' ' ')"
else
  pass security.no_denials "no write or call refused under the hardened unit"
fi

phase remove
steal_burst
check remove.shrunk wait_until "$T_STEP" allowed_is system.slice 0-1
check remove.command sh -c "dpkg -r prefcpu >>$VM_TMP/dpkg.log 2>&1"
expect_eq remove.stopped "$(systemctl is-active prefcpud)" inactive
restored remove

phase purge
rm -rf /etc/systemd/system/prefcpud.service.d  # the test's own drop-in
check purge.command sh -c "dpkg -P prefcpu >>$VM_TMP/dpkg.log 2>&1"
left="$(find / -xdev \( -path /vm -o -path /opt/prefcpu -o -path /proc -o -path /sys \) -prune -o \
  -name '*prefcpu*' -print 2>/dev/null; find /run -name '*prefcpu*' -print 2>/dev/null)"
expect_eq purge.nothing_left "$left" ""
check purge.not_installed sh -c "! dpkg-query -W -f='\${Status}' prefcpu 2>/dev/null | grep -q installed"
info "runtime drop-ins systemd keeps until reboot: $(cat /run/systemd/system.control/system.slice.d/*.conf 2>/dev/null | grep -v '^#' | tr '\n' ' ')"
echo "----- dpkg -----"; cat "$VM_TMP/dpkg.log"
echo "----- journal of prefcpud -----"; journalctl -q -o short-monotonic -u prefcpud | tail -n 80
