"""The code location loads, validates with Dagster's own CLI, and wires the graph as designed."""

import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey

from tracekd_assets.definitions import defs
from tracekd_ops.datasets import dataset_names

ROOT = Path(__file__).resolve().parents[2]


def test_definitions_load_with_every_stage_of_the_graph():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"raw_examples", "teacher_responses", "traces", "student", "predictions", "metrics", "condition_comparison",
            "trace_construction", "report"} <= keys  # fmt: skip
    assert graph.get(AssetKey("traces")).parent_keys == {AssetKey("raw_examples"), AssetKey("teacher_responses")}
    assert graph.get(AssetKey("student")).parent_keys == {AssetKey("traces")}
    report_inputs = {"condition_comparison", "trace_construction", "contingency_tables", "run_metrics",
                     "per_category_accuracy", "condition_deltas", "reference_comparison", "rating_comparison",
                     "rating_statistics", "rating_panels", "published_comparison", "published_rescoring", "published_examples"}  # fmt: skip
    assert graph.get(AssetKey("report")).parent_keys == {AssetKey(name) for name in report_inputs}
    # the rating study: items from the traces, then the statistics beside the models' accuracy
    assert graph.get(AssetKey("rating_items")).parent_keys == {AssetKey("traces")}
    assert graph.get(AssetKey("rating_comparison")).parent_keys == {
        AssetKey("rating_items"), AssetKey("rating_analysis"), AssetKey("condition_comparison"), AssetKey("reference_results")}


def test_sql_model_deps_are_read_off_the_sql_file():
    graph = defs.resolve_asset_graph()
    assert graph.get(AssetKey("condition_comparison")).parent_keys == {AssetKey("metrics"), AssetKey("student")}  # registry: stopped early
    # side tables map to the asset that writes them: trace_sets <- traces, registry <- student
    assert graph.get(AssetKey("trace_construction")).parent_keys == {AssetKey("traces"), AssetKey("student")}
    assert graph.get(AssetKey("reference_comparison")).parent_keys == {AssetKey("reference_results"), AssetKey("condition_comparison")}
    # published students: their side tables come from published_students, the study's counts from reference_results
    assert graph.get(AssetKey("published_rescoring")).parent_keys == {AssetKey("published_students"), AssetKey("reference_results")}
    assert graph.get(AssetKey("published_students")).partitions_def.get_partition_keys() == list(dataset_names())


def test_sql_model_tests_are_asset_checks():
    graph = defs.resolve_asset_graph()
    checks = {key.name for key in graph.get(AssetKey("condition_deltas")).check_keys}
    assert checks == {"not_null__dataset__condition__student__base_model__seed__n__mcnemar_p",
                      "unique__dataset__condition__student__base_model__seed", "accepted_range__mcnemar_p"}  # fmt: skip


def test_traces_carry_a_blocking_great_expectations_check():
    specs = [spec for spec in defs.resolve_asset_graph().get(AssetKey("traces")).check_keys]
    assert [key.name for key in specs] == ["great_expectations_suite"]
    check = next(iter(defs.resolve_assets_def(AssetKey("traces")).check_specs))
    assert check.blocking


def test_dagster_cli_validates_the_workspace(tmp_path):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_dg_checks_the_defs_folder(tmp_path):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dg"), "check", "defs"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_a_dataset_answer_rule_reaches_only_that_datasets_evaluations():
    """A rule's version is observed per dataset; predictions and metrics read it through their
    `dataset` dimension, so a changed rule stales exactly that dataset's partitions."""
    from dagster import MultiPartitionKey

    from tracekd_assets.defs.evaluation.assets import answer_rules
    from tracekd_ops.datasets import dataset_spec

    versions = answer_rules.observe_fn().data_versions_by_partition
    assert {k: v.value for k, v in versions.items()} == {d: dataset_spec(d).scorer_version for d in ("synthetic", "babi", "cotempqa", "msmarco", "hotpotqa")}
    graph = defs.resolve_asset_graph()
    for asset in ("predictions", "metrics"):
        mapping = graph.get(AssetKey(asset)).partition_mappings[AssetKey("answer_rules")]
        key = MultiPartitionKey({"dataset": "cotempqa", "condition": "correct"})
        upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
            graph.get(AssetKey(asset)).partitions_def.subset_with_partition_keys([key]), graph.get(AssetKey(asset)).partitions_def,
            graph.get(AssetKey("answer_rules")).partitions_def,
        ).partitions_subset.get_partition_keys()
        assert list(upstream) == ["cotempqa"]


