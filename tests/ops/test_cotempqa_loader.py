import json

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


def test_gold_facts_contain_an_answer_as_a_whole_phrase():
    for record in load_cotempqa(COTEMPQA / "mix.json"):
        items = record.extra["answer_items"]
        for fact_id in record.gold_fact_ids:
            assert any(a.lower() in record.fact(fact_id).text.lower() for a in items)
    (record,) = from_rows([{"index": 1, "question": "q", "facts": ["He was archbishop.", "He was bishop."],
                            "answer": ["bishop"]}], "equal", "t")  # fmt: skip
    assert record.gold_fact_ids == (2,)


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
def test_malformed_records_name_file_line_and_field(tmp_path, line, field):
    good = json.dumps({"index": 0, "question": "q", "facts": ["x a"], "answer": ["a"]})
    path = tmp_path / "equal.json"
    path.write_bytes((good + "\r\n" + line + "\r\n").encode())
    with pytest.raises(DatasetFormatError) as error:
        list(load_cotempqa(path))
    assert (error.value.where, error.value.field) == ("line 2", field)
