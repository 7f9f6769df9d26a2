"""Steps `predictions`, `metrics` and `base_model_baseline`: registered students (and untuned base
models) generate answers to the test split; every row is scored step by step; each evaluated run
gets its metrics, its three step x answer tables and its registry row's results.

One loop serves students and baselines: prompts -> generation -> scoring -> rows carrying the
run's lineage; rows replace the run's stored partition only once all of them are computed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable, Sequence

from tracekd_ops.core.lineage import EXTERNAL_TRACE_SET, Lineage
from tracekd_ops.core.metadata import Markdown
from tracekd_ops.core.records import QARecord
from tracekd_ops.datasets import DatasetSpec
from tracekd_ops.datasets.tables import dataset_version, read_records
from tracekd_ops.evaluate.generate import generate_completions
from tracekd_ops.evaluate.metrics import (
    BASELINE_CONDITION,
    BASELINE_INSTRUCTION,
    EVAL_SPLIT,
    chance_accuracy,
    majority_accuracy,
    run_metrics,
    score_baseline,
    score_prediction,
    step_tables,
)
from tracekd_ops.evaluate.tables import read_predictions
from tracekd_ops.registry.base import Registry
from tracekd_ops.registry.index import RegistryEntry, RegistryIndex
from tracekd_ops.steps.outcome import StepOutcome
from tracekd_ops.store.store import Store
from tracekd_ops.train.experiment import ExperimentFile
from tracekd_ops.traces.conditions import Condition
from tracekd_ops.traces.render import SENTENCES, render_prompt, render_steps
from tracekd_ops.traces.tables import trace_set_style

Log = Callable[[str], None]
CARD_RESULTS = ("answer_accuracy", "class_accuracy", "ir_exact_accuracy", "trace_accuracy")
UNTUNED_STUDENT, UNTUNED_REVISION = "untuned", "untuned"


def test_records(store: Store, dataset: str) -> list[QARecord]:
    """The stored evaluation split; an error before anything is generated or replaced when empty."""
    test = read_records(store, dataset, EVAL_SPLIT)
    if not test:
        raise ValueError(f"raw_examples has no {EVAL_SPLIT} rows for dataset {dataset!r}: nothing to evaluate on")
    return test


def scored_rows(
    lineage: Lineage, records: Sequence[QARecord], prompts: Sequence[str], outputs: Sequence[str],
    score: Callable[[QARecord, str], dict[str, Any]],
) -> list[dict[str, Any]]:  # fmt: skip
    row = lineage.row()
    return [{**row, "prompt": prompt, **score(record, output)} for record, prompt, output in zip(records, prompts, outputs)]


def students_to_evaluate(index: RegistryIndex, dataset: str, condition: str, pinned: str | None) -> list[RegistryEntry]:
    """Exactly the revision a run is pinned to (the new-revision sensor), else the newest
    registered revision of every student of this trace set."""
    if pinned:
        entry = index.get(pinned)
        if (entry.lineage.dataset, entry.lineage.condition) != (dataset, condition) or entry.status != "registered":
            raise ValueError(f"revision {pinned} is not a registered student of {dataset}/{condition}")
        return [entry]
    entries = index.newest(dataset, condition)
    if not entries:
        raise LookupError(f"no registered student for {dataset}/{condition}: materialize student first")
    return entries


def evaluate_students(
    store: Store, registry: Registry, spec: DatasetSpec, condition: Condition, pinned: str | None, batch_size: int,
    max_new_tokens: int, log: Log,
) -> StepOutcome:  # fmt: skip
    """Generate and score the answers of the students to evaluate (`students_to_evaluate`); each
    run's predictions replace its stored ones, and its now stale metrics are removed."""
    dataset, name = spec.name, condition.name
    test = test_records(store, dataset)
    prompts = [render_prompt(r) for r in test]
    source, content = dataset_version(store, dataset)
    evaluated: list[dict[str, Any]] = []
    outputs: list[str] = []
    for entry in students_to_evaluate(RegistryIndex(store), dataset, name, pinned):
        lineage = entry.lineage.evaluated(entry.revision, EVAL_SPLIT, spec.scorer_version, source, content)
        model_dir = registry.resolve(lineage, entry.content_digest)
        log(f"evaluating {entry.model_name}@{entry.revision} on {len(test)} {EVAL_SPLIT} questions")
        outputs = generate_completions(model_dir, prompts, batch_size, max_new_tokens, log=log)
        rows = scored_rows(lineage, test, prompts, outputs, partial(score_prediction, spec, condition.writes_steps))
        keys = lineage.run_keys()  # the run's metrics described the predictions replaced here: they go with them
        store.replace_partitions([("predictions", keys, rows), ("metrics", keys, []), ("contingency", keys, [])])
        accuracy = sum(r["answer_correct"] for r in rows) / len(rows)
        evaluated.append({**lineage.row(), "rows": len(rows), "answer_accuracy": accuracy})
        log(f"{entry.model_name}@{entry.revision}: answer accuracy {accuracy:.3f}")
    metadata = {
        "dataset": dataset,
        "condition": name,
        "evaluated": evaluated,
        "model_revisions": ",".join(e["model_revision"] for e in evaluated),
        "scorer_version": spec.scorer_version,
        "sample_outputs": Markdown("\n".join(f"- `{o}`" for o in outputs[:5])),
    }
    return StepOutcome(metadata=metadata, tables=("predictions",))


def reference_accuracies(store: Store, spec: DatasetSpec, test: Sequence[QARecord] | None = None) -> dict[str, float | None]:
    """Chance and majority accuracy on the test questions (the stored evaluation split unless
    given), from the stored training answers; None for both when no training split is stored."""
    train = read_records(store, spec.name, "train")
    test = list(test) if test is not None else test_records(store, spec.name)
    if not train:
        return {"chance_accuracy": None, "majority_accuracy": None}
    return {"chance_accuracy": chance_accuracy(train, test), "majority_accuracy": majority_accuracy(spec, train, test)}


