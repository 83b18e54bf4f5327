#!/bin/sh
# The systemd guest's counterpart of /init: runs /vm/scenario.sh (with lib.sh) under a deadline,
# reports END and powers off. Runs as vmtest.service, with systemd as PID 1.
export PATH=/opt/prefcpu/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
. /vm/config
. /vm/lib.sh
vm_start
info "systemd $(systemctl --version | head -n 1 | cut -d' ' -f2) is PID 1 ($(cat /proc/1/comm)), state $(systemctl is-system-running)"
timeout -s KILL "$VM_SCENARIO_TIMEOUT" \
  sh -c '. /vm/config; . /vm/lib.sh; vm_resume; . /vm/scenario.sh; vm_cleanup'
rc=$?
echo "scenario shell exited with $rc"
if [ "$rc" = 137 ]; then
  fail guest "the scenario did not finish in ${VM_SCENARIO_TIMEOUT}s"
  vm_cleanup
fi
vm_finish
sync
systemctl poweroff --force --force
