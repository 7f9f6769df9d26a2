#!/usr/bin/env bash
# Set up, then materialize the whole asset graph on the embedded default (generated data, CPU,
# no network) and print where the report and the DuckDB file are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/tracekd demo "$@"
