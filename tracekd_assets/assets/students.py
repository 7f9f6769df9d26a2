"""Students (one registry revision per base model x seed x training run), their step-by-step
evaluation, and the metrics of each."""

import json
from datetime import datetime, timezone
from typing import Any

from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue, asset

from tracekd_assets.assets.data import DUCKDB_POOL, raw_examples, traces
from tracekd_assets.partitions import dataset_partitions, run_partitions, split_run_key
from tracekd_assets.resources import ExperimentSettings, RegistrySettings, TraceKDHome
from tracekd_ops.evaluation import (
    BASELINE_CONDITION,
    BASELINE_INSTRUCTION,
    chance_accuracy,
    majority_accuracy,
    run_metrics,
    score_baseline,
    score_prediction,
    step_tables,
)
from tracekd_ops.registry import PENDING, Lineage, Registered, Registry
from tracekd_ops.scoring import SCORER_VERSION
from tracekd_ops.store import Store
from tracekd_ops.student import generate_completions, train_student
from tracekd_ops.tables import read_records, read_traces, registered_students, registry_row
from tracekd_ops.traces import SENTENCES, render_prompt, render_steps

EVAL_SPLIT = "test"
METRICS_VERSION = "2"
STUDENT_VERSION = "sft-2"
REVISION_TAG = "tracekd/model_revision"
"""Run tag that pins evaluation to one registry revision (set by the new-revision sensor)."""


def _registry_row(registered: Registered, lineage: Lineage, student: str, fingerprint: str, hyperparameters: dict[str, Any],
                  summary: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "model_name": registered.model_name,
        "revision": registered.revision,
        "dataset": lineage.dataset,
        "condition": lineage.condition,
        "base_model": lineage.base_model,
        "seed": lineage.seed,
        "trace_set_version": lineage.trace_set_version,
        "backend": registered.backend,
        "uri": registered.uri,
        "status": registered.status,
        "hyperparameters": json.dumps(hyperparameters, sort_keys=True, default=str),
        "train_summary": json.dumps(summary, sort_keys=True),
        "created_at": registered.created_at,
        "student": student,
        "local_revision": registered.local_revision or registered.revision,
        "config_fingerprint": fingerprint,
        "error": registered.error,
        "registered_at": None if registered.status == PENDING else datetime.now(timezone.utc).replace(tzinfo=None),
    }


def _complete_pending(store: Store, registry: Registry, lineage: Lineage, fingerprint: str, log: Any) -> Registered | None:
    """Finish the push of an earlier run of this very training whose upload failed; None if none."""
    rows = store.rows(
        """SELECT * FROM registry WHERE status = 'pending' AND model_name = ? AND trace_set_version = ?
           AND config_fingerprint = ? ORDER BY created_at DESC LIMIT 1""",
        [lineage.model_name, lineage.trace_set_version, fingerprint],
    )
    if not rows:
        return None
    row = rows[0]
    log(f"{lineage.model_name}: completing the push of pending revision {row['local_revision']} (no retraining)")
    done = registry.complete(
        Registered(row["model_name"], row["revision"], row["backend"], row["uri"], row["created_at"], PENDING, row["local_revision"])
    )
    registered_at = None if done.status == PENDING else datetime.now(timezone.utc).replace(tzinfo=None)
    store.execute(
        """UPDATE registry SET revision = ?, uri = ?, status = ?, error = ?, registered_at = ?
           WHERE model_name = ? AND local_revision = ?""",
        [done.revision, done.uri, done.status, done.error, registered_at, done.model_name, row["local_revision"]],
    )
    return done


