#!/usr/bin/env bash
# Lint and type check (issue 21): ruff's rules and formatting, and mypy, on orch_eval/ and tasks/;
# ruff's rules on tests/, benchmarks/ and scripts/ too (without line length and zip's strict=:
# pyproject's per-file-ignores).
# Runs in the project's venv (set up first if needed, like scripts/test.sh); any finding fails.
# The tools' versions are pinned in pyproject.toml's test extra, their settings in [tool.ruff] and
# [tool.mypy]. To fix what ruff can fix by itself: ruff check --fix orch_eval tasks; ruff format orch_eval tasks
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
echo "[lint] ruff check"
ruff check orch_eval tasks tests benchmarks scripts
echo "[lint] ruff format --check"
ruff format --check orch_eval tasks
echo "[lint] mypy"
mypy
