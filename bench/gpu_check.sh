#!/usr/bin/env bash
# Run ON THE GPU MACHINE (the device tool: `bash bench/gpu_check.sh`, carrying .whl from
# bench/gpu_wheels.sh): install the carried wheels beside the machine's own torch, then run the
# prepared check (bench/gpu_check.py: CUDA-path tests, training and generation benchmarks, within
# 8 minutes) with every result in $OUT. Anywhere else: `bash bench/gpu_check.sh --dry-run` checks
# the plan without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
PYTHON=${PYTHON:-python3}
if [ "${1:-}" != "--dry-run" ] && ls .whl/*.whl >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
exec "$PYTHON" bench/gpu_check.py --out "$OUT" "$@"