@asset(
    partitions_def=run_partitions,
    deps=[traces],
    group_name="students",
    code_version=STUDENT_VERSION,
    description="Students fine-tuned (TRL SFTTrainer, completion-only loss; full, LoRA or QLoRA) on one condition's "
    "traces: every student of the experiment file on every seed, each registered as a new revision (local "
    "registry or the Hugging Face Hub) and listed in the DuckDB table `registry`. A killed training resumes "
    "from its last checkpoint; a failed push is completed by the next materialization.",
)
def student(
    context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings, registry: RegistrySettings
) -> MaterializeResult:
    dataset, condition = split_run_key(context.partition_key)
    store, backend = home.store(), registry.build(home)
    frame = read_traces(store, dataset, condition)
    if frame.empty:
        raise ValueError(f"no stored traces for {dataset}/{condition}: materialize traces first")
    version = str(frame["trace_set_version"].iloc[0])
    plan = experiment.experiment()
    defaults = experiment.training()
    outcomes: list[dict[str, Any]] = []
    curves: dict[str, list[tuple[int, float]]] = {}
    for spec in plan.students:
        for seed in spec.seeds:
            config = spec.training_config(seed, defaults)
            fingerprint = config.fingerprint()
            lineage = Lineage(dataset, condition, config.base_model, seed, version)
            log = lambda line, name=lineage.model_name: context.log.info(f"[{name}] {line}")  # noqa: E731
            completed = _complete_pending(store, backend, lineage, fingerprint, log)
            if completed is not None and completed.status != PENDING:
                outcomes.append({"model_name": completed.model_name, "revision": completed.revision, "status": completed.status,
                                 "seed": seed, "completed_pending_push": True})  # fmt: skip
                continue
            work = backend.work_dir(lineage, fingerprint)
            log(f"training ({config.mode}) on {len(frame)} traces, trace_set_version {version}, settings {fingerprint}")
            result = train_student(list(frame["prompt"]), list(frame["completion"]), work, config, log=log)
            summary = {
                "steps": result.steps,
                "train_seconds": round(result.train_seconds, 1),
                "final_loss": result.final_loss,
                "num_parameters": result.num_parameters,
                "trainable_parameters": result.trainable_parameters,
                "train_tokens": result.train_tokens,
                "tokens_per_second": round(result.train_tokens / result.train_seconds, 1) if result.train_seconds else None,
                "mean_completion_tokens": round(result.mean_completion_tokens, 2),
                "stopped_by_time_budget": result.stopped_by_time_budget,
                "resumed_from_step": result.resumed_from_step,
                "mode": result.mode,
                "train_examples": len(frame),
            }
            hyperparameters = config.as_dict()
            registered = backend.register(work, lineage, hyperparameters, summary)
            store.append("registry", [_registry_row(registered, lineage, spec.name, fingerprint, hyperparameters, summary)])
            if registered.status == PENDING:
                context.log.error(f"[{lineage.model_name}] push failed, checkpoint kept on disk as pending: {registered.error}")
            else:
                log(f"registered {registered.model_name}@{registered.revision} ({registered.backend})")
            outcomes.append({"model_name": registered.model_name, "revision": registered.revision, "status": registered.status,
                             "seed": seed, **summary})  # fmt: skip
            curves[f"{spec.name}/seed{seed}"] = result.loss_curve
    pending = [o for o in outcomes if o["status"] == PENDING]
    metadata = {
        "dataset": dataset,
        "condition": condition,
        "trace_set_version": version,
        "students": MetadataValue.json(outcomes),
        "experiment": MetadataValue.json(plan.model_dump()),
        "loss_curves": MetadataValue.md(_loss_table(curves)),
        "registry_backend": backend.backend,
    }
    if pending:
        raise Failure(
            f"{len(pending)} of {len(outcomes)} students could not be pushed to the registry; their checkpoints are kept "
            "and marked pending in the `registry` table; materialize this partition again to complete the push",
            metadata=metadata,
        )
    return MaterializeResult(metadata=metadata)


def _loss_table(curves: dict[str, list[tuple[int, float]]]) -> str:
    steps = sorted({s for curve in curves.values() for s, _ in curve})
    if not steps:
        return "(no loss logged)"
    names = sorted(curves)
    by_name = {name: dict(curve) for name, curve in curves.items()}
    header = "| step | " + " | ".join(names) + " |\n|---|" + "---|" * len(names)
    rows = [f"| {s} | " + " | ".join(f"{by_name[n][s]:.4f}" if s in by_name[n] else "" for n in names) + " |" for s in steps]
    return "\n".join([header, *rows])


def _students_to_evaluate(context: AssetExecutionContext, store: Store, dataset: str, condition: str) -> list[dict[str, Any]]:
    """Exactly the revision a run is pinned to (the new-revision sensor), else the newest
    registered revision of every student of this trace set."""
    pinned = context.run.tags.get(REVISION_TAG)
    if pinned:
        row = registry_row(store, pinned)
        if (row["dataset"], row["condition"]) != (dataset, condition) or row["status"] != "registered":
            raise ValueError(f"revision {pinned} is not a registered student of {dataset}/{condition}")
        return [row]
    rows = registered_students(store, dataset, condition)
    if not rows:
        raise LookupError(f"no registered student for {dataset}/{condition}: materialize student first")
    return rows


