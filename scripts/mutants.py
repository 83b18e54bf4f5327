#!/usr/bin/env python3
"""Breaks each rule below on purpose, rebuilds the test binary that should notice, and reports
whether a test failed (CAUGHT) or not (SURVIVED). Sources are restored after each mutant.
Usage: scripts/mutants.py [BUILD_DIR]   (default build-asan, configured as `make test` does)
MUTANTS_ONLY=TEXT runs only the mutants whose name contains TEXT (e.g. MUTANTS_ONLY=numa).
The list holds the breakages issue 12 found surviving, and the rules its fixes added."""
import os, subprocess, sys
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else f'{root}/build-asan'
# (what breaks, file, text, replacement, test binary)
M = [
 ('kthreadd moved', 'src/linux/housekeeping/kthread_actuator.cpp', 'if (stat.ppid == 0) return KthreadKind::kKthreadd;', '', 'housekeeping_test'),
 ('PF_NO_SETAFFINITY kthreads tried', 'src/linux/housekeeping/kthread_actuator.cpp', 'if (stat.no_setaffinity()) return KthreadKind::kNoSetaffinity;', '', 'housekeeping_test'),
 ('kthreads moved before the journal', 'src/linux/housekeeping/kthread_actuator.cpp', '    if (auto status = persist(); !status) {\n      revert(plan, 0);', '    if (Status status; !status) {\n      revert(plan, 0);', 'housekeeping_test'),
 ('kthread re-pinned by the user restored at exit', 'src/linux/housekeeping/kthread_actuator.cpp', '  if (!holds(*current, moved.set, online) &&', '  if (false &&', 'housekeeping_test'),
 ('kthread EINVAL retried', 'src/linux/housekeeping/kthread_actuator.cpp', '        refused_[pid] = moved.start_time;', '', 'housekeeping_test'),
 ('kthreads: /proc scanned when no thread can move', 'src/linux/housekeeping/kthread_actuator.cpp', '    if (moved_.empty() && online.is_subset_of(preferred)) return persist();', '', 'housekeeping_test'),
 ('kthreads: scan skipped with threads confined', 'src/linux/housekeeping/kthread_actuator.cpp', 'if (moved_.empty() && online.is_subset_of(preferred)) return persist();', 'if (online.is_subset_of(preferred)) return persist();', 'housekeeping_test'),
 ('kthreads widened to preferred', 'src/linux/housekeeping/kthread_actuator.cpp', '        CpuSet target = workqueue_target(*allowed, preferred, online);', '        CpuSet target = preferred;', 'housekeeping_test'),
 ('invariant check deleted', 'src/daemon/daemon_period.cpp', 'if (preferred.empty() || !preferred.is_subset_of(online)) {', 'if (false) {', 'daemon_tests'),
 ('never-empty fallback deleted', 'src/core/mask_rules.cpp', 'return within.empty() ? online : within;', 'return within;', 'daemon_tests'),
 ('shrink counter dropped', 'src/daemon/daemon_period.cpp', '++counters_.shrinks;', ';', 'daemon_tests'),
 ('EWMA weight 4 -> 8', 'src/core/governor_extra.cpp', 'kWeight = 4;', 'kWeight = 8;', 'core_test'),
 ('EWMA band > -> >=', 'src/core/governor_extra.cpp', 'if (average_ > knobs.high_threshold)', 'if (average_ >= knobs.high_threshold)', 'core_test'),
 ('clear_custom_preferred keeps governor', 'src/core/steal_monitor.cpp', '  governor_->reset();\n}', '}', 'core_test'),
 ('implausible ratio accepted', 'src/core/steal_ratio.cpp', 'if (reading.online_cpus == 0 || ratio.steal_bp > 10000 + slack) {', 'if (reading.online_cpus == 0) {', 'core_test'),
 ('steal going back accepted', 'src/core/steal_ratio.cpp', 'if (reject_implausible_ && reading.steal_ticks < previous_->steal_ticks) {', 'if (false) {', 'core_test'),
 ('journal version unchecked', 'src/linux/journal.cpp', 'version->get<std::int64_t>() != kVersion) {', 'false) {', 'linux_test'),
 ('cgroup "." accepted', 'src/linux/cgroup/cgroup_name.cpp', 'if (component == "." || component == "..") {', 'if (component == "..") {', 'daemon_tests'),
 ('state dir owner unchecked', 'src/daemon/daemon.cpp', 'if (st.st_uid != ::geteuid()) {', 'if (false) {', 'daemon_tests'),
 ('state dir mode unchecked', 'src/daemon/daemon.cpp', 'if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {', 'if (false) {', 'daemon_tests'),
 ('root not always served', 'src/daemon/control_server.cpp', '  if (uid == 0) {\n    if (same < kRoot) return std::nullopt;', '  if (false) {\n    if (same < kRoot) return std::nullopt;', 'daemon_tests'),
 ('per-uid limit dropped', 'src/daemon/control_server.cpp', 'if (same >= kPerUid) {', 'if (false) {', 'daemon_tests'),
 ('workqueues widened to preferred', 'src/linux/housekeeping/workqueue_actuator.cpp', 'CpuSet target = original & preferred;', 'CpuSet target = preferred;', 'housekeeping_test'),
 ('workqueues written before the journal', 'src/linux/housekeeping/workqueue_actuator.cpp', 'if (target != *original_ && !journaled_) {', 'if (false) {', 'housekeeping_test'),
 ('workqueues not restored', 'src/linux/housekeeping/workqueue_actuator.cpp', 'if (!written_ || !original_) return settle();', 'if (true) return settle();', 'housekeeping_test'),
 ('workqueues refused mask retried', 'src/linux/housekeeping/workqueue_actuator.cpp', 'if (refused_ && *refused_ == target) {', 'if (false) {', 'housekeeping_test'),
 ('target: a lost shrink not undone', 'src/core/governor_target.cpp', 'if (auto undo = check_last_shrink(busy, contended, knobs)) return *undo;', '', 'core_test'),
 ('target: no headroom over the floor', 'src/core/governor_target.cpp', 'verify_.best * kLostDen >= verify_.received * kLostNum', 'verify_.best * kLostDen >= verify_.received * kLostDen', 'core_test'),
 ('numa: balance and pack swapped', 'src/core/mask_rules.cpp', 'const bool most = (numa == NumaMode::kBalance) == (splice == Splice::kShrink);', 'const bool most = (numa == NumaMode::kPack) == (splice == Splice::kShrink);', 'core_test'),
 ('numa: shrink ties to the lower node', 'src/core/mask_rules.cpp', 'bool tie = cores == best_cores && splice == Splice::kShrink;', 'bool tie = false;', 'core_test'),
 ('numa: CPUs in no node still spliced', 'src/core/mask_rules.cpp', 'if (!(preferred | online).is_subset_of(covered)) return candidates;', 'if (!preferred.is_subset_of(covered | online)) return candidates;', 'core_test'),
]
M = [m for m in M if os.environ.get('MUTANTS_ONLY', '') in m[0]]
survivors = 0
for name, f, a, b, binary in M:
    p = f'{root}/{f}'
    s = open(p).read()
    assert s.count(a) == 1, (name, s.count(a))
    open(p, 'w').write(s.replace(a, b))
    try:
        r = subprocess.run(['cmake', '--build', build, '-j2', '--target', binary], capture_output=True, text=True)
        if r.returncode != 0:
            print(f'{name}: BUILD FAILED'); print(r.stdout[-2000:]); continue
        t = subprocess.run([f'{build}/bin/{binary}', '--gtest_brief=1'], capture_output=True, text=True)
        failed = [l for l in t.stdout.splitlines() if l.startswith('[  FAILED  ]') and '.' in l]
        survivors += t.returncode == 0
        print(f'{name}: {"CAUGHT" if t.returncode else "SURVIVED"} by {len(failed)} test(s): {failed[:3]}', flush=True)
    finally:
        open(p, 'w').write(s)
# The binaries were last built from a mutant: build them again from the restored sources.
subprocess.run(['cmake', '--build', build, '-j2', '--target', *sorted({m[4] for m in M})], check=True,
               capture_output=True)
sys.exit(1 if survivors else 0)
