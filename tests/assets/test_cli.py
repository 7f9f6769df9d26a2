import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import SHARED_DATA

TRACEKD = str(Path(sys.executable).parent / "tracekd")


def test_inspect_prints_one_json_summary():
    result = subprocess.run([TRACEKD, "datasets", "inspect", "cotempqa", str(SHARED_DATA / "cotempqa")],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["questions"] == 1652 and summary["by_category"]["mix"] == 563
    assert sum(summary["gold_facts"].values()) == 1652


def test_inspect_fails_with_the_error_on_malformed_input(tmp_path):
    path = tmp_path / "qa1_single-supporting-fact_train.txt"
    path.write_text("1 Mary went home.\n2 Where is Mary?\thome\t9\n")
    result = subprocess.run([TRACEKD, "datasets", "inspect", "babi", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "line 2 (supporting ids)" in result.stderr and result.stdout == ""
