"""MS MARCO in its three layouts, streamed; the decomposition rules; the official-style scores."""

import json
import math

import pytest

from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.msmarco import NO_ANSWER, from_rows, load_msmarco
from tracekd_ops.datasets import dataset_spec
from tracekd_ops.datasets.protocol import apply_protocol
from tracekd_ops.datasets.answers import msmarco_answer_correct
from tracekd_ops.evaluate.scoring import bleu_1, rouge_l

ROWS = [
    {"query_id": 10, "query": "what is the capital of france", "query_type": "location", "answers": ["Paris"],
     "passages": [{"is_selected": 0, "url": "u1", "passage_text": "Lyon is a city."},
                  {"is_selected": 1, "url": "u2", "passage_text": "Paris is the capital of France."}]},
    {"query_id": 11, "query": "how many legs does a cat have", "query_type": "NUMERIC", "answers": [],
     "passages": [{"is_selected": 0, "url": "u3", "passage_text": "Cats are mammals."}]},
]  # fmt: skip


def columnar(rows):
    fields = ("answers", "passages", "query", "query_id", "query_type")
    return {f: {str(i): row[f] for i, row in enumerate(rows)} for f in fields}


def check(records):
    first, second = records
    assert (first.category, first.gold_fact_ids, first.answers, first.fact(2).text) == (
        "LOCATION", (2,), ("Paris",), "Paris is the capital of France.")  # fmt: skip
    assert second.answers == (NO_ANSWER,) and second.gold_fact_ids == ()


def test_v21_columnar_json_streams_back_in_row_order(tmp_path):
    many = [{**ROWS[i % 2], "query_id": i} for i in range(25)]  # row keys 0..24: numeric, not text, order
    path = tmp_path / "dev_v2.1.json"
    path.write_text(json.dumps(columnar(many)))
    records = list(load_msmarco(path))
    assert [r.extra["query_id"] for r in records] == list(range(25))
    assert {r.split for r in records} == {"test"}
    check(records[:2])


def test_v11_json_lines_and_hugging_face_layout(tmp_path):
    path = tmp_path / "train_v1.1.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS))
    check(list(load_msmarco(path)))
    hf = [{**r, "passages": {"is_selected": [p["is_selected"] for p in r["passages"]],
                            "passage_text": [p["passage_text"] for p in r["passages"]],
                            "url": [p["url"] for p in r["passages"]]}} for r in ROWS]  # fmt: skip
    check(list(from_rows(hf, "train", "microsoft/ms_marco:v2.1")))


def test_max_overlap_rule_picks_the_passage_sharing_most_answer_words():
    row = {**ROWS[0], "passages": [{**p, "is_selected": 0} for p in ROWS[0]["passages"]]}
    (record,) = from_rows([row], "train", "t", gold_rule="max_overlap")
    assert record.gold_fact_ids == (2,)


@pytest.mark.parametrize(
    "row, field",
    [
        ({k: v for k, v in ROWS[0].items() if k != "query_type"}, "query_type"),
        ({**ROWS[0], "query_type": "COLOUR"}, "query_type"),
        ({**ROWS[0], "answers": "Paris"}, "answers"),
        ({**ROWS[0], "passages": [{"url": "u"}]}, "passages"),
    ],
)
def test_malformed_rows_name_the_record_and_field(tmp_path, row, field, faults):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(ROWS[1]) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DatasetFormatError) as error:
        list(load_msmarco(path))
    assert (error.value.where, error.value.field) == ("line 2", field)
    faults.held("bad_input")


def test_truncated_columnar_file_is_an_error(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(columnar(ROWS))[:-40])
    with pytest.raises(DatasetFormatError, match="not valid JSON"):
        list(load_msmarco(path))


def test_scores_match_hand_computed_values():
    assert msmarco_answer_correct("paris.", ["Paris"]) and msmarco_answer_correct("No answer present", [NO_ANSWER])
    assert not msmarco_answer_correct("Lyon", ["Paris"])
    # candidate "cat sat" vs reference "cat sat on mat": LCS 2, P = 1, R = 0.5
    assert rouge_l("cat sat", ["cat sat on mat"]) == pytest.approx((1 + 1.44) * 0.5 / (0.5 + 1.44))
    assert bleu_1("cat sat", ["cat sat on mat"]) == pytest.approx(math.exp(1 - 4 / 2))
    assert bleu_1("mat mat mat", ["cat sat on mat"]) == pytest.approx(math.exp(1 - 4 / 3) / 3)  # clipped, short


def test_reference_protocol_caps_queries_per_type():
    many = [{**ROWS[0], "query_id": i} for i in range(1500)]
    records = apply_protocol(dataset_spec("msmarco").protocol, from_rows(many, "train", "t"), "reference")
    assert len(records) == 1000


def test_unknown_gold_rule_is_refused(faults):
    with pytest.raises(ValueError, match="gold rule"):
        list(from_rows(ROWS, "train", "t", gold_rule="closest"))
    faults.held("bad_input")
