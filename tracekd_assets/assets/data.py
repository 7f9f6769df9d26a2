"""Raw QA examples, the teacher's replies about them, and the traces rendered under each trace condition."""

from collections import Counter

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
from tracekd_assets.resources import NO_TEACHER, ExperimentSettings, TeacherSettings, TraceKDHome
from tracekd_ops.conditions import FAMILIES, TEACHER_CONDITIONS
from tracekd_ops.datasets import dataset_spec, load_source
from tracekd_ops.datasets import synthetic
from tracekd_ops.datasets.protocol import apply_protocol
from tracekd_ops.tables import read_records
from tracekd_ops.teacher import PROMPT_VERSION, TeacherCache, TeacherClient, collect, public_url, teacher_texts
from tracekd_ops.trace_sets import build as build_trace_set
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
    partitions_def=dataset_partitions,
    deps=[raw_examples],
    group_name="teacher",
    output_required=False,
    code_version=PROMPT_VERSION,
    description="The teacher model's answers to a dataset's training questions, and for the ones it got right "
    "a summary and a post-hoc explanation, from an OpenAI-compatible endpoint (the `teacher` resource). Every "
    "request is cached in DuckDB table `teacher_requests`: re-materializing asks only what is missing or failed. "
    "Not in the `duckdb` pool: its work is HTTP, and its writes are short transactions under the store's lock. "
    "Skipped when no teacher is configured.",
)
def teacher_responses(context: AssetExecutionContext, home: TraceKDHome, teacher: TeacherSettings):
    dataset = context.partition_key
    if not teacher.configured:
        context.log.warning(f"teacher_responses[{dataset}] skipped: {NO_TEACHER}")
        return
    store = home.store()
    train = read_records(store, dataset, "train")
    if not train:
        raise ValueError(f"raw_examples has no train rows for dataset {dataset!r}: materialize raw_examples first")
    config = teacher.config()
    context.log.info(f"asking {config.model} at {public_url(config.base_url)} about {len(train)} {dataset} questions")
    client = TeacherClient(config)
    try:
        outcome = collect(train, client, TeacherCache(store), log=context.log.info)
    finally:
        client.close()
    if outcome.answers.wanted and outcome.answers.failed == outcome.answers.sent == outcome.answers.wanted:
        raise RuntimeError(
            f"every one of the {outcome.answers.wanted} teacher requests failed ({outcome.answers.errors}); they are "
            f"stored as failed rows in teacher_requests and will be retried by the next materialization"
        )
    yield MaterializeResult(
        metadata={
            "dataset": dataset,
            "teacher_model": str(config.model),
            "endpoint": str(public_url(config.base_url)),
            "kept_rate": outcome.kept_rate,
            "answers_correct": outcome.answers_correct,
            "questions": outcome.questions,
            "requests": MetadataValue.json(outcome.as_dict()),
            "duckdb_table": "teacher_requests",
        }
    )


@asset(
    partitions_def=run_partitions,
    deps=[raw_examples, teacher_responses],
    pool=DUCKDB_POOL,
    group_name="data",
    code_version=TRACE_FORMAT_VERSION,
    output_required=False,
    check_specs=[AssetCheckSpec(GX_CHECK, asset="traces", blocking=True, description="Great Expectations suite of the trace condition's family")],
    description="Training traces of one dataset under one trace condition, validated by Great Expectations "
    "before they replace the stored partition (DuckDB tables `traces` and `trace_sets`). Teacher conditions "
    "are built from the cached `teacher_responses` (no request is sent here) and skipped without a teacher.",
)
def traces(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings, teacher: TeacherSettings):
    dataset, condition = split_run_key(context.partition_key)
    if condition in TEACHER_CONDITIONS and not teacher.configured:
        context.log.warning(f"traces[{dataset}|{condition}] skipped: {NO_TEACHER}")
        yield AssetCheckResult(
            check_name=GX_CHECK, passed=False, severity=AssetCheckSeverity.WARN, metadata={"skipped": NO_TEACHER}
        )
        return
    store = home.store()
    spec = dataset_spec(dataset)
    train = read_records(store, dataset, "train")
    if not train:
        raise ValueError(f"raw_examples has no train rows for dataset {dataset!r}: materialize raw_examples first")
    texts, model = None, None
    if condition in TEACHER_CONDITIONS:
        config = teacher.config()
        texts, model = teacher_texts(condition, train, config, TeacherCache(store)), config.model
        if not texts:
            raise ValueError(f"the teacher ({model}) has not been asked about {dataset}: materialize teacher_responses[{dataset}] first")
    trace_set = build_trace_set(dataset, condition, train, spec.labels, experiment.trace_options(), texts, model)
    if trace_set.left_out:
        context.log.warning(f"{sum(trace_set.left_out.values())} questions left out of the {condition} traces: {trace_set.left_out}")
    if not trace_set.rows:
        raise ValueError(f"no {condition} trace could be built for {dataset}: {trace_set.left_out}")
    frame, summary = trace_set.frame(), trace_set.summary_row()
    outcome = validate_traces(frame, condition, spec.labels)
    keys = {"dataset": dataset, "condition": condition}
    if outcome.success:
        store.replace_partitions([("traces", keys, frame), ("trace_sets", keys, [summary])])
        context.log.info(f"stored {len(frame)} {condition} traces, trace_set_version {trace_set.version}")
    else:
        context.log.error(f"Great Expectations suite failed, stored traces left as they were: {outcome.describe()}")
    example = trace_set.rows[0]
    yield MaterializeResult(
        metadata={
            **keys,
            "trace_set_version": trace_set.version,
            "rows": len(frame),
            "stored": outcome.success,
            "style": trace_set.options.style,
            "corrupted_rows": summary["corrupted_rows"],
            "mean_trace_words": summary["mean_trace_words"] or 0.0,
            "left_out": MetadataValue.json(trace_set.left_out),
            "settings": MetadataValue.json(trace_set.settings()),
            **({"teacher": MetadataValue.json(trace_set.teacher)} if trace_set.teacher else {}),
            "example": MetadataValue.md(f"```\n{example.prompt}{example.completion}\n```"),
        },
        check_results=[
            AssetCheckResult(
                check_name=GX_CHECK,
                passed=outcome.success,
                severity=AssetCheckSeverity.ERROR,
                metadata={
                    "family": FAMILIES[condition],
                    "expectations_evaluated": outcome.evaluated,
                    "failures": MetadataValue.json(outcome.failures),
                    "summary": outcome.describe(),
                },
            )
        ],
    )
