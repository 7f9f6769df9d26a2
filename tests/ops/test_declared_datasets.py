"""Any open-book QA dataset through a declarative spec: HotpotQA as the built-in one, on the real
sample of its dev distractor set (as published, and as the Hub's Parquet); a spec with each kind of
gold-fact reference; and bad specs and bad data, each a clear error naming the spec file and key,
or the data file, record and field."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tracekd_ops.datasets import dataset_names, dataset_spec, inspect_dataset, load_source
from tracekd_ops.datasets.declared import read_spec
from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.catalog import SPECS_VARIABLE

HOTPOT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "hotpotqa" / "hotpot_dev_distractor_v1.sample.json"


def hotpot_rows() -> list[dict]:
    return json.loads(HOTPOT.read_text())


def test_hotpotqa_is_built_in_and_reads_the_published_sample_as_its_sources_md_describes():
    assert "hotpotqa" in dataset_names()
    records = list(load_source("hotpotqa", HOTPOT))
    assert len(records) == 53
    assert sum(r.category == "bridge" for r in records) == 39 and sum(r.category == "comparison" for r in records) == 14
    assert sum(len(r.gold_fact_ids) for r in records) == 129  # every supporting fact resolves to one sentence
    assert sorted(a for r in records for a in r.answers if a in ("yes", "no")) == ["no"] * 4 + ["yes"] * 5
    first = records[0]
    assert first.example_id == hotpot_rows()[0]["_id"] and first.split == "test"  # the file is named dev
    assert [f.text for f in first.facts if f.id in first.gold_fact_ids] == [
        "Scott Derrickson: Scott Derrickson (born July 16, 1966) is an American director, screenwriter and producer.",
        "Ed Wood: Edward Davis Wood Jr. (October 10, 1924 – December 10, 1978) was an American filmmaker, actor, writer, "
        "producer, and director."]  # fmt: skip
    assert [r.facts for r in load_source("hotpotqa", HOTPOT)] == [r.facts for r in records]  # ids stable across runs
    assert {r.split for r in load_source("hotpotqa", HOTPOT, split="all")} == {"all"}  # a sample of one split: held out by the protocol


def test_hotpotqa_from_the_hubs_parquet_gives_the_same_records(tmp_path):
    """`hotpotqa/hotpot_qa` (distractor) serves `context` and `supporting_facts` as structs of lists."""
    rows = [{"id": r["_id"], "question": r["question"], "answer": r["answer"], "type": r["type"], "level": r["level"],
             "supporting_facts": {"title": [t for t, _ in r["supporting_facts"]], "sent_id": [i for _, i in r["supporting_facts"]]},
             "context": {"title": [t for t, _ in r["context"]], "sentences": [s for _, s in r["context"]]}}
            for r in hotpot_rows()]  # fmt: skip
    (tmp_path / "distractor").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "distractor" / "validation-00000-of-00001.parquet")
    published = [(r.example_id, r.category, r.question, r.facts, r.answers, r.gold_fact_ids) for r in load_source("hotpotqa", HOTPOT)]
    from_hub = [(r.example_id, r.category, r.question, r.facts, r.answers, r.gold_fact_ids)
                for r in load_source("hotpotqa", tmp_path / "distractor" / "validation-00000-of-00001.parquet")]  # fmt: skip
    assert from_hub == published


SPEC = """
name: {name}
question: q
answers: {{field: a, aliases: more}}
id: key
facts: {facts}
gold: {gold}
category: {{field: kind, labels: [one, two]}}
split: part
answer: {{scorer: {scorer}, version: 2}}
templates: ["Where is"]
"""


def write_spec(folder: Path, name: str = "mine", facts: str = "{list: passages}", gold: str = "{ids: support}",
               scorer: str = "exact_match") -> Path:  # fmt: skip
    path = folder / f"{name}.yaml"
    path.write_text(SPEC.format(name=name, facts=facts, gold=gold, scorer=scorer))
    return path


def use_specs(monkeypatch, *paths: Path) -> None:
    monkeypatch.setenv(SPECS_VARIABLE, ":".join(str(p) for p in paths))


ROW = {"key": "r1", "q": "Where is the cat?", "a": "the mat", "more": ["mat"], "kind": "one", "part": "train",
       "passages": ["The dog sleeps.", "The cat sits on the mat.", "It rains."]}  # fmt: skip


@pytest.mark.parametrize(
    "facts, gold, row_changes",
    [("{list: passages}", "{ids: support}", {"support": [2]}),
     ("{list: passages}", "{indices: support}", {"support": [1]}),
     ("{list: passages}", "{flags: support}", {"support": [False, True, False]}),
     ("{paragraphs: paras}", "{title_sentence: support}", {"support": [["Cat", 0]], "paras": [["Dog", ["The dog sleeps."]], ["Cat", ["The cat sits on the mat.", "It rains."]]]}),
     ("{paragraphs: paras, sentences: paragraph_text}", "{flags: is_supporting}",
      {"paras": [{"title": "Dog", "paragraph_text": "The dog sleeps.", "is_supporting": False},
                 {"title": "Cat", "paragraph_text": "The cat sits on the mat.", "is_supporting": True}]})],
)  # fmt: skip
def test_each_kind_of_gold_fact_reference_finds_the_cat_sentence(tmp_path, monkeypatch, facts, gold, row_changes):
    spec = write_spec(tmp_path, facts=facts, gold=gold)
    use_specs(monkeypatch, spec)
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({**ROW, **row_changes}) + "\n" + json.dumps({**ROW, **row_changes, "key": "r2", "part": "dev"}) + "\n")
    records = list(load_source("mine", data))
    assert [r.split for r in records] == ["train", "test"]
    gold_texts = [f.text for f in records[0].facts if f.id in records[0].gold_fact_ids]
    assert gold_texts in (["The cat sits on the mat."], ["Cat: The cat sits on the mat."])
    assert records[0].answers == ("the mat", "mat") and records[0].category == "one"
    assert dataset_spec("mine").vocabulary_phrases == ("Where is",)


def test_the_scorers_are_named_and_versioned(tmp_path, monkeypatch):
    use_specs(monkeypatch, write_spec(tmp_path, "exact"), write_spec(tmp_path, "overlap", scorer="token_f1"))
    exact, overlap = dataset_spec("exact"), dataset_spec("overlap")
    assert (exact.scorer_version, overlap.scorer_version) == ("exact-em-2", "overlap-f1ge0.5-2")
    assert exact.answer_correct("The mat.", ["the mat"], "one") and not exact.answer_correct("on the mat", ["the mat"], "one")
    assert overlap.answer_correct("on the red mat", ["the red mat"], "one") and not overlap.answer_correct("a dog", ["the red mat"], "one")


def test_the_spec_is_part_of_the_datas_version(tmp_path, monkeypatch):
    from tracekd_ops.steps.data import RawPartition

    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({**ROW, "support": [2]}) + "\n")
    spec = write_spec(tmp_path)
    use_specs(monkeypatch, spec)
    first = RawPartition(dataset_spec("mine"), str(data), "full", list(load_source("mine", data)), {}, {}).content_hash()
    spec.write_text(spec.read_text() + "description: the same mapping, reworded\n")
    monkeypatch.setenv(SPECS_VARIABLE, f"{spec}:")  # a new value: the spec is read again
    assert RawPartition(dataset_spec("mine"), str(data), "full", list(load_source("mine", data)), {}, {}).content_hash() != first


@pytest.mark.parametrize(
    "text, says",
    [("name: Bad Name\n", r"name: lower-case letters"),
     (SPEC.format(name="x", facts="{list: p, paragraphs: c}", gold="{ids: s}", scorer="exact_match"), r"facts: give exactly one of list, paragraphs"),
     (SPEC.format(name="x", facts="{list: p}", gold="{ids: s, flags: f}", scorer="exact_match"), r"gold: give exactly one of .* \(got ids, flags\)"),
     (SPEC.format(name="x", facts="{list: p}", gold="{ids: s}", scorer="bleu"), r"answer.scorer: Input should be 'exact_match' or 'token_f1'"),
     (SPEC.format(name="x", facts="{list: p}", gold="{ids: s}", scorer="exact_match") + "colour: red\n", r"colour: Extra inputs are not permitted"),
     (SPEC.format(name="x", facts="{list: p}", gold="{ids: s}", scorer="exact_match").replace("labels: [one, two]}", "labels: [one, two], meanings: {three: a third}}"),
      r"category: .*meanings given for labels the category does not have: three"),
     ("question: [unclosed\n", r"line 2: not valid YAML"),
     ("", r"a dataset spec is a YAML mapping")],
)  # fmt: skip
def test_a_bad_spec_names_the_file_and_the_key(tmp_path, text, says, faults):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"{path}.*{says}"):
        read_spec(path)
    faults.held("bad_input")


@pytest.mark.parametrize(
    "row_changes, where, says",
    [({"passages": None}, "passages", "expected a string or a list of strings"),
     ({"support": [7]}, "support", r"\[7\] out of range: the record has 3 facts \(1..3\)"),
     ({"kind": "three"}, "kind", r"'three' is not one of the spec's labels \(one, two\)"),
     ({"q": ""}, "q", "expected text")],
)  # fmt: skip
def test_bad_data_names_the_file_the_record_and_the_field(tmp_path, monkeypatch, row_changes, where, says, faults):
    use_specs(monkeypatch, write_spec(tmp_path))
    data = tmp_path / "rows.json"
    rows = [{**ROW, "support": [2]}, {**ROW, "support": [2], "key": "r2", **row_changes}]
    data.write_text(json.dumps(rows))
    with pytest.raises(DatasetFormatError, match=rf"{data} record 2 \({where}\): {says}"):
        list(load_source("mine", data))
    faults.held("bad_input")


def test_a_missing_column_in_parquet_is_named(tmp_path, monkeypatch, faults):
    use_specs(monkeypatch, write_spec(tmp_path))
    data = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist([{k: v for k, v in {**ROW, "support": [2]}.items() if k != "kind"}]), data)
    with pytest.raises(DatasetFormatError, match=rf"{data} row 1 \(kind\): missing"):
        inspect_dataset("mine", data)
    faults.held("bad_input")


def test_a_spec_may_not_take_a_built_in_name(tmp_path, monkeypatch, faults):
    use_specs(monkeypatch, write_spec(tmp_path, "babi"))
    with pytest.raises(ValueError, match=r"babi.yaml: name: dataset 'babi' is already defined"):
        dataset_names()
    faults.held("bad_input")
