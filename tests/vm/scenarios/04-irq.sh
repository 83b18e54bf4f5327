# vm-cores: 4
# vm-threads: 1
# vm-needs: prefcpud prefcpuctl
# vm-timeout: 240
# vm-qemu: -drive file=@WORK@/disk.img,if=none,id=d0,format=raw -device nvme,drive=d0,serial=prefcpu -device virtio-serial-pci
#
# Scenario 4: builtin IRQ steering (--irq-mode builtin) on the guest's real /proc/irq. The NVMe
# disk brings kernel-managed queue IRQs (writes fail with EIO), virtio-serial and the legacy
# devices bring changeable ones, and the RTC IRQ is pinned to CPU 3 first, as a user would.
# - changeable IRQs move to preferred CPUs (the rule of src/linux/irq/irq_rules.h);
# - unchangeable ones are left alone and counted in status.json;
# - default_smp_affinity follows too;
# - all of them are back at grow, at SIGTERM, and after SIGKILL plus a restart.
. /vm/rules.sh

have_prefcpud || { skip prefcpud "not in the initramfs (not built)"; return 0; }

phase setup
expect_eq topology.online "$(online)" 0-3
echo +cpuset >"$CG/cgroup.subtree_control"
cg_make work 0-3
rtc=$(ls -d /proc/irq/*/rtc0 2>/dev/null | head -n 1 | cut -d/ -f4)
if [ -n "$rtc" ] && echo 3 >"/proc/irq/$rtc/smp_affinity_list"; then
  info "IRQ $rtc (rtc0) pinned to CPU 3 by the user"
fi

# "IRQ LIST" per IRQ, and "default LIST" (default_smp_affinity as a cpulist).
irq_snapshot() {
  local d
  for d in /proc/irq/[0-9]*; do
    [ -f "$d/smp_affinity_list" ] && echo "${d#/proc/irq/} $(cat "$d/smp_affinity_list")"
  done
  echo "default $(cpus hex "$(cat /proc/irq/default_smp_affinity)")"
}
irq_snapshot >"$VM_TMP/irq.orig"
# Changeable or not, as the kernel decides it: writing an IRQ's own value back fails with EIO for
# kernel-managed and unchangeable IRQs (write_irq_affinity()).
: >"$VM_TMP/irq.fixed"
for d in /proc/irq/[0-9]*; do
  echo "$(cat "$d/smp_affinity_list")" >"$d/smp_affinity_list" 2>/dev/null || echo "${d#/proc/irq/}" >>"$VM_TMP/irq.fixed"
done
fixed=$(tr '\n' ' ' <"$VM_TMP/irq.fixed")
total=$(( $(wc -l <"$VM_TMP/irq.orig") - 1 ))
if [ -n "$fixed" ] && [ "$total" -gt "$(wc -w <"$VM_TMP/irq.fixed")" ]; then
  pass irqs.mix "$total IRQs, unchangeable: $fixed"
else
  fail irqs.mix "need both kinds: $total IRQs, unchangeable: \"$fixed\""
fi

# irq_mismatches PREFERRED: every IRQ that does not read what the rule asks; empty when all do.
# Rule (irq_rules.h): the original if its online CPUs are all preferred; else original ∩
# preferred; else the original if it is a single CPU (a pin); else preferred. Unchangeable IRQs
# keep their original. default_smp_affinity: the same without pins.
irq_mismatches() {
  irq_snapshot >"$VM_TMP/irq.now"
  awk -v pref="$1" -v online="$(online)" -v fixed=" $fixed " "$CPULIST_AWK"'
    function target(orig, pin,   O, P, N, I, on, c, n) {
      parse(orig, O); parse(pref, P); parse(online, N)
      for (c in O) if (c in N) on[c] = 1
      for (c in on) if (!(c in P)) { n = -1; break }
      if (n != -1) return fmt(O)
      n = 0
      for (c in O) if (c in P) { I[c] = 1; n++ }
      if (n) return fmt(I)
      n = 0
      for (c in O) n++
      if (pin && n == 1) return fmt(O)
      return fmt(P)
    }
    NR == FNR { orig[$1] = $2; next }
    {
      if (index(fixed, " " $1 " ")) want = orig[$1]
      else want = target(orig[$1], $1 != "default")
      split("", X); parse($2, X); got = fmt(X)
      split("", Y); parse(want, Y); want = fmt(Y)
      if (got != want) printf "%s reads %s, expected %s; ", $1, got, want
    }' "$VM_TMP/irq.orig" "$VM_TMP/irq.now"
}
irqs_follow() { [ -z "$(irq_mismatches "$1")" ]; }
irqs_original() { irq_snapshot >"$VM_TMP/irq.now" && cmp -s "$VM_TMP/irq.orig" "$VM_TMP/irq.now"; }
check_irqs() {
  if wait_until "$T_STEP" irqs_follow "$2"; then pass "$1.irqs" "every IRQ follows $2"; else
    fail "$1.irqs" "$(irq_mismatches "$2")"; fi
}
check_original() {
  if wait_until "${2:-$T_STEP}" irqs_original; then pass "$1" "every IRQ and default_smp_affinity as it was"; else
    fail "$1" "$(diff "$VM_TMP/irq.orig" "$VM_TMP/irq.now" | grep '^[-+][0-9d]' | tr '\n' ' ')"; fi
}
step() {
  local want
  if [ "$1" = shrink ]; then want=$(expected_shrink "$pref"); steal_burst; else want=$(expected_grow "$pref"); steal_drop; fi
  if wait_preferred "$want" "$T_STEP"; then pass "$2.preferred" "$pref -> $want"; else
    fail "$2.preferred" "preferred is \"$(preferred)\", expected \"$want\""; fi
  pref=$want
  check_irqs "$2" "$pref"
}
json_value() { tr -d ' \n' <"$STATE/status.json" 2>/dev/null | sed -n "s/.*\"$1\":\(\[[^]]*\]\|[0-9]*\).*/\1/p"; }

phase daemon-start
steal_start "$VM_HOLD_BP"
daemon_start --cgroup work --irq-mode builtin
pref=0-3
expect_daemon_started 0-3 || return 0
check daemon.irqs_untouched_at_full irqs_original

phase shrink
step shrink shrink1
step shrink shrink2
expect_eq shrink.preferred "$pref" 0-1
[ -n "$rtc" ] && expect_eq pin.kept "$(cat "/proc/irq/$rtc/smp_affinity_list")" 3
# Counted: an unchangeable IRQ the rule wanted to change is listed as unmanaged, and nothing else is.
need=""
for irq in $fixed; do
  o=$(awk -v i="$irq" '$1 == i { print $2 }' "$VM_TMP/irq.orig")
  cpus subset "$(cpus and "$o" "$(online)")" "$pref" || [ "$(cpus count "$o")" = 1 ] || need="$need $irq"
done
wait_until 3 sh -c "tr -d ' \n' <$STATE/status.json | grep -q '\"irqs_unmanaged\"'" || true
unmanaged=$(json_value unmanaged | tr -d '[]' | tr ',' ' ')
info "status.json: irqs_unmanaged=$(json_value irqs_unmanaged) unmanaged=[$unmanaged] irqs_pinned=$(json_value irqs_pinned) interrupts_non_preferred=$(json_value interrupts_non_preferred)"
bad=""
for irq in $need; do case " $unmanaged " in *" $irq "*) ;; *) bad="$bad $irq not counted;" ;; esac; done
for irq in $unmanaged; do case " $fixed " in *" $irq "*) ;; *) bad="$bad $irq is changeable;" ;; esac; done
if [ -n "$need" ] && [ -z "$bad" ]; then pass unmanaged.counted "unmanaged [$unmanaged], needed [${need# }]"; else
  fail unmanaged.counted "unmanaged [$unmanaged], needed [${need# }]:$bad"; fi

phase grow
step grow grow1
step grow grow2
check_original grow.restored

phase sigterm
step shrink term.shrink1
step shrink term.shrink2
daemon_stop TERM
expect_eq sigterm.exit_status "$DAEMON_RC" 0
check_original sigterm.restored 1

phase sigkill
daemon_start --cgroup work --irq-mode builtin
pref=0-3
check sigkill.started wait_preferred 0-3 "$T_START"
step shrink kill.shrink1
step shrink kill.shrink2
daemon_stop KILL
expect_eq sigkill.exit_status "$DAEMON_RC" 137
check sigkill.left_changed irqs_follow 0-1
daemon_start --cgroup work --irq-mode builtin
check_original restart.recovered "$T_START"
check restart.preferred wait_preferred 0-3 "$T_START"
daemon_stop TERM
expect_eq restart.exit_status "$DAEMON_RC" 0
check_original sigkill.restored 1
expect_eq cpuset.restored "$(cg_cpus work)" 0-3
if grep -q -E 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$VM_TMP"/prefcpud.*.log; then
  fail sanitizers "prefcpud logs hold sanitizer reports"
else
  pass sanitizers
fi