def test_every_pool_an_asset_uses_is_declared_with_its_limit(tmp_path, monkeypatch):
    from tracekd_assets.defs.pools import DUCKDB_POOL, TEACHER_POOL, TRAINING_POOL, pool_limits
    from tracekd_assets.defs.resources import TraceKDHome
    from tracekd_assets.demo import default_instance

    graph = defs.resolve_asset_graph()
    used = {defs.resolve_assets_def(key).op.pool for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    assert used - {None} == {DUCKDB_POOL, TRAINING_POOL, TEACHER_POOL} == set(pool_limits())
    assert defs.resolve_assets_def(AssetKey("student")).op.pool == TRAINING_POOL
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("TRACEKD_TRAINING_SLOTS", "3")
    with default_instance(TraceKDHome(home=str(tmp_path / "home"))) as instance:
        slots = {pool: instance.event_log_storage.get_concurrency_info(pool).slot_count for pool in pool_limits()}
    assert slots == {DUCKDB_POOL: 1, TRAINING_POOL: 3, TEACHER_POOL: 1}
    monkeypatch.setenv("TRACEKD_TRAINING_SLOTS", "none")
    with pytest.raises(ValueError, match="TRACEKD_TRAINING_SLOTS must be a whole number"):
        pool_limits()


def test_the_ui_shows_kinds_and_table_schemas():
    """What Dagster can show: each asset's kinds, and the DuckDB table it writes as a column schema."""
    graph = defs.resolve_asset_graph()
    assert graph.get(AssetKey("student")).kinds == {"pytorch", "huggingface", "duckdb"}
    assert graph.get(AssetKey("condition_comparison")).kinds == {"duckdb", "sql"}
    schema = graph.get(AssetKey("student")).metadata["dagster/column_schema"]
    assert {"revision", "content_digest", "metrics"} <= {column.name for column in schema.columns}
    assert all(column.description for column in schema.columns)  # what each column holds, as DuckDB's comment says
    gpu = {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).tags.get("compute") == "gpu"}
    assert gpu == {"student", "predictions", "base_model_baseline"}  # select them with tag:compute=gpu
    raw = graph.get(AssetKey("raw_examples")).metadata
    assert raw["dagster/table_name"] == "raw_examples" and "canonical QA records" in raw["duckdb_tables"].value


def test_the_core_tables_column_lineage_names_only_columns_that_exist():
    """Declared by hand (the steps are Python, not SQL), so held to the stored schema: a renamed or
    dropped column on either side fails here, as does a table no asset writes."""
    from tracekd_assets.defs.column_lineage import CORE_COLUMN_LINEAGE, producer
    from tracekd_ops.steps.catalog import CATALOG
    from tracekd_ops.store.store import schema_columns

    columns = {table: {name for name, _, _ in declared} for table, declared in schema_columns(CATALOG).items()}
    assets = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    missing = [f"{table}.{column} <- {source_table}.{source}" for table, lineage in CORE_COLUMN_LINEAGE.items()
               for column, sources in lineage.items() for source_table, source in sources
               if column not in columns[table] or source not in columns.get(source_table, ()) or producer(source_table).to_user_string() not in assets]  # fmt: skip
    assert missing == []
    assert {producer(table).to_user_string() for table in CORE_COLUMN_LINEAGE} <= assets

