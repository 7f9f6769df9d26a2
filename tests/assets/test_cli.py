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


def test_inspect_msmarco_with_either_gold_rule(tmp_path):
    row = {"query_id": 1, "query": "q", "query_type": "ENTITY", "answers": ["red apple"],
           "passages": [{"is_selected": 0, "url": "u", "passage_text": "a red apple"}]}  # fmt: skip
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(row))
    for rule, gold in (("is_selected", {"one": 0, "several": 0, "none": 1}), ("max_overlap", {"one": 1, "several": 0, "none": 0})):
        result = subprocess.run([TRACEKD, "datasets", "inspect", "msmarco", str(path), "--gold-rule", rule],
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["gold_facts"] == gold
