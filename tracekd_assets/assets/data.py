"""Raw QA examples and the traces rendered from them under each trace condition."""

from collections import Counter

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from tracekd_assets.partitions import dataset_partitions, run_partitions, split_run_key
from tracekd_assets.resources import ExperimentSettings, TraceKDHome
from tracekd_ops.conditions import build_trace_set, trace_set_version
from tracekd_ops.datasets import dataset_spec, load_source
from tracekd_ops.datasets import synthetic
from tracekd_ops.datasets.protocol import apply_protocol
from tracekd_ops.tables import read_records
from tracekd_ops.traces import TRACE_FORMAT_VERSION
from tracekd_ops.validation import validate_traces

DUCKDB_POOL = "duckdb"
"""Dagster pool (limit 1 in the instance config) for steps whose work is writing DuckDB."""
GX_CHECK = "great_expectations_suite"


@asset(
    partitions_def=dataset_partitions,
    pool=DUCKDB_POOL,
    group_name="data",
    code_version=synthetic.GENERATOR_VERSION,
    description="Canonical QA records (one per question) of a dataset, in DuckDB table `raw_examples`: "
    "generated (`synthetic`) or loaded from the path set on the `experiment` resource, with its protocol.",
)
def raw_examples(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings) -> MaterializeResult:
    dataset = context.partition_key
    spec = dataset_spec(dataset)
    if spec.load is None:
        records = synthetic.generate(experiment.synthetic())
        source = "generated"
    else:
        source = experiment.source(dataset)
        loaded = load_source(dataset, source, **experiment.loader_options(dataset))
        records = apply_protocol(loaded, experiment.protocol, experiment.seed, experiment.per_category_limit)
    context.log.info(f"{dataset}: {len(records)} records from {source} (protocol {experiment.protocol})")
    count = home.store().replace_partition("raw_examples", {"dataset": dataset}, [r.to_row() for r in records])
    by_split = Counter(r.split for r in records)
    by_category = Counter(f"{r.split}/{r.category}" for r in records)
    return MaterializeResult(
        metadata={
            "dataset": dataset,
            "source": source,
            "rows": count,
            "without_gold_fact": sum(1 for r in records if not r.gold_fact_ids),
            "rows_by_split": MetadataValue.json(dict(by_split)),
            "rows_by_split_category": MetadataValue.json(dict(sorted(by_category.items()))),
            "duckdb_table": "raw_examples",
        }
    )


@asset(
    partitions_def=run_partitions,
    deps=[raw_examples],
    pool=DUCKDB_POOL,
    group_name="data",
    code_version=TRACE_FORMAT_VERSION,
    check_specs=[AssetCheckSpec(GX_CHECK, asset="traces", blocking=True, description="Great Expectations suite of the trace condition")],
    description="Training traces of one dataset under one trace condition, validated by Great Expectations "
    "before they replace the stored partition (DuckDB table `traces`).",
)
def traces(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings) -> MaterializeResult:
    dataset, condition = split_run_key(context.partition_key)
    store = home.store()
    spec = dataset_spec(dataset)
    train = read_records(store, dataset, "train")
    if not train:
        raise ValueError(f"raw_examples has no train rows for dataset {dataset!r}: materialize raw_examples first")
    rows, skipped = build_trace_set(condition, train, list(spec.labels), experiment.seed, experiment.corruption())
    if skipped:
        context.log.warning(f"{sum(skipped.values())} questions left out of the {condition} traces: {skipped}")
    if not rows:
        raise ValueError(f"no {condition} trace could be built for {dataset}: {skipped}")
    version = trace_set_version(rows)
    frame = pd.DataFrame([{**row.to_row(), "trace_set_version": version} for row in rows])
    outcome = validate_traces(frame, condition, spec.labels)
    if outcome.success:
        store.replace_partition("traces", {"dataset": dataset, "condition": condition}, frame)
        context.log.info(f"stored {len(frame)} {condition} traces, trace_set_version {version}")
    else:
        context.log.error(f"Great Expectations suite failed, stored traces left as they were: {outcome.describe()}")
    corrupted = int((frame["class_corrupted"] | frame["facts_corrupted"]).sum())
    return MaterializeResult(
        metadata={
            "dataset": dataset,
            "condition": condition,
            "trace_set_version": version,
            "rows": len(frame),
            "stored": outcome.success,
            "corrupted_rows": corrupted,
            "left_out": MetadataValue.json(skipped),
            "corruption": MetadataValue.json({"steps": experiment.corruption_steps, "rate": experiment.corruption_rate}),
            "example": MetadataValue.md(f"```\n{rows[0].prompt}{rows[0].completion}\n```"),
        },
        check_results=[
            AssetCheckResult(
                check_name=GX_CHECK,
                passed=outcome.success,
                severity=AssetCheckSeverity.ERROR,
                metadata={
                    "expectations_evaluated": outcome.evaluated,
                    "failures": MetadataValue.json(outcome.failures),
                    "summary": outcome.describe(),
                },
            )
        ],
    )
