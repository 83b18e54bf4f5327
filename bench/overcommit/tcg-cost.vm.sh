# vm-cores: 2
# vm-timeout: 600
# vm-tools: bench/overcommit/tcg_cost.cpp
# vm-programs: hackbench
#
# The guest half of bench/overcommit/tcg-cost.sh: tcg-cost on the guest's two vCPUs, each figure
# reported as "INFO tcg-cost KEY VALUE". Its settings come on the kernel command line
# (tcg_cost.reps=N tcg_cost.scale=N), since the rig's guests have no other channel in.
reps=5 scale=10
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    tcg_cost.reps=*) reps=${arg#*=} ;;
    tcg_cost.scale=*) scale=${arg#*=} ;;
  esac
done
phase tcg-cost
if tcg-cost --cpus 0,1 --reps "$reps" --scale "$scale" >"$VM_TMP/tcg-cost.out" 2>&1; then
  while read -r key value; do info "tcg-cost $key $value"; done <"$VM_TMP/tcg-cost.out"
  pass tcg-cost "reps $reps, scale $scale"
else
  fail tcg-cost "$(cat "$VM_TMP/tcg-cost.out")"
fi
# The rig's 1x work, with the task switches it makes: how far the per-operation figures above go
# towards the measured time (docs/simulator.md).
phase hackbench
ctxt() { awk '/^ctxt/ { print $2 }' /proc/stat; }
loops=$(( scale >= 10 ? 300 : 30 ))
c0=$(ctxt)
if hackbench -p -g 4 -l "$loops" >"$VM_TMP/hackbench.out" 2>&1; then
  c1=$(ctxt)
  info "tcg-cost hackbench_loops $loops"
  info "tcg-cost hackbench_s $(sed -n 's/^Time: //p' "$VM_TMP/hackbench.out")"
  info "tcg-cost hackbench_ctxt $(( c1 - c0 ))"
  pass hackbench "-p -g 4 -l $loops"
else
  fail hackbench "$(tail -n 3 "$VM_TMP/hackbench.out")"
fi