def run_result(
    rows: list[dict[str, Any]], gold_traces: list[str], baselines: dict[str, float | None]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The metrics row and the three step x answer table rows of one evaluated run; `gold_traces`
    are the gold steps written as its students were taught to write them (one per row)."""
    lineage = Lineage.from_row(rows[0]).row()
    metrics_row = {**lineage, **run_metrics(rows, gold_traces), **baselines, "created_at": datetime.now(timezone.utc).replace(tzinfo=None)}
    tables = [{**lineage, "step": step, "n": t.n, **t.summary()} for step, t in step_tables(rows).items()]
    return metrics_row, tables


def compute_metrics(store: Store, registry: Registry, spec: DatasetSpec, condition: Condition, log: Log, warn: Log) -> StepOutcome:
    """Each evaluated run's metrics and step x answer tables, replacing its stored ones, also put
    on its registry row and (best effort) its model card."""
    dataset, name = spec.name, condition.name
    # published outputs are left out: their metrics are computed on import, in their own trace format
    predicted = read_predictions(store, dataset, name, EXTERNAL_TRACE_SET)
    if not predicted:
        raise ValueError(f"no predictions of a TraceKD student stored for {dataset}/{name}: materialize predictions first")
    baselines = reference_accuracies(store, spec)
    style = trace_set_style(store, dataset, name) or SENTENCES  # generated traces are compared with gold in it
    runs: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in predicted:
        runs.setdefault(tuple(Lineage.from_row(row).run_keys().values()), []).append(row)
    index = RegistryIndex(store)
    computed = []
    for rows in runs.values():
        gold = [render_steps(r["gold_class"], r["gold_fact_ids"], style) for r in rows]
        row, tables = run_result(rows, gold, baselines)
        keys = Lineage.from_row(row).run_keys()
        store.replace_partitions([("metrics", keys, [row]), ("contingency", keys, tables)])
        index.attach_metrics(row["model_revision"], {k: v for k, v in row.items() if isinstance(v, float) and k not in baselines})
        _publish_eval_results(index, registry, row, log, warn)
        computed.append(row)
    metadata = {
        "dataset": dataset,
        "condition": name,
        "students": len(computed),
        "answer_accuracy_mean": sum(r["answer_accuracy"] for r in computed) / len(computed),
        "rows": [{k: v for k, v in r.items() if not isinstance(v, datetime)} for r in computed],
        "model_revisions": ",".join(r["model_revision"] for r in computed),
        "scorer_version": spec.scorer_version,
    }
    return StepOutcome(metadata=metadata, tables=("metrics", "contingency"), rows=len(computed))


def _publish_eval_results(index: RegistryIndex, registry: Registry, row: dict[str, Any], log: Log, warn: Log) -> None:
    """Put the student's results on its model card where the registry shows cards (the Hub).
    Best effort: the numbers are in DuckDB already, so a failed card update only warns."""
    try:
        entry = index.get(row["model_revision"])
    except LookupError:
        return
    results = {k: row[k] for k in CARD_RESULTS if row.get(k) is not None}
    inputs = {"hyperparameters": entry.hyperparameters, "summary": entry.train_summary}
    try:
        commit = registry.publish_eval_results(entry.lineage, inputs, results)
    except Exception as error:  # noqa: BLE001 - the card is a convenience copy of stored results
        warn(f"could not put the evaluation results on the model card of {entry.model_name}: {error}")
        return
    if commit:
        log(f"model card of {entry.model_name} updated with its evaluation results (commit {commit})")


def evaluate_base_models(
    store: Store, spec: DatasetSpec, experiment: ExperimentFile, batch_size: int, max_new_tokens: int, log: Log
) -> StepOutcome:
    """Each pretrained base model of the experiment file, untuned, as its own baseline run. Its rows
    come from no registered student, so the predictions' declared column lineage is not shown."""
    dataset = spec.name
    bases = sorted({s.base_model for s in experiment.students if not s.from_config}) if experiment.evaluate_base_models else []
    if not bases:
        return StepOutcome(metadata={"dataset": dataset, "base_models": 0},
                           messages=(("info", "no pretrained base model in the experiment file: no untuned baseline to evaluate"),))  # fmt: skip
    test = test_records(store, dataset)
    prompts = [BASELINE_INSTRUCTION + render_prompt(r) for r in test]
    scorer = spec.scorer_version
    source, content = dataset_version(store, dataset)
    baselines = reference_accuracies(store, spec)
    results = []
    for base in bases:
        log(f"evaluating the untuned base model {base} on {len(test)} {EVAL_SPLIT} questions")
        outputs = generate_completions(base, prompts, batch_size, max_new_tokens, log=log)
        lineage = Lineage(dataset, BASELINE_CONDITION, UNTUNED_STUDENT, base, 0, "none").evaluated(
            UNTUNED_REVISION, EVAL_SPLIT, scorer, source, content
        )
        rows = scored_rows(lineage, test, prompts, outputs, partial(score_baseline, spec))
        row, tables = run_result(rows, [render_steps(r.category, r.gold_fact_ids, SENTENCES) for r in test], baselines)
        keys = lineage.run_keys()
        store.replace_partitions([("predictions", keys, rows), ("metrics", keys, [row]), ("contingency", keys, tables)])
        results.append({"base_model": base, "answer_accuracy": row["answer_accuracy"]})
    return StepOutcome(metadata={"dataset": dataset, "base_models": len(bases), "results": results})

