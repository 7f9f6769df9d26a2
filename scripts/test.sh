#!/usr/bin/env bash
# Set up, then run the test suite (offline, CPU, tiny models). pytest's "no tests ran" (exit 5)
# is a failure like any other non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/debian_packages.sh  # chromium, chromium-driver, postgresql: tests that run them for real
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