@asset(
    partitions_def=run_partitions,
    deps=[student, raw_examples],
    group_name="evaluation",
    code_version=SCORER_VERSION,
    description="Batched greedy generations of each registered student (the registered revision, downloaded from "
    "the Hub when that is the backend) on the test split, each parsed and scored step by step (DuckDB table "
    "`predictions`).",
)
def predictions(
    context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings, registry: RegistrySettings
) -> MaterializeResult:
    dataset, condition = split_run_key(context.partition_key)
    store, backend = home.store(), registry.build(home)
    test = read_records(store, dataset, EVAL_SPLIT)
    prompts = [render_prompt(r) for r in test]
    evaluated = []
    for entry in _students_to_evaluate(context, store, dataset, condition):
        lineage = Lineage(dataset, condition, entry["base_model"], entry["seed"], entry["trace_set_version"])
        model_dir = backend.resolve(entry["model_name"], entry["revision"], lineage=lineage)
        context.log.info(f"evaluating {entry['model_name']}@{entry['revision']} on {len(test)} {EVAL_SPLIT} questions")
        outputs = generate_completions(model_dir, prompts, experiment.eval_batch_size, experiment.eval_max_new_tokens)
        keys = {"dataset": dataset, "condition": condition, "base_model": entry["base_model"], "seed": entry["seed"]}
        lineage_row = {**keys, "trace_set_version": entry["trace_set_version"], "model_revision": entry["revision"],
                       "eval_split": EVAL_SPLIT, "scorer_version": SCORER_VERSION}  # fmt: skip
        rows = [
            {**lineage_row, "prompt": prompt, **score_prediction(record, condition, output)}
            for record, prompt, output in zip(test, prompts, outputs)
        ]
        store.replace_partition("predictions", keys, rows)
        accuracy = sum(r["answer_correct"] for r in rows) / len(rows)
        evaluated.append({**lineage_row, "rows": len(rows), "answer_accuracy": accuracy})
        context.log.info(f"{entry['model_name']}@{entry['revision']}: answer accuracy {accuracy:.3f}")
    return MaterializeResult(
        metadata={
            "dataset": dataset,
            "condition": condition,
            "evaluated": MetadataValue.json(evaluated),
            "model_revisions": ",".join(e["model_revision"] for e in evaluated),
            "scorer_version": SCORER_VERSION,
            "sample_outputs": MetadataValue.md("\n".join(f"- `{o}`" for o in outputs[:5])) if evaluated else "",
        }
    )


@asset(
    partitions_def=run_partitions,
    deps=[predictions],
    pool=DUCKDB_POOL,
    group_name="evaluation",
    code_version=f"{METRICS_VERSION}/{SCORER_VERSION}",
    description="Answer and step accuracies, the trace-correct x answer-correct 2x2 table, chi-square, phi and "
    "conditional answer accuracies of each evaluated student (DuckDB table `metrics`; also on its `registry` row).",
)
def metrics(context: AssetExecutionContext, home: TraceKDHome, registry: RegistrySettings) -> MaterializeResult:
    dataset, condition = split_run_key(context.partition_key)
    store, backend = home.store(), registry.build(home)
    predicted = store.rows(
        "SELECT * FROM predictions WHERE dataset = ? AND condition = ? ORDER BY base_model, seed", [dataset, condition]
    )
    if not predicted:
        raise ValueError(f"no predictions stored for {dataset}/{condition}: materialize predictions first")
    baselines = _reference_accuracies(store, dataset)
    style = _training_style(store, dataset, condition)
    by_student: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in predicted:
        by_student.setdefault((row["base_model"], row["seed"]), []).append(row)
    written = []
    for (base_model, seed), rows in by_student.items():
        keys = {"dataset": dataset, "condition": condition, "base_model": base_model, "seed": seed}
        row, tables = _evaluate_run(rows, keys, style, baselines)
        store.replace_partitions([("metrics", keys, [row]), ("contingency", keys, tables)])
        summary = {k: v for k, v in row.items() if isinstance(v, float) and k not in baselines}
        store.execute("UPDATE registry SET metrics = ? WHERE revision = ?", [json.dumps(summary, sort_keys=True), row["model_revision"]])
        _publish_eval_results(context, store, backend, row)
        written.append(row)
    return MaterializeResult(
        metadata={
            "dataset": dataset,
            "condition": condition,
            "students": len(written),
            "answer_accuracy_mean": sum(r["answer_accuracy"] for r in written) / len(written),
            "rows": MetadataValue.json(
                [{k: v for k, v in r.items() if k != "created_at" and not isinstance(v, datetime)} for r in written]
            ),
            "model_revisions": ",".join(r["model_revision"] for r in written),
            "scorer_version": SCORER_VERSION,
        }
    )


LINEAGE_FIELDS = ("trace_set_version", "model_revision", "eval_split", "scorer_version")
CARD_RESULTS = ("answer_accuracy", "class_accuracy", "ir_exact_accuracy", "trace_accuracy")


