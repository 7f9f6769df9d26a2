"""Published outputs as students, on the reference study's real files (../shared/data/
trace_check_qa_outputs/cotempqa: its CoTempQA generations, as published) and on generated
outputs in the simple layout: discovery and the condition mapping, the official metric reproducing
the study's own summary files, hand-checked verdicts per format, the join to the loaded dataset,
idempotent and transactional re-import, malformed and empty input, the study's row lookup, and
the report section."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tracekd_ops.datasets import dataset_spec
from tracekd_ops.datasets.cotempqa_official import official_score, summary
from tracekd_ops.datasets.synthetic import SyntheticConfig, generate
from tracekd_ops.evaluate.metrics import condition_writes_steps
from tracekd_ops.evaluate.scoring import ScoringChoice
from tracekd_ops.evaluate.stats import TwoByTwo
from tracekd_ops.published import trace_check_qa
from tracekd_ops.published.lines import read_lines
from tracekd_ops.published.rescore import read_generation, record_of, verdicts
from tracekd_ops.published.settings import PublishedSource
from tracekd_ops.report.reference import reference_contingency
from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.steps.data import RawRequest, store_raw
from tracekd_ops.steps.published import PublishedOutcome, import_source, source_name
from tracekd_ops.steps.report import build_report, build_sql_model, store_reference_results
from tests.html_tables import misaligned_tables
from tracekd_ops.report.sql_models import discover_models
from tracekd_ops.store.store import Store
from tracekd_ops.traces.render import render_completion

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PUBLISHED = SHARED / "trace_check_qa_outputs" / "cotempqa"
OUTPUTS = PUBLISHED / "evaluation_outputs"
SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"
LINES = {"equal": 87, "mix": 113, "overlap": 131}

pytestmark = pytest.mark.skipif(not PUBLISHED.is_dir(), reason="../shared/data/trace_check_qa_outputs is not beside the checkout")


def quiet(_: str) -> None:
    pass


def imported(store: Store, source: PublishedSource) -> PublishedOutcome:
    """One folder imported as published students of the dataset it names, with what it did in detail."""
    return import_source(store, dataset_spec(source.dataset), source, ScoringChoice(), quiet)


def line_of(relative: str, number: int) -> dict:
    return next(line.values for line in read_lines(OUTPUTS / relative) if line.number == number)


def scored(relative: str, number: int, condition: str):
    relation = relative.split("/")[0].removesuffix("_default")
    fields = trace_check_qa.line_fields(line_of(relative, number), relation)
    spec = dataset_spec("cotempqa")
    record = record_of(fields, spec, f"{relative} line {number}")
    reading = read_generation(trace_check_qa.LAYOUT, fields.generation, record, condition)
    return record, reading, verdicts(reading, record, fields, spec, condition_writes_steps(condition), None)


def test_every_published_file_is_found_and_mapped_to_a_student():
    files = trace_check_qa.discover(PUBLISHED, ("equal", "overlap", "during", "mix"), {})
    assert len(files) == 24
    by_condition = {}
    for f in files:
        by_condition.setdefault(f.condition, set()).add(f.base_model)
        assert sum(1 for _ in read_lines(f.path)) == LINES[f.category]
        assert f.reported is not None and set(f.reported) == {"acc", "f1", "p", "r", "avg"}
    models = {"Qwen/Qwen3-1.7B", "meta-llama/Llama-3.2-1B-Instruct"}
    assert by_condition == {"solution_only": models, "correct": models, "incorrect": models, "untuned_base": models}


def test_the_official_metric_reproduces_every_summary_the_study_published():
    for f in trace_check_qa.discover(PUBLISHED, ("equal", "overlap", "during", "mix"), {}):
        scores = [official_score(v["prediction"], v["gold"], v["facts"], v["question"], v["triple_element"])
                  for v in (line.values for line in read_lines(f.path))]  # fmt: skip
        assert summary(scores) == f.reported, f.relative


def test_hand_checked_verdicts_in_each_format():
    # a correct-trace student: the relation, the one gold fact as a Python list, the answer in tags
    record, reading, found = scored("equal/Qwen3-1.7B-sft-adapter-reasoning-facts_default.json", 1, "correct")
    assert record.gold_fact_ids == (6,) and record.facts[5].text.endswith("member of the Liberals in March 11, 2019.")
    assert (reading.category, reading.fact_ids, reading.answer_items, reading.cut_short) == ("equal", (6,), ("Liberals",), False)
    assert found.chosen(ScoringChoice()) == {"class_correct": True, "ir_exact": True, "ir_precision": 1.0, "ir_recall": 1.0,
                                                  "trace_correct": True, "answer_correct": True}  # fmt: skip
    # a perturbed student: one wrong fact as bare text, not a list; the wrong party
    _, reading, found = scored("equal/Llama-3.2-1B-Instruct-sft-adapter-reasoning-facts-perturbed_default.json", 1, "incorrect")
    assert (reading.facts_form, reading.fact_ids, reading.answer_items) == ("text", (1,), ("Liberal Party",))
    assert (found.class_ok, found.ir_exact, found.answer_em) == (True, False, False)
    # answer-only students: a bare Python list; Qwen3's template opens <think> and the student answers inside it
    _, reading, found = scored("equal/Llama-3.2-1B-Instruct-sft-adapter_default.json", 1, "solution_only")
    assert (reading.answer_items, reading.answer_state, found.class_ok) == (("Liberal Party",), "closed", None)
    _, reading, found = scored("overlap/Qwen3-1.7B-sft-adapter_default.json", 1, "solution_only")
    assert (reading.answer_items, found.answer_em) == (("Gonville and Caius College",), True)
    # cut short: the trace repeated, then "Answer: ..." and no <answer> tags: no answer, unless read leniently
    _, reading, found = scored("equal/Qwen3-1.7B-sft-adapter-reasoning-facts_default.json", 10, "correct")
    assert (reading.answer_state, reading.cut_short, found.answer_em, found.answer_em_lenient) == ("missing", True, False, True)
    # the untuned base model: its last line, as TraceKD reads its own baselines
    _, reading, found = scored("mix_default/meta-llama_Llama-3.2-1B-Instruct_default_mix.json", 1, "untuned_base")
    assert reading.answer_items == ("John L. Kelley.",) and found.answer_em is False


def test_the_official_metric_misses_a_wrong_extra_answer_that_exact_match_catches():
    """Seen in the data: a single-answer question answered with the gold answer and a wrong one.
    The official metric's candidates are the facts' subjects for a `which ... did S` question
    (its slot test is reversed), so the wrong object is not counted as named."""
    values = line_of("equal/Qwen3-1.7B-sft-adapter-reasoning-facts_default.json", 47)
    _, reading, found = scored("equal/Qwen3-1.7B-sft-adapter-reasoning-facts_default.json", 47, "correct")
    assert values["gold"] == ["Paris-Sorbonne University - Paris IV"]
    assert reading.answer_items == ("Paris-Sorbonne University - Paris IV", "Sciences Po")
    assert (found.answer_official, found.answer_em) == (True, False)


def test_import_joins_the_loaded_dataset_stores_every_line_and_is_idempotent(tmp_path):
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    store_raw(store, dataset_spec("cotempqa"), RawRequest(str(SHARED / "cotempqa"), "full"))
    assert store.rows("SELECT count(*) AS n FROM raw_examples")[0]["n"] == 436 + 563 + 653
    outcome = imported(store, PublishedSource(path=str(PUBLISHED), source="github:sbhambr1/Trace_Check_QA@fa84bdc"))
    assert len(outcome.students) == 8 and outcome.source == "github:sbhambr1/Trace_Check_QA@fa84bdc"
    checks = store.rows("SELECT split_part(dataset_check, ' (', 1) AS check, count(*) AS n FROM external_lines WHERE status = 'scored' GROUP BY ALL")
    assert checks == [{"check": "matched", "n": 6 * 331 + 2 * 278}]
    # every student line joined to the dataset's own question id; the untuned baselines repeat 53 questions
    ids = store.rows("SELECT count(*) AS n FROM predictions p JOIN raw_examples r USING (dataset, example_id)")[0]["n"]
    assert ids == 6 * 331 + 2 * 278
    left = store.rows("SELECT base_model, count(*) AS n FROM external_lines WHERE status = 'left out' GROUP BY ALL ORDER BY ALL")
    assert [r["n"] for r in left] == [53, 53]
    registry = store.rows("SELECT status, backend, count(*) AS n FROM registry GROUP BY ALL")
    assert registry == [{"status": "external", "backend": "external", "n": 8}]
    before = store.rows("SELECT model_revision, count(*) AS n FROM predictions GROUP BY ALL ORDER BY ALL")
    again = imported(store, PublishedSource(path=str(PUBLISHED), source="github:sbhambr1/Trace_Check_QA@fa84bdc"))
    assert store.rows("SELECT model_revision, count(*) AS n FROM predictions GROUP BY ALL ORDER BY ALL") == before
    assert [s["model_revision"] for s in again.students] == [s["model_revision"] for s in outcome.students]
    assert store.rows("SELECT count(*) AS n FROM external_lines")[0]["n"] == 8 * 331


def copy_of_published(tmp_path: Path) -> Path:
    folder = tmp_path / "published"
    shutil.copytree(PUBLISHED, folder)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def test_a_changed_file_replaces_its_student_and_a_malformed_line_is_kept_with_its_reason(tmp_path):
    folder = copy_of_published(tmp_path)
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    first = imported(store, PublishedSource(path=str(folder)))
    target = folder / "evaluation_outputs" / "equal" / "Qwen3-1.7B-sft-adapter-reasoning-facts_default.json"
    lines = target.read_text().splitlines(keepends=True)
    lines[4] = '{"input": "x", "prediction": "unterminated\n'
    target.write_text("".join(lines))
    second = imported(store, PublishedSource(path=str(folder)))
    changed = [(a["condition"], a["base_model"]) for a, b in zip(first.students, second.students) if a["model_revision"] != b["model_revision"]]
    assert changed == [("correct", "Qwen/Qwen3-1.7B")]
    assert second.left_out[0].startswith("evaluation_outputs/equal/Qwen3-1.7B-sft-adapter-reasoning-facts_default.json line 5: ")
    assert "not valid JSON" in second.left_out[0]
    rows = store.rows("SELECT count(*) AS n, count(DISTINCT model_revision) AS revisions FROM predictions WHERE condition = 'correct' AND base_model = 'Qwen/Qwen3-1.7B'")
    assert rows == [{"n": 330, "revisions": 1}]
    kept = store.rows("SELECT line, status, reason FROM external_lines WHERE status = 'left out' AND condition = 'correct'")
    assert [(r["line"], r["status"]) for r in kept] == [(5, "left out")]


def test_an_empty_file_is_refused_and_nothing_is_stored(tmp_path, faults):
    folder = copy_of_published(tmp_path)
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    imported(store, PublishedSource(path=str(folder)))
    before = store.rows("SELECT model_revision, count(*) AS n FROM predictions GROUP BY ALL ORDER BY ALL")
    (folder / "evaluation_outputs" / "mix" / "Qwen3-1.7B-sft-adapter_default.json").write_text("")
    (folder / "evaluation_outputs" / "equal" / "Qwen3-1.7B-sft-adapter-reasoning-facts_default.json").write_text("{}\n")
    with pytest.raises(ValueError, match=r"Qwen3-1.7B-sft-adapter.*_default.json: no line could be scored"):
        imported(store, PublishedSource(path=str(folder)))
    assert store.rows("SELECT model_revision, count(*) AS n FROM predictions GROUP BY ALL ORDER BY ALL") == before
    faults.held("bad_input")


def test_an_unknown_condition_name_is_refused_with_the_known_ones(tmp_path, faults):
    folder = tmp_path / "outputs" / "evaluation_outputs" / "equal"
    folder.mkdir(parents=True)
    shutil.copyfile(OUTPUTS / "equal" / "Qwen3-1.7B-sft-adapter-reasoning-facts_default.json", folder / "Qwen3-1.7B-sft-adapter-reasoning_default.json")
    with pytest.raises(ValueError, match=r"unknown condition name 'sft-adapter-reasoning'; known: sft-adapter, sft-adapter-reasoning-facts, "):
        imported(Store(tmp_path / "t.duckdb", tables=CATALOG), PublishedSource(path=str(tmp_path / "outputs")))
    mapped = PublishedSource(path=str(tmp_path / "outputs"), condition_names={"sft-adapter-reasoning": "correct"})
    outcome = imported(Store(tmp_path / "t.duckdb", tables=CATALOG), mapped)
    assert [(s["condition"], s["scored"]) for s in outcome.students] == [("correct", 87)]
    with pytest.raises(ValueError, match="unknown condition 'right'"):
        PublishedSource(path=str(tmp_path), condition_names={"x": "right"})
    faults.held("bad_input")


def test_the_study_row_lookup_is_re_run_when_its_gold_csvs_are_there(tmp_path):
    """The study's script looks a line's gold row up by the first row whose answer *contains* the
    line's first gold answer: 'Liberal' finds 'Liberal Party' first, so that line's IR step is
    judged against another question's facts."""
    repo = tmp_path / "repo"
    outputs = repo / "results" / "Cotempqa" / "evaluation_outputs" / "equal"
    outputs.mkdir(parents=True)
    trace = "<think>The temporal relation between the event in question and the event in context is: equal.\nI need to use the following facts to answer the question: {facts}</think> <answer>{answer}</answer>"
    lines = [
        {"question": "While A was a member of X, which political party did A belong to within the same time interval?",
         "facts": ["A is a member of the Liberal in 2001.", "A is a member of the X in 2001."], "gold": ["Liberal"]},
        {"question": "While B was a member of Y, which political party did B belong to within the same time interval?",
         "facts": ["B is a member of the Liberal Party in 1990.", "B is a member of the Y in 1990."], "gold": ["Liberal Party"]},
    ]  # fmt: skip
    with open(outputs / "Qwen3-1.7B-sft-adapter-reasoning-facts_default.json", "w") as handle:
        for line in lines:
            generation = trace.format(facts=[line["facts"][0]], answer=[line["gold"][0]])
            handle.write(json.dumps({**line, "input": {"text": "..."}, "prediction": "assistant\n\n" + generation, "triple_element": "S1_R1_O2"}) + "\n")
    gold = repo / "data" / "cotempqa" / trace_check_qa.GOLD_CSV_DIR
    gold.mkdir(parents=True)
    rows = [lines[1], lines[0]]  # the CSV's order is not the outputs'
    pa_rows = {"question": [f"Answer the question based on the context:\n{r['facts']}\nQuestion: {r['question']} Only return the answer.\n" for r in rows],
               "answer": [repr(r["gold"]) for r in rows], "facts": [repr(r["facts"]) for r in rows]}  # fmt: skip
    import csv

    with open(gold / "equal_test.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "question", "reasoning", "answer", "facts"])
        for i, (q, a, f) in enumerate(zip(pa_rows["question"], pa_rows["answer"], pa_rows["facts"])):
            writer.writerow([i, q, "The temporal relation ... is: equal.", a, f])
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    imported(store, PublishedSource(path=str(repo)))
    found = store.rows("SELECT line, ir_exact, authors_ir_ok, authors_own_row FROM external_lines ORDER BY line")
    assert found == [{"line": 1, "ir_exact": True, "authors_ir_ok": False, "authors_own_row": False},
                     {"line": 2, "ir_exact": True, "authors_ir_ok": True, "authors_own_row": True}]  # fmt: skip


def simple_outputs(tmp_path: Path, suffix: str) -> tuple[Path, list]:
    """Generated outputs in the simple layout: synthetic test questions, a student that writes the
    gold trace and answer for the first half and a wrong fact and answer for the second."""
    records = [r for r in generate(SyntheticConfig(train_per_task=2, test_per_task=4)) if r.split == "test"][:12]
    rows = []
    for i, r in enumerate(records):
        good = i < 6
        facts = r.gold_fact_ids if good else tuple(f.id for f in r.facts if f.id not in r.gold_fact_ids)[:1]
        completion = render_completion(r.category, facts, r.answers[0] if good else "nowhere")
        rows.append({"question": r.question, "facts": [f.text for f in r.facts], "answers": list(r.answers), "generation": completion,
                     "category": r.category, "gold_fact_ids": list(r.gold_fact_ids), "example_id": r.example_id})  # fmt: skip
    path = tmp_path / f"outputs{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path, records


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_the_simple_layout_in_json_lines_and_parquet(tmp_path, suffix):
    path, _ = simple_outputs(tmp_path, suffix)
    source = PublishedSource(path=str(path), layout="simple", dataset="synthetic", condition="correct", base_model="someone/model-1b", student="lab")
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    outcome = imported(store, source)
    assert [(s["student"], s["scored"], s["answer_accuracy"], s["trace_accuracy"]) for s in outcome.students] == [("lab", 12, 0.5, 0.5)]
    metrics = store.rows("SELECT n_trace_ok_answer_ok AS a, n_trace_ok_answer_wrong AS b, n_trace_wrong_answer_ok AS c, n_trace_wrong_answer_wrong AS d FROM metrics")
    assert metrics == [{"a": 6, "b": 0, "c": 0, "d": 6}]
    with pytest.raises(ValueError, match="simple layout needs the condition and the base_model"):
        PublishedSource(path=str(path), layout="simple")


def test_a_simple_line_without_gold_facts_is_left_out_where_the_dataset_has_no_rule(tmp_path):
    path, _ = simple_outputs(tmp_path, ".jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[3].pop("gold_fact_ids")
    rows[4]["gold_fact_ids"] = [99]
    rows[5]["facts"] = "not a list"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    source = PublishedSource(path=str(path), layout="simple", dataset="synthetic", condition="correct", base_model="m")
    outcome = imported(Store(tmp_path / "t.duckdb", tables=CATALOG), source)
    assert outcome.left_out == [
        "outputs.jsonl line 4: field gold_fact_ids: missing, and synthetic has no rule to derive its gold facts",
        f"outputs.jsonl line 5: field gold_fact_ids: [99] point at no fact (1 to {len(rows[4]['facts'])})",
        "outputs.jsonl line 6: field facts: a string that is not a Python list of strings",
    ]
    assert outcome.students[0]["scored"] == 9


def test_the_published_table_is_data_and_its_own_chi_square_crosses_the_line():
    """The study's published Qwen3-1.7B correct-trace table (261 / 195 / 248 / 245): Pearson's
    chi-square on those counts is above 3.841, though the study reads it as below."""
    rows = {(r["condition"], r["base_model"], r["step"]): r for r in reference_contingency()}
    assert len(rows) == 12
    qwen = rows[("correct", "Qwen/Qwen3-1.7B", "trace")]
    table = TwoByTwo(qwen["n_step_ok_answer_ok"], qwen["n_step_ok_answer_wrong"], qwen["n_step_wrong_answer_ok"], qwen["n_step_wrong_answer_wrong"])
    assert (table.ok_ok, table.ok_wrong, table.wrong_ok, table.wrong_wrong, table.n) == (261, 195, 248, 245, 949)
    assert 4.5 < table.chi_square()[0] < 4.7


def test_source_names_never_keep_credentials(tmp_path, faults):
    named = source_name(tmp_path, "https://someone:hf_secret123@example.org/outputs.git")
    assert "hf_secret123" not in named and "someone" not in named and named.endswith("@example.org/outputs.git")
    assert source_name(tmp_path, None) == str(tmp_path)
    faults.held("secret")


def test_the_report_section_sets_the_study_beside_tracekd(tmp_path):
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    imported(store, PublishedSource(path=str(PUBLISHED)))
    store_reference_results(store)
    for model in discover_models(SQL_DIR):
        build_sql_model(store, model)
    variants = store.rows("SELECT variant, n, changed FROM published_rescoring WHERE condition = 'correct' AND base_model = 'Qwen/Qwen3-1.7B'")
    assert [v["variant"] for v in variants] == ["tracekd", "answer=official", "answer=f1", "facts=contains", "facts=subset", "facts=any",
                                                "cut_short=lenient", "authors' rule, re-run", "published table"]  # fmt: skip
    assert variants[-1]["n"] == 949 and variants[0]["n"] == 331
    comparison = store.rows("SELECT files, files_acc_reproduced, repeated_lines FROM published_comparison ORDER BY ALL")
    assert all(r["files"] == r["files_acc_reproduced"] == 3 for r in comparison)
    assert sorted(r["repeated_lines"] for r in comparison) == [0] * 6 + [53, 53]
    page = build_report(store, tmp_path).metadata["path"].read_text()
    text = html.unescape(page)
    assert "Published students: the reference study's own outputs, re-scored" in page
    assert "disagrees with the study's conclusion" in text and "the study's published table (n 949" in text
    assert misaligned_tables(page) == []


def test_a_name_taken_by_a_trained_student_is_refused(tmp_path, faults):
    """A published student must not share its partition with a student TraceKD trained: their
    predictions would replace each other."""
    from datetime import datetime

    from tracekd_ops.core.lineage import Lineage

    path, _ = simple_outputs(tmp_path, ".jsonl")
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    taken = Lineage("synthetic", "correct", "tiny", "m", 0, "v1")
    store.append("registry", [{**taken.training_row(), "model_name": taken.model_name, "revision": "r1", "backend": "local", "uri": "file:///x",
                               "status": "registered", "hyperparameters": "{}", "train_summary": "{}", "created_at": datetime(2026, 1, 1)}])  # fmt: skip
    source = PublishedSource(path=str(path), layout="simple", dataset="synthetic", condition="correct", base_model="m", student="tiny")
    with pytest.raises(ValueError, match="student name 'tiny' is taken by a student TraceKD trained"):
        imported(store, source)
    assert store.rows("SELECT count(*) AS n FROM predictions")[0]["n"] == 0
    faults.held("bad_input")
