#!/usr/bin/env bash
# Run HERE (with PyPI), before a GPU check: download, for the GPU machine's Python 3.12 (which has
# torch, numpy, pyarrow, tokenizers ... but not these, and cannot reach PyPI), the wheels of what
# bench/gpu_check.py imports there, at TraceKD's tested pins, into .whl/ (ignored by git; carried
# to the machine by naming it in the device tool's `carry`). Prints their size: with the working
# tree they must stay under the 64 MiB a device call carries.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
pin() { grep -i "^$1==" scripts/constraints.txt | head -1; }
mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
  "$(pin trl)" "$(pin datasets)" "$(pin bitsandbytes)" "$(pin transformers)" "$(pin peft)" "$(pin accelerate)" \
  "$(pin pydantic)" pydantic-core dill multiprocess
du -sh .whl
