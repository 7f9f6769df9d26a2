"""One prepared check that turns a lent GPU machine into numbers: the CUDA-path tests, the training
benchmark (its GPU rows: the Llama-3.2-1B shape at the study's sequence lengths, full / LoRA /
QLoRA, padded and packed, against a bare PyTorch loop) and the generation benchmark, each with a
time budget so the whole check ends within `--budget` seconds and a second try fits a 15-minute
lease. Every result file and a summary (`gpu_check.json`, schema checked by `check_summary`) go
to `--out`.

`--dry-run` (any machine, no GPU): prints the plan, checks that every step's script exists and
takes its arguments, and writes the summary of a dry run, checked against the same schema.

    python bench/gpu_check.py --out "$OUT"            # on the GPU machine (bench/gpu_check.sh installs first)
    python bench/gpu_check.py --dry-run --out /tmp/x  # here
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Step:
    name: str
    command: list[str]
    budget_s: int
    result_kind: str | None
    """The `bench/results/<kind>-*.json` file the step writes, copied to the output folder."""


def plan(python: str, steps: int) -> list[Step]:
    """The check's steps, in order, each with its share of the time."""
    return [
        Step("cuda tests", [python, "-m", "pytest", "-q", "-x", "tests/ops/test_cuda_path.py", "tests/ops/test_batching.py"], 150, None),
        Step("training benchmark", [python, "bench/bench_training.py", "--steps", str(steps), "--warmup", "5"], 240, "training"),
        Step("generation benchmark", [python, "bench/bench_generation.py", "--prompts", "256", "--batch-sizes", "1,64,256"], 90, "generation"),
    ]


def check_summary(summary: dict[str, Any]) -> None:
    """The summary's shape, so a reader (and `tracekd plan`'s rates) can rely on it; a
    `ValueError` says what is wrong."""
    required = {"schema": int, "at": str, "device": str, "dry_run": bool, "budget_s": int, "steps": list}
    for key, kind in required.items():
        if not isinstance(summary.get(key), kind):
            raise ValueError(f"gpu_check summary: {key} must be {kind.__name__}, got {summary.get(key)!r}")
    for number, step in enumerate(summary["steps"]):
        for key, kind in {"name": str, "command": list, "budget_s": int}.items():
            if not isinstance(step.get(key), kind):
                raise ValueError(f"gpu_check summary: steps[{number}].{key} must be {kind.__name__}")
        if not summary["dry_run"]:
            if not isinstance(step.get("returncode"), int) or not isinstance(step.get("seconds"), (int, float)):
                raise ValueError(f"gpu_check summary: steps[{number}] must say its returncode and seconds")


def _device() -> str:
    try:
        import torch

        return torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
    except ImportError:
        return "no torch"


def _takes_its_arguments(step: Step) -> None:
    """Dry run: the step's script exists and its argument parser accepts what the plan passes."""
    if step.command[1] == "-m":  # pytest: the files it names exist
        missing = [path for path in step.command if path.endswith(".py") and not (ROOT / path).exists()]
        if missing:
            raise ValueError(f"{step.name}: no {missing[0]}")
        return
    script = ROOT / step.command[1]
    if not script.exists():
        raise ValueError(f"{step.name}: no {script}")
    checked = subprocess.run([*step.command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if checked.returncode != 0:
        raise ValueError(f"{step.name}: {' '.join(step.command[1:])} --help failed: {checked.stderr[-500:]}")
    for flag in (part for part in step.command[2:] if part.startswith("--")):
        if flag not in checked.stdout:
            raise ValueError(f"{step.name}: {step.command[1]} takes no {flag}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the summary and every result file")
    parser.add_argument("--dry-run", action="store_true", help="check the plan here (no GPU needed), run nothing")
    parser.add_argument("--budget", type=int, default=480, help="seconds for the whole check (default 480: a second try fits)")
    parser.add_argument("--steps", type=int, default=30, help="training steps per benchmark row")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    steps = plan(sys.executable, args.steps)
    if sum(s.budget_s for s in steps) > args.budget:
        print(f"error: the steps' budgets ({sum(s.budget_s for s in steps)} s) exceed --budget {args.budget}", file=sys.stderr)
        return 2
    summary: dict[str, Any] = {"schema": SCHEMA_VERSION, "at": datetime.now(timezone.utc).isoformat(), "device": _device(),
                               "dry_run": args.dry_run, "budget_s": args.budget, "steps": []}  # fmt: skip
    for step in steps:
        print(f"{step.name}: {' '.join(step.command)} (at most {step.budget_s} s)", flush=True)
        record: dict[str, Any] = {"name": step.name, "command": step.command, "budget_s": step.budget_s}
        if args.dry_run:
            _takes_its_arguments(step)
        else:
            started = time.monotonic()
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
            try:
                done = subprocess.run(step.command, cwd=ROOT, timeout=step.budget_s, env=env, capture_output=True, text=True)
                record["returncode"], log = done.returncode, done.stdout + done.stderr
            except subprocess.TimeoutExpired as expired:
                record["returncode"], log = 124, f"{expired.stdout or ''}{expired.stderr or ''}\nstopped after {step.budget_s} s"
            record["seconds"] = round(time.monotonic() - started, 1)
            (out / f"{step.name.replace(' ', '_')}.log").write_text(log if isinstance(log, str) else log.decode(errors="replace"))
            if step.result_kind:
                newest = sorted(RESULTS.glob(f"{step.result_kind}-*.json"))
                if newest and newest[-1].stat().st_mtime >= time.time() - record["seconds"] - 5:
                    shutil.copy(newest[-1], out / newest[-1].name)
                    record["result_file"] = newest[-1].name
            print(f"  -> returncode {record['returncode']} in {record['seconds']} s", flush=True)
        summary["steps"].append(record)
    check_summary(summary)
    (out / "gpu_check.json").write_text(json.dumps(summary, indent=2))
    print(f"summary: {out / 'gpu_check.json'}")
    return 0 if args.dry_run or all(s["returncode"] == 0 for s in summary["steps"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
