#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: a virtual environment with the project and its test
# and local-model extras, and (where ../shared/data exists, as on our offline machines) a
# Hugging Face datasets cache seeded from it. Source it to get the environment variables.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="${ORCH_VENV:-$ROOT/.venv}"
SHARED_DATA="${ORCH_SHARED_DATA:-$ROOT/../shared/data}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.orch_eval_installed"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
  echo "[setup] installing orch_eval with extras test,local (pip)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e "$ROOT[test,local]"
  touch "$stamp"
fi

export HF_DATASETS_CACHE="${HF_DATASETS_CACHE:-$ROOT/.cache/hf_datasets}"
if [ -d "$SHARED_DATA" ]; then
  if [ ! -f "$HF_DATASETS_CACHE/.seeded" ]; then
    echo "[setup] seeding the datasets cache from $SHARED_DATA"
    "$VENV/bin/python" "$SHARED_DATA/build_hf_cache.py" --cache-dir "$HF_DATASETS_CACHE"
    touch "$HF_DATASETS_CACHE/.seeded"
  fi
  # offline copy present: skip the Hub entirely
  export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
fi
export PATH="$VENV/bin:$PATH"
