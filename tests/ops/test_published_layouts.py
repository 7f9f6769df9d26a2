"""Files as people download them: every published layout loads, nothing is guessed, nothing is
lost silently, and `tracekd datasets inspect` says what the materialization will store."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import SHARED_DATA
from tracekd_ops.datasets import dataset_spec, inspect_dataset, load_source
from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.msmarco import NO_ANSWER, NO_ANSWER_NOTE
from tracekd_ops.datasets.protocol import apply_protocol
from tracekd_ops.datasets.screening import DUPLICATE

BOM = b"\xef\xbb\xbf"
BABI = SHARED_DATA / "babi" / "tasks_1-20_v1-2" / "en"
COTEMPQA = SHARED_DATA / "cotempqa"


def hf_marco_row(query_id: int, answers: list[str]) -> dict:
    return {"query_id": query_id, "query": f"where is thing {query_id}", "query_type": "LOCATION", "answers": answers,
            "passages": {"is_selected": [0, 1], "passage_text": ["Elsewhere.", f"Thing {query_id} is in Paris. "], "url": ["a", "b"]},
            "wellFormedAnswers": []}  # fmt: skip


def test_msmarco_hub_rows_saved_as_one_pretty_json_array_with_a_bom_load_and_count_empty_answers(tmp_path):
    rows = [hf_marco_row(i, [] if i % 3 == 0 else ["Paris. "]) for i in range(1, 10)]
    path = tmp_path / "ms_marco_validation.json"
    path.write_bytes(BOM + json.dumps(rows, indent=2).encode())
    loaded = load_source("msmarco", path)
    records = list(loaded)
    assert len(records) == 9 and {r.split for r in records} == {"test"}
    assert [r.answers for r in records[1:3]] == [("Paris.",), (NO_ANSWER,)]  # whitespace folded where the record is made
    assert dict(loaded.notes) == {NO_ANSWER_NOTE: 3}
    assert inspect_dataset("msmarco", path)["notes"] == {NO_ANSWER_NOTE: 3}


def test_a_split_that_cannot_be_known_is_asked_for_never_guessed(tmp_path):
    path = tmp_path / "ms_marco_sample.json"
    path.write_text(json.dumps([hf_marco_row(1, ["Paris"])]))
    with pytest.raises(DatasetFormatError) as error:
        list(load_source("msmarco", path))
    assert error.value.field == "split" and str(path) in str(error.value) and "split: train" in str(error.value)
    assert {r.split for r in load_source("msmarco", path, split="train")} == {"train"}
    path.write_text(json.dumps([{**hf_marco_row(1, ["Paris"]), "split": "validation"}]))
    assert [r.split for r in load_source("msmarco", path)] == ["test"]


def test_a_cotempqa_file_named_otherwise_says_which_relation_sources_are_missing(tmp_path):
    row = {"index": 1, "triple_element": "S1_R1_O2", "question": "Who?", "facts": ["Ann held X."], "answer": ["X"]}
    path = tmp_path / "downloaded.json"
    path.write_text(json.dumps(row))
    with pytest.raises(DatasetFormatError) as error:
        list(load_source("cotempqa", path))
    message = str(error.value)
    assert str(path) in message and "`relation` field" in message and "file name" in message and "relation:" in message
    assert [r.category for r in load_source("cotempqa", path, relation="mix")] == ["mix"]
    path.write_text(json.dumps({**row, "relation": "overlap"}))
    assert [r.category for r in load_source("cotempqa", path, relation="mix")] == ["overlap"]  # the record's own wins


def test_the_warrieryes_hub_repo_loads_by_its_relation_files(tmp_path):
    repo = tmp_path / "Warrieryes--CotempQA"
    repo.mkdir()
    for relation in ("equal", "mix"):
        shutil.copy(COTEMPQA / f"{relation}.json", repo / f"{relation}.json")
    (repo / ".gitattributes").write_text("*.json filter=lfs\n")
    (repo / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: '*.json'\n---\n")
    summary = inspect_dataset("cotempqa", f"hf:{repo}")
    assert summary["by_category"] == {"equal": 436, "mix": 563}


def test_babi_hub_rows_keep_the_first_question_of_each_story_under_the_reference_protocol(tmp_path):
    from datasets import Dataset

    stories = [{"story": {"id": ["1", "2", "3", "4", "5", "6"], "type": [0, 0, 1, 0, 1, 1],
                          "text": ["Mary went to the kitchen.", "John went to the garden.", "Where is Mary?", "Mary went to the office.",
                                   "Where is Mary?", "Where is John?"],
                          "supporting_ids": [[], [], ["1"], [], ["4"], ["2"]], "answer": ["", "", "kitchen", "", "office", "garden"]}}
               for _ in range(10)]  # fmt: skip
    repo = tmp_path / "babi_qa"
    repo.mkdir()
    for split in ("train", "test"):
        Dataset.from_list(stories).to_parquet(str(repo / f"{split}.parquet"))
    (repo / "README.md").write_text(
        "---\nconfigs:\n- config_name: en-qa1\n  data_files:\n  - split: train\n    path: train.parquet\n"
        "  - split: test\n    path: test.parquet\n---\n"
    )
    records = list(load_source("babi", f"hf:{repo}:en-qa1"))
    assert [r.extra["question_in_story"] for r in records[:3]] == [0, 1, 2]
    kept = apply_protocol(dataset_spec("babi").protocol, records, "reference", seed=0)
    assert sum(r.split == "train" for r in kept) == 10  # the first question of each of the 10 stories
    assert all(r.extra["question_in_story"] == 0 for r in kept)


def test_a_byte_order_mark_is_accepted_and_errors_name_the_full_path(tmp_path):
    babi = tmp_path / "qa1_single-supporting-fact_train.txt"
    babi.write_bytes(BOM + (BABI / "qa1_single-supporting-fact_train.txt").read_bytes())
    assert len(list(load_source("babi", babi))) == 1000
    cotemp = tmp_path / "equal.json"
    cotemp.write_bytes(BOM + (COTEMPQA / "equal.json").read_bytes())
    assert len(list(load_source("cotempqa", cotemp))) == 436
    cotemp.write_bytes(BOM + b'{"index": 1, "question": "q"\r\n')
    with pytest.raises(DatasetFormatError) as error:
        list(load_source("cotempqa", cotemp))
    assert str(error.value).startswith(f"{cotemp} line 1 (json)")


def test_a_record_seen_twice_is_kept_once_and_counted_and_a_conflicting_one_is_an_error(tmp_path):
    lines = (COTEMPQA / "equal.json").read_bytes().splitlines()[:3]
    path = tmp_path / "equal.json"
    path.write_bytes(b"\n".join(lines + lines[:2]))
    loaded = load_source("cotempqa", path)
    assert len(list(loaded)) == 3 and dict(loaded.left_out) == {DUPLICATE: 2}
    changed = json.loads(lines[0])
    changed["question"] = "Something else?"
    path.write_bytes(b"\n".join([*lines, json.dumps(changed).encode()]))
    with pytest.raises(ValueError, match="appears twice with different content"):
        list(load_source("cotempqa", path))


def test_inspect_and_the_protocol_agree_on_every_count():
    summary = inspect_dataset("cotempqa", COTEMPQA)
    kept = apply_protocol(dataset_spec("cotempqa").protocol, load_source("cotempqa", COTEMPQA), "full", seed=0)
    assert summary["questions"] == len(kept) == 1652
