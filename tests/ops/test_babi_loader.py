"""bAbI loader on the real v1.2 files in ../shared/data, and on broken copies of their lines."""

import pytest

from tests.conftest import SHARED_DATA
from tracekd_ops.datasets.babi import TASK_NAMES, from_hf_rows, load_babi, parse_babi_file
from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.answers import babi_answer_correct

BABI = SHARED_DATA / "babi" / "tasks_1-20_v1-2" / "en"


def test_all_forty_files_load_to_forty_thousand_questions_with_valid_support():
    records = list(load_babi(BABI))
    assert len(records) == 40_000
    assert {r.category for r in records} == set(TASK_NAMES.values())
    assert all(set(r.gold_fact_ids) <= set(r.fact_ids) for r in records)
    assert len({r.example_id for r in records}) == 40_000


def test_facts_accumulate_and_earlier_questions_are_not_facts():
    records = list(parse_babi_file(BABI / "qa2_two-supporting-facts_train.txt"))
    first, second = records[0], records[1]
    assert first.source.endswith(":7") and first.gold_fact_ids == (3, 6) and first.answers == ("garden",)
    assert [f.id for f in second.facts] == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13]  # line 7 was a question
    assert second.gold_fact_ids == (12, 6) and second.extra["question_in_story"] == 1


def test_list_answers_and_qa19_without_space_before_tab():
    lists = [r for r in parse_babi_file(BABI / "qa8_lists-sets_train.txt") if "," in r.answers[0]]
    assert lists and babi_answer_correct(",".join(reversed(lists[0].answers[0].split(","))), lists[0].answers, "lists-sets")
    paths = list(parse_babi_file(BABI / "qa19_path-finding_test.txt"))
    assert len(paths) == 1000 and all("," in r.answers[0] for r in paths)
    assert babi_answer_correct("s,e", ["s,e"], "path-finding") and not babi_answer_correct("e,s", ["s,e"], "path-finding")


@pytest.mark.parametrize(
    "lines, where, field",
    [
        (["1 Mary went home.", "2 Where is Mary? home 1"], "line 2", "question"),
        (["1 Mary went home.", "2 Where is Mary?\thome\t5"], "line 2", "supporting ids"),
        (["1 Mary went home.", "2 Where is Mary?\thome\tone"], "line 2", "supporting ids"),
        (["1 Mary went home.", "3 John went home."], "line 2", "line number"),
        (["x Mary went home."], "line 1", "line number"),
        (["1 Mary went home.", "2 Where is Mary?\thome"], "line 2", "question"),
    ],
)
def test_malformed_lines_name_file_line_and_field(tmp_path, lines, where, field, faults):
    path = tmp_path / "qa1_single-supporting-fact_train.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError) as error:
        list(parse_babi_file(path))
    assert (error.value.where, error.value.field) == (where, field)
    assert str(path) in str(error.value)
    faults.held("bad_input")


def test_bad_encoding_and_bad_file_name(tmp_path, faults):
    path = tmp_path / "qa1_single-supporting-fact_test.txt"
    path.write_bytes(b"1 Mary went to the \xff.\n")
    with pytest.raises(DatasetFormatError, match=r"line 1 \(encoding\)"):
        list(parse_babi_file(path))
    wrong = tmp_path / "qa1_counting_test.txt"
    wrong.write_text("1 a.\n")
    with pytest.raises(DatasetFormatError, match="task"):
        list(parse_babi_file(wrong))
    faults.held("bad_input")


def test_hugging_face_row_layout():
    row = {"story": {"id": ["1", "2", "3"], "type": [0, 0, 1], "text": ["Mary went home.", "John left.", "Where is Mary?"],
                     "supporting_ids": [[], [], ["1"]], "answer": ["", "", "home"]}}  # fmt: skip
    (record,) = from_hf_rows([row], task=1, split="train", source="facebook/babi_qa:en-qa1")
    assert (record.category, record.gold_fact_ids, record.answers) == ("single-supporting-fact", (1,), ("home",))
    bad = {"story": {**row["story"], "supporting_ids": [[], [], ["7"]]}}
    with pytest.raises(DatasetFormatError, match="row 0 line 3 \\(supporting_ids\\)"):
        list(from_hf_rows([bad], task=1, split="train", source="hf"))
