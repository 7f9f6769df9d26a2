import json
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from tracekd_ops.datasets.cotempqa import from_rows, load_cotempqa
from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.answers import cotempqa_answer_correct

COTEMPQA = SHARED_DATA / "cotempqa"


def test_the_three_relation_files_load_with_their_sizes():
    records = list(load_cotempqa(COTEMPQA))
    counts = {label: sum(r.category == label for r in records) for label in ("equal", "mix", "overlap")}
    assert counts == {"equal": 436, "mix": 563, "overlap": 653}


def test_gold_facts_state_an_answer_in_the_asked_slot():
    for record in load_cotempqa(COTEMPQA / "mix.json"):
        items = record.extra["answer_items"]
        for fact_id in record.gold_fact_ids:
            assert any(a.lower() in record.fact(fact_id).text.lower() for a in items)
    question = "While Ann was working for Acme, which position did Ann hold concurrently?"
    facts = ["Ann holds the position of archbishop in 1990.", "Ann holds the position of bishop in 1990.",
             "Bob holds the position of bishop in 1990."]  # fmt: skip
    (record,) = from_rows([{"index": 1, "question": question, "facts": facts, "answer": ["bishop"]}], "equal", "t")
    assert record.gold_fact_ids == (2,)  # not the longer title, not another person's


def test_the_gold_rule_matches_the_hand_labelled_sample():
    """78 questions labelled by hand (tests/ops/fixtures); the records are read from ../shared."""
    labels = json.loads((Path(__file__).parent / "fixtures" / "cotempqa_gold_hand_labels.json").read_text())
    records = {r.example_id: r for r in load_cotempqa(COTEMPQA)}
    hits = wrong = missed = 0
    for label in labels:
        record = records[f"{label['file']}-{label['index']:05d}"]
        chosen, hand = set(record.gold_fact_ids), set(label["gold_fact_ids_hand"])
        hits, wrong, missed = hits + len(chosen & hand), wrong + len(chosen - hand), missed + len(hand - chosen)
    assert len(labels) >= 50 and hits / (hits + wrong) == 1.0 and hits / (hits + missed) == 1.0


def test_mix_answers_are_scored_as_a_set_others_against_any_alias():
    assert cotempqa_answer_correct("Catholic bishop, the titular bishop.", ["titular bishop, Catholic bishop"], "mix")
    assert not cotempqa_answer_correct("titular bishop", ["titular bishop, Catholic bishop"], "mix")
    assert cotempqa_answer_correct("The Liberals", ["Liberals", "Liberal Party"], "equal")


@pytest.mark.parametrize(
    "line, field",
    [
        ('{"index": 1, "question": "q", "facts": ["a"]', "json"),
        ('{"index": 1, "question": "q", "facts": ["a"]}', "answer"),
        ('{"index": "1", "question": "q", "facts": ["a"], "answer": ["x"]}', "index"),
        ('{"index": 1, "question": "q", "facts": "a", "answer": ["x"]}', "facts"),
        ('[1, 2]', "record"),
    ],
)
def test_malformed_records_name_file_line_and_field(tmp_path, line, field, faults):
    good = json.dumps({"index": 0, "question": "q", "facts": ["x a"], "answer": ["a"]})
    path = tmp_path / "equal.json"
    path.write_bytes((good + "\r\n" + line + "\r\n").encode())
    with pytest.raises(DatasetFormatError) as error:
        list(load_cotempqa(path))
    assert (error.value.where, error.value.field) == ("line 2", field)
    faults.held("bad_input")
