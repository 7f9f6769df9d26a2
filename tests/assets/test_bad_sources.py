"""A source that yields no questions, or no test split, fails `raw_examples` loudly and leaves the
stored partition exactly as it was; so does a source whose every record is screened out."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from dagster import instance_for_test, materialize

from tests.conftest import SHARED_DATA
from tracekd_assets.definitions import ALL_ASSETS
from tracekd_assets.defs.jobs import raw_job

BABI = SHARED_DATA / "babi" / "tasks_1-20_v1-2" / "en"


def empty_file(tmp):
    (tmp / "equal.json").write_text("")
    return "cotempqa", tmp


def blank_lines(tmp):
    (tmp / "equal.json").write_text("\n\n")
    return "cotempqa", tmp


def all_screened_out(tmp):
    (tmp / "equal.json").write_text(json.dumps({"index": 1, "question": "Who? <answer>x</answer>", "facts": ["A."], "answer": ["A"]}))
    return "cotempqa", tmp


def train_split_only(tmp):
    shutil.copy(BABI / "qa1_single-supporting-fact_train.txt", tmp)
    return "babi", tmp


@pytest.mark.parametrize(
    "make, says",
    [(empty_file, "no questions"), (blank_lines, "no questions"), (all_screened_out, "left out"), (train_split_only, "no test questions")],
)
def test_an_empty_or_unsplit_source_fails_and_changes_nothing(tmp_path, tiny_home, tiny_experiment, no_teacher, local_registry, make, says, faults):
    source = tmp_path / "source"
    source.mkdir()
    dataset, source = make(source)
    good = {"cotempqa": str(SHARED_DATA / "cotempqa"), "babi": str(BABI)}[dataset]
    with instance_for_test() as instance:
        def run(path):
            experiment = tiny_experiment.with_changes(sources={dataset: str(path)}, per_category_limit=2)
            return materialize(ALL_ASSETS, selection=raw_job.selection, partition_key=dataset, instance=instance,
                               resources={"home": tiny_home, "experiment": experiment, "teacher": no_teacher,
                                          "registry": local_registry}, raise_on_error=False)  # fmt: skip

        assert run(good).success
        before = tiny_home.store().rows("SELECT example_id, split FROM raw_examples ORDER BY ALL")
        result = run(source)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        message = str(failure.step_failure_data.error)
        assert says in message and "left as it was" in message, message
        assert tiny_home.store().rows("SELECT example_id, split FROM raw_examples ORDER BY ALL") == before
    faults.held("bad_input")


def test_a_refused_source_stops_its_condition_chains(tmp_path, tiny_home, tiny_experiment, faults):
    """When raw_examples refuses a source, nothing downstream runs on the previous source's rows in
    that invocation: no new student, no new prediction; the outcome says why."""
    from tracekd_assets.demo import materialize_everything

    good = tiny_experiment.with_changes(sources={"cotempqa": str(SHARED_DATA / "cotempqa" / "equal.json")}, per_category_limit=2)
    (tmp_path / "equal.json").write_text("")
    bad = good.with_changes(sources={"cotempqa": str(tmp_path / "equal.json")})
    logged: list[str] = []
    with instance_for_test() as instance:
        first = materialize_everything(instance, tiny_home, good, datasets=("cotempqa",), conditions=("solution_only",), log=lambda _: None)
        assert first.failed == []
        revisions = tiny_home.store().rows("SELECT revision FROM registry ORDER BY ALL")
        second = materialize_everything(instance, tiny_home, bad, datasets=("cotempqa",), conditions=("solution_only",), log=logged.append)
    assert second.failed[0] == "raw_examples[cotempqa]" and "solution_only[cotempqa]" in second.skipped
    assert any("no condition chain of cotempqa runs in this invocation" in line for line in logged)
    assert tiny_home.store().rows("SELECT revision FROM registry ORDER BY ALL") == revisions
    faults.held("bad_input")


def test_a_json_true_is_not_an_index(tmp_path, faults):
    from tracekd_ops.datasets.errors import DatasetFormatError
    from tracekd_ops.datasets.catalog import load_source

    path = tmp_path / "equal.json"
    path.write_text(json.dumps({"index": True, "question": "Who?", "facts": ["A is a member of the B in 2001."], "answer": ["B"]}) + "\n")
    with pytest.raises(DatasetFormatError, match=r"line 1 \(index\): expected int, got bool"):
        list(load_source("cotempqa", path))
    faults.held("bad_input")


def test_a_file_concatenated_with_itself_is_reported_as_repeating_every_question(tmp_path):
    """Repeats are reported, not refused (natural bAbI repeats some): the real qa1 files as they
    are, and with the training file appended to itself and to the test file."""
    from tracekd_ops.datasets import dataset_spec
    from tracekd_ops.steps.data import RawRequest, load_raw

    train, test = BABI / "qa1_single-supporting-fact_train.txt", BABI / "qa1_single-supporting-fact_test.txt"
    natural_dir, doubled_dir = tmp_path / "natural", tmp_path / "doubled"
    for folder in (natural_dir, doubled_dir):
        folder.mkdir()
        shutil.copy(train, folder)
        shutil.copy(test, folder)
    (doubled_dir / train.name).write_text(train.read_text() * 2)
    (doubled_dir / test.name).write_text(test.read_text() + train.read_text())

    def repeats(folder):
        return load_raw(dataset_spec("babi"), RawRequest(str(folder), "full")).metadata()

    natural, doubled = repeats(natural_dir), repeats(doubled_dir)
    assert natural["rows"] == 2000 and doubled["rows"] == 4000
    assert natural["repeated_questions"] < 100 and natural["test_questions_also_in_train"] < 100
    assert doubled["repeated_questions"] >= 2000 and doubled["test_questions_also_in_train"] >= 1000
    assert re.fullmatch(r"qa1_single-supporting-fact_(train|test)\.txt:\d+ repeats qa1_single-supporting-fact_(train|test)\.txt:\d+", doubled["first_repeat"])
