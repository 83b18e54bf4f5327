#!/usr/bin/env bash
# bench/sim/validate.py --tcg-measured end to end on the stored 1x rig case (its work cut to
# -l 3): the regenerated scenario carries the costs tcg-cost.sh measured
# (docs/overcommit-data/tcg-cost.json), and the row reports the simulated baseline beside the
# rig's. Usage: validate_measured_test.sh BIN_DIR
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The stored 1x case at a hundredth of its loops: the sanitizer build's simulator is slow.
python3 - "$top/docs/overcommit-data/1x.json" "$tmp/1x.json" <<'EOF'
import json, re, sys
case = json.load(open(sys.argv[1]))
case["config"]["command"] = re.sub(r"-l \d+", "-l 3", case["config"]["command"])
json.dump(case, open(sys.argv[2], "w"))
EOF
python3 "$top/bench/sim/validate.py" "$1" "$tmp/1x.json" --tcg-measured --scenarios "$tmp" --json \
  >"$tmp/rows.json"
python3 - "$top/docs/overcommit-data/tcg-cost.json" "$tmp/1x.toml" "$tmp/rows.json" <<'EOF'
import json, sys
derived = json.load(open(sys.argv[1]))["derived"]
scenario = open(sys.argv[2]).read()
missing = [k for k in ("write_ns", "read_ns", "wake_ns", "task_switch_ns", "ipi_ns")
           if f"{k} = {derived[k]}\n" not in scenario]
rows = json.load(open(sys.argv[3]))
ok = not missing and rows and all(r["base_sim"] and r["base_sim"] > 0 and r["sim"] is not None for r in rows)
print(f"validate --tcg-measured: {len(rows)} rows, keys missing from the scenario: {missing}, "
      f"simulated baselines {[r['base_sim'] for r in rows]}")
sys.exit(0 if ok else 1)
EOF
