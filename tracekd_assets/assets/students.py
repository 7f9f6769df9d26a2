"""Student training (one registry revision per run) and its step-by-step evaluation."""

import json
from datetime import datetime, timezone

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from tracekd_assets.assets.data import DUCKDB_POOL, raw_examples, traces
from tracekd_assets.partitions import run_partitions, split_run_key
from tracekd_assets.resources import ExperimentSettings, TraceKDHome
from tracekd_ops.evaluation import chance_accuracy, majority_accuracy, run_metrics, score_prediction
from tracekd_ops.registry import Lineage
from tracekd_ops.scoring import SCORER_VERSION
from tracekd_ops.student import TINY_BASE_MODEL, generate_completions, train_student
from tracekd_ops.tables import latest_registered, read_records, read_traces
from tracekd_ops.traces import render_prompt

EVAL_SPLIT = "test"
METRICS_VERSION = "1"


def _lineage_keys(context: AssetExecutionContext, experiment: ExperimentSettings) -> dict[str, object]:
    dataset, condition = split_run_key(context.partition_key)
    return {"dataset": dataset, "condition": condition, "base_model": TINY_BASE_MODEL, "seed": experiment.seed}


@asset(
    partitions_def=run_partitions,
    deps=[traces],
    group_name="students",
    code_version="tiny-sft-1",
    description="A student fine-tuned (TRL SFTTrainer, completion-only loss) on one condition's traces, "
    "registered as a new revision in the model registry and the DuckDB table `registry`.",
)
def student(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings) -> MaterializeResult:
    keys = _lineage_keys(context, experiment)
    store, registry = home.store(), home.registry()
    frame = read_traces(store, str(keys["dataset"]), str(keys["condition"]))
    if frame.empty:
        raise ValueError(f"no stored traces for {keys}: materialize traces first")
    version = str(frame["trace_set_version"].iloc[0])
    lineage = Lineage(trace_set_version=version, **keys)  # type: ignore[arg-type]
    config = experiment.training()
    context.log.info(f"training {lineage.model_name} on {len(frame)} traces (trace_set_version {version})")
    with registry.staging(lineage) as staged:
        log = lambda line: context.log.info(f"[{lineage.dataset}/{lineage.condition}] {line}")  # noqa: E731
        result = train_student(list(frame["prompt"]), list(frame["completion"]), staged, config, log=log)
        summary = {
            "steps": result.steps,
            "train_seconds": round(result.train_seconds, 1),
            "final_loss": result.final_loss,
            "num_parameters": result.num_parameters,
            "train_tokens": result.train_tokens,
            "mean_completion_tokens": round(result.mean_completion_tokens, 2),
            "stopped_by_time_budget": result.stopped_by_time_budget,
            "train_examples": len(frame),
        }
        hyperparameters = config.as_dict()
        registered = registry.register(staged, lineage, hyperparameters, summary)
    store.append(
        "registry",
        [
            {
                "model_name": registered.model_name,
                "revision": registered.revision,
                **keys,
                "trace_set_version": version,
                "backend": registered.backend,
                "uri": registered.uri,
                "status": "registered",
                "hyperparameters": json.dumps(hyperparameters, sort_keys=True),
                "train_summary": json.dumps(summary, sort_keys=True),
                "created_at": registered.created_at,
            }
        ],
    )
    context.log.info(f"registered {registered.model_name}@{registered.revision}")
    return MaterializeResult(
        metadata={
            **keys,
            "trace_set_version": version,
            "model_name": registered.model_name,
            "model_revision": registered.revision,
            "registry_uri": MetadataValue.url(registered.uri),
            **{k: v for k, v in summary.items() if v is not None},
            "loss_curve": MetadataValue.md(
                "| step | loss |\n|---|---|\n" + "\n".join(f"| {s} | {l:.4f} |" for s, l in result.loss_curve)
            ),
            "hyperparameters": MetadataValue.json(hyperparameters),
        }
    )


@asset(
    partitions_def=run_partitions,
    deps=[student, raw_examples],
    group_name="evaluation",
    code_version=SCORER_VERSION,
    description="Batched greedy generations of the registered student on the test split, each parsed and "
    "scored step by step (DuckDB table `predictions`).",
)
def predictions(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings) -> MaterializeResult:
    keys = _lineage_keys(context, experiment)
    store, registry = home.store(), home.registry()
    entry = latest_registered(store, **keys)  # type: ignore[arg-type]
    model_dir = registry.resolve(entry["model_name"], entry["revision"])
    test = read_records(store, str(keys["dataset"]), EVAL_SPLIT)
    context.log.info(f"evaluating {entry['model_name']}@{entry['revision']} on {len(test)} {EVAL_SPLIT} questions")
    prompts = [render_prompt(r) for r in test]
    outputs = generate_completions(model_dir, prompts, experiment.eval_batch_size, experiment.eval_max_new_tokens)
    lineage_row = {
        **keys,
        "trace_set_version": entry["trace_set_version"],
        "model_revision": entry["revision"],
        "eval_split": EVAL_SPLIT,
        "scorer_version": SCORER_VERSION,
    }
    rows = [
        {**lineage_row, "prompt": prompt, **score_prediction(record, str(keys["condition"]), output)}
        for record, prompt, output in zip(test, prompts, outputs)
    ]
    store.replace_partition("predictions", keys, rows)
    accuracy = sum(r["answer_correct"] for r in rows) / len(rows)
    return MaterializeResult(
        metadata={
            **lineage_row,
            "rows": len(rows),
            "answer_accuracy": accuracy,
            "sample_outputs": MetadataValue.md("\n".join(f"- `{r['output']}`" for r in rows[:5])),
        }
    )


@asset(
    partitions_def=run_partitions,
    deps=[predictions],
    pool=DUCKDB_POOL,
    group_name="evaluation",
    code_version=f"{METRICS_VERSION}/{SCORER_VERSION}",
    description="Answer and step accuracies, the trace-correct x answer-correct 2x2 table, chi-square, phi and "
    "conditional answer accuracies of one student (DuckDB table `metrics`).",
)
def metrics(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings) -> MaterializeResult:
    keys = _lineage_keys(context, experiment)
    store = home.store()
    where = " AND ".join(f"{k} = ?" for k in keys)
    predicted = store.rows(f"SELECT * FROM predictions WHERE {where}", list(keys.values()))
    if not predicted:
        raise ValueError(f"no predictions stored for {keys}: materialize predictions first")
    lineage_columns = ("trace_set_version", "model_revision", "eval_split", "scorer_version")
    lineage = {column: predicted[0][column] for column in lineage_columns}
    dataset = str(keys["dataset"])
    train, test = read_records(store, dataset, "train"), read_records(store, dataset, EVAL_SPLIT)
    values = run_metrics(predicted)
    row = {
        **keys,
        **lineage,
        **values,
        "chance_accuracy": chance_accuracy(train, test),
        "majority_accuracy": majority_accuracy(train, test),
        "created_at": datetime.now(timezone.utc).replace(tzinfo=None),
    }
    store.replace_partition("metrics", keys, [row])
    return MaterializeResult(
        metadata={
            **keys,
            **lineage,
            **{k: v for k, v in row.items() if isinstance(v, (int, float)) and k not in keys},
        }
    )
