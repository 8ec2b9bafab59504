#!/usr/bin/env bash
# Build a wheel of the project, install it into a fresh virtual environment outside the checkout,
# and use it from there: the presets must come with the package (not from the source tree).
# Called by .ci/run; runs on its own too.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"  # the offline dataset cache (and the build's Python)
PY="$ROOT/.venv/bin/python"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/orch-wheel-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
echo "[wheel] building in $WORK"
"$PY" -m pip wheel -q --no-deps --wheel-dir "$WORK/dist" "$ROOT"
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q "$WORK"/dist/orch_eval-*.whl
cd "$WORK"  # nothing of the checkout on the path or in the working directory
BIN="$WORK/venv/bin"
echo "[wheel] orch-eval panel show local"
"$BIN/orch-eval" panel show local | grep -q "digest:"
"$BIN/python" - <<'PY'
import orch_eval.core.panel as p
assert "site-packages" in str(p.packaged_presets()), p.packaged_presets()
PY
echo "[wheel] inspect eval with -S panel=fake-lmeval (fake provider)"
"$BIN/inspect" eval inspect_evals/mmlu_0_shot --limit 2 --model none --solver orch_eval/orch \
  -S panel=fake-lmeval --log-dir "$WORK/logs" --display none
"$BIN/python" - "$WORK/logs" <<'PY'
import sys
from pathlib import Path
from inspect_ai.log import read_eval_log
logs = sorted(Path(sys.argv[1]).glob("*.eval"))
assert len(logs) == 1, logs
log = read_eval_log(str(logs[0]))
assert log.status == "success" and len(log.samples) == 2, (log.status, log.error)
assert all(s.metadata["orch"]["panel_name"] == "fake-lmeval" for s in log.samples)
print("[wheel] ok:", logs[0].name)
PY