def _publish_eval_results(context: AssetExecutionContext, store: Store, backend: Registry, row: dict[str, Any]) -> None:
    """Put the student's results on its model card where the registry shows cards (the Hub).
    Best effort: the numbers are in DuckDB already, so a failed card update only warns."""
    entries = store.rows("SELECT * FROM registry WHERE revision = ?", [row["model_revision"]])
    if not entries:
        return
    entry = entries[0]
    lineage = Lineage(entry["dataset"], entry["condition"], entry["base_model"], entry["seed"], entry["trace_set_version"])
    results = {k: row[k] for k in CARD_RESULTS if row.get(k) is not None}
    inputs = {"hyperparameters": json.loads(entry["hyperparameters"]), "summary": json.loads(entry["train_summary"])}
    try:
        commit = backend.publish_eval_results(lineage, inputs, results)
    except Exception as error:  # noqa: BLE001 - the card is a convenience copy of stored results
        context.log.warning(f"could not put the evaluation results on the model card of {lineage.model_name}: {error}")
        return
    if commit:
        context.log.info(f"model card of {lineage.model_name} updated with its evaluation results (commit {commit})")


def _training_style(store: Store, dataset: str, condition: str) -> str:
    """The style the trace set was written in: generated traces are compared with gold in it."""
    rows = store.rows("SELECT style FROM trace_sets WHERE dataset = ? AND condition = ?", [dataset, condition])
    return rows[0]["style"] if rows else SENTENCES


def _evaluate_run(
    rows: list[dict[str, Any]], keys: dict[str, Any], style: str, baselines: dict[str, float]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The metrics row and the three step x answer table rows of one evaluated student."""
    lineage = {**keys, **{column: rows[0][column] for column in LINEAGE_FIELDS}}
    gold = [render_steps(r["gold_class"], r["gold_fact_ids"], style) for r in rows]
    metrics_row = {
        **lineage,
        **run_metrics(rows, gold),
        **baselines,
        "created_at": datetime.now(timezone.utc).replace(tzinfo=None),
    }
    tables = [{**lineage, "step": step, "n": t.n, **t.summary()} for step, t in step_tables(rows).items()]
    return metrics_row, tables


def _reference_accuracies(store: Store, dataset: str) -> dict[str, float]:
    train, test = read_records(store, dataset, "train"), read_records(store, dataset, EVAL_SPLIT)
    return {"chance_accuracy": chance_accuracy(train, test), "majority_accuracy": majority_accuracy(train, test)}


@asset(
    partitions_def=dataset_partitions,
    deps=[raw_examples],
    group_name="evaluation",
    code_version=f"{METRICS_VERSION}/{SCORER_VERSION}",
    description=f"Each pretrained base model of the experiment file, untuned, on the test split: its own baseline row "
    f"(condition `{BASELINE_CONDITION}`) in `predictions` and `metrics`. The from-config tiny student has no "
    "pretrained weights, so it has no such row.",
)
def base_model_baseline(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings) -> MaterializeResult:
    dataset = context.partition_key
    plan = experiment.experiment()
    bases = sorted({s.base_model for s in plan.students if not s.from_config}) if plan.evaluate_base_models else []
    if not bases:
        context.log.info("no pretrained base model in the experiment file: no untuned baseline to evaluate")
        return MaterializeResult(metadata={"dataset": dataset, "base_models": 0})
    store = home.store()
    test = read_records(store, dataset, EVAL_SPLIT)
    prompts = [BASELINE_INSTRUCTION + render_prompt(r) for r in test]
    results = []
    for base in bases:
        context.log.info(f"evaluating the untuned base model {base} on {len(test)} {EVAL_SPLIT} questions")
        outputs = generate_completions(base, prompts, experiment.eval_batch_size, experiment.eval_max_new_tokens)
        keys = {"dataset": dataset, "condition": BASELINE_CONDITION, "base_model": base, "seed": 0}
        lineage_row = {**keys, "trace_set_version": "none", "model_revision": "untuned", "eval_split": EVAL_SPLIT,
                       "scorer_version": SCORER_VERSION}  # fmt: skip
        rows = [{**lineage_row, "prompt": p, **score_baseline(r, o)} for r, p, o in zip(test, prompts, outputs)]
        row, tables = _evaluate_run(rows, keys, SENTENCES, _reference_accuracies(store, dataset))
        store.replace_partitions([("predictions", keys, rows), ("metrics", keys, [row]), ("contingency", keys, tables)])
        results.append({"base_model": base, "answer_accuracy": row["answer_accuracy"]})
    return MaterializeResult(metadata={"dataset": dataset, "base_models": len(bases), "results": MetadataValue.json(results)})
