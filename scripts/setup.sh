#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: a virtual environment with the project and its test
# and local-model extras, and (where ../shared/data exists, as on our offline machines) a
# Hugging Face datasets cache seeded from it, with the Hub switched off.
#
#   bash scripts/setup.sh      set up only
#   source scripts/setup.sh    set up, and give this shell the environment: the venv's bin/ first
#                              on PATH, HF_DATASETS_CACHE, and (offline machines) HF_HUB_OFFLINE=1
#                              HF_DATASETS_OFFLINE=1
#
# Safe to source from an interactive shell: the work that can fail runs in a strict subshell
# (set -euo pipefail there only), so the caller's shell options are left as they were, and a
# failure returns a non-zero status instead of closing the shell.
#
# Settings: PYTHON (interpreter for a new venv, default python3), ORCH_VENV (default .venv in the
# project), ORCH_SHARED_DATA (default ../shared/data), HF_DATASETS_CACHE (default .cache/hf_datasets).

# Note: neither the subshell nor this function may stand left of || or && (there bash ignores
# set -e even where it is set explicitly, and a failing step would be passed over).
_orch_eval_setup() {
  unset -f _orch_eval_setup  # nothing of ours stays in the caller's shell but the exports
  local root py venv shared cache status
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)" || return 1
  py="${PYTHON:-python3}"
  venv="${ORCH_VENV:-$root/.venv}"
  shared="${ORCH_SHARED_DATA:-$root/../shared/data}"
  cache="${HF_DATASETS_CACHE:-$root/.cache/hf_datasets}"

  (
    set -euo pipefail
    if [ ! -x "$venv/bin/python" ]; then
      echo "[setup] creating $venv"
      "$py" -m venv "$venv"
    fi
    stamp="$venv/.orch_eval_installed"
    if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
      echo "[setup] installing orch_eval with extras test,local (pip)"
      "$venv/bin/python" -m pip install -q --upgrade pip
      "$venv/bin/python" -m pip install -q -e "$root[test,local]"
      touch "$stamp"
    fi
    if [ -d "$shared" ] && [ ! -f "$cache/.seeded" ]; then
      echo "[setup] seeding the datasets cache from $shared"
      "$venv/bin/python" "$shared/build_hf_cache.py" --cache-dir "$cache"
      touch "$cache/.seeded"
    fi
  )
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "[setup] failed (see the messages above); the environment was not changed" >&2
    return "$status"
  fi

  export HF_DATASETS_CACHE="$cache"
  if [ -d "$shared" ]; then
    # offline copy present: skip the Hub entirely
    export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
  fi
  case "$PATH" in
    "$venv/bin:"*) ;;  # already first (sourced twice)
    *) export PATH="$venv/bin:$PATH" ;;
  esac
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then  # sourced: set up, keep the environment, never exit
  _orch_eval_setup
  return  # with the set-up's status
fi
_orch_eval_setup
status=$?
if [ "$status" -eq 0 ]; then
  echo "[setup] done. For this environment in your shell: source scripts/setup.sh"
fi
exit "$status"
