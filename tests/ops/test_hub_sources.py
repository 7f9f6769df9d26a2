"""`hf:` sources go through the real `datasets` library; offline, the repo id is a local folder in
the Hub layout (split files), which `load_dataset` resolves the same way as a downloaded repo."""

import json

import pytest

from tracekd_ops.datasets import inspect_dataset, load_source
from tracekd_ops.datasets.hub import HubSource


def write_split_files(folder, splits):
    folder.mkdir()
    for split, rows in splits.items():
        (folder / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return folder


def test_msmarco_hub_layout_train_and_validation(tmp_path):
    row = {"query_id": 1, "query": "capital of france", "query_type": "location", "answers": ["Paris"],
           "passages": {"is_selected": [0, 1], "passage_text": ["Lyon.", "Paris is the capital."], "url": ["a", "b"]},
           "wellFormedAnswers": []}  # fmt: skip
    repo = write_split_files(tmp_path / "ms_marco", {"train": [row, {**row, "query_id": 2}], "validation": [row]})
    records = list(load_source("msmarco", f"hf:{repo}"))
    assert [(r.split, r.category, r.gold_fact_ids) for r in records] == [
        ("train", "LOCATION", (2,)), ("train", "LOCATION", (2,)), ("test", "LOCATION", (2,))]  # fmt: skip


def test_cotempqa_hub_splits_are_relations(tmp_path):
    row = {"index": 3, "triple_element": "S1_R1_O2", "question": "While Ann was holding the position of X, which position did Ann hold "
           "concurrently?", "facts": ["Ann holds the position of X in 1990.", "Ann holds the position of Y in 1990."], "answer": ["Y"]}  # fmt: skip
    repo = write_split_files(tmp_path / "cotemp", {"equal": [row], "mix": [row, {**row, "index": 4}]})
    (repo / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n"
        "  - split: equal\n    path: equal.jsonl\n  - split: mix\n    path: mix.jsonl\n---\n"
    )
    summary = inspect_dataset("cotempqa", f"hf:{repo}")
    assert summary["questions"] == 3 and summary["by_category"] == {"equal": 1, "mix": 2}
    assert summary["gold_facts"] == {"one": 3, "several": 0, "none": 0}


def test_source_strings():
    assert HubSource.parse("hf:microsoft/ms_marco:v2.1") == HubSource("microsoft/ms_marco", "v2.1")
    assert HubSource.parse("hf:Warrieryes/CotempQA") == HubSource("Warrieryes/CotempQA", None)
    with pytest.raises(ValueError):
        HubSource.parse("hf:")
