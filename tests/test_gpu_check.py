"""The prepared GPU check's dry mode, here without a GPU: the plan, every step's script and
arguments, and the summary's schema (the same check the real run's summary passes)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_dry_run_checks_the_plan_and_writes_a_valid_summary(tmp_path):
    done = subprocess.run([sys.executable, "bench/gpu_check.py", "--dry-run", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "gpu_check.json").read_text())
    gpu_check().check_summary(summary)
    assert summary["dry_run"] is True and [s["name"] for s in summary["steps"]] == ["cuda tests", "training benchmark", "generation benchmark"]
    assert sum(s["budget_s"] for s in summary["steps"]) <= summary["budget_s"] <= 480


def test_a_budget_too_small_for_the_plan_is_refused(tmp_path):
    done = subprocess.run([sys.executable, "bench/gpu_check.py", "--dry-run", "--out", str(tmp_path), "--budget", "60"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "exceed --budget 60" in done.stderr


def test_a_summary_of_a_real_run_must_say_how_each_step_ended():
    check = gpu_check().check_summary
    step = {"name": "cuda tests", "command": ["python"], "budget_s": 100}
    real = {"schema": 1, "at": "2026-12-04T00:00:00+00:00", "device": "NVIDIA H200", "dry_run": False, "budget_s": 480, "steps": [step]}
    with pytest.raises(ValueError, match=r"steps\[0\] must say its returncode and seconds"):
        check(real)
    check({**real, "steps": [{**step, "returncode": 0, "seconds": 12.5}]})
    with pytest.raises(ValueError, match="device must be str"):
        check({**real, "device": None})
