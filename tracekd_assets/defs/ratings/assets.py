"""The rating study: item sets sampled from the trace sets, the simulated panel's ratings, and the
Likert statistics of every panel. Real ratings arrive through the rating page
(`tracekd ratings serve`) or an import (`tracekd ratings import`), straight into DuckDB."""

from dagster import AssetExecutionContext, Config, asset
from pydantic import Field

from tracekd_assets.defs.metadata import Materialized, materialized, table_metadata
from tracekd_assets.defs.pools import DUCKDB_POOL
from tracekd_assets.defs.resources import TraceKDHome
from tracekd_ops.ratings.study import ITEMS_VERSION
from tracekd_ops.steps.ratings import analyse_item_sets, build_item_sets, simulate_panels


class RatingItemsConfig(Config):
    per_condition: int = Field(default=4, ge=1, le=1000, description="Items per trace condition (the same questions in every condition where they share them).")
    attention_checks: int = Field(default=2, ge=0, le=100, description="Attention-check items spread through each session.")
    seed: int = Field(default=0, ge=0, description="Seeds which questions are sampled.")


class SimulatedPanelConfig(Config):
    raters: int = Field(default=24, ge=1, le=10_000, description="Synthetic raters (10% of them inattentive).")
    seed: int = Field(default=0, ge=0)


@asset(
    deps=["traces"],
    pool=DUCKDB_POOL,
    group_name="ratings",
    kinds={"duckdb"},
    metadata=table_metadata("rating_items", "rating_item_sets"),
    code_version=ITEMS_VERSION,
    description="Rating items of every dataset with traces: the question with its facts, a training trace and its "
    "answer, balanced across the trace-writing conditions, seeded, with attention checks; versioned by content "
    "(DuckDB tables `rating_item_sets`, `rating_items`). `tracekd ratings serve` shows the newest to participants.",
)
def rating_items(context: AssetExecutionContext, config: RatingItemsConfig, home: TraceKDHome) -> Materialized:
    yield from materialized(context, build_item_sets(home.store(), config.per_condition, config.seed, config.attention_checks))


@asset(
    deps=["rating_items"],
    pool=DUCKDB_POOL,
    group_name="ratings",
    kinds={"duckdb"},
    metadata=table_metadata("ratings"),
    code_version="simulated-panel-1",
    description="SIMULATED ratings of the newest item sets by seeded synthetic raters (stored as panel `simulated`, "
    "never mixed with real ratings), so the analysis and the report can be shown without people.",
)
def simulated_ratings(context: AssetExecutionContext, config: SimulatedPanelConfig, home: TraceKDHome) -> Materialized:
    yield from materialized(context, simulate_panels(home.store(), config.raters, config.seed))


@asset(
    deps=["rating_items", "simulated_ratings"],
    pool=DUCKDB_POOL,
    group_name="ratings",
    kinds={"duckdb", "scipy"},
    metadata=table_metadata("rating_summary", "rating_tests", "rating_participants"),
    code_version="rating-analysis-1",
    description="Likert statistics of the newest item sets, per panel (real and simulated apart): mean, sd and 95% CI "
    "per condition and scale, Krippendorff's alpha, Friedman and Holm-corrected pairwise Wilcoxon tests, attention-check "
    "failures (DuckDB tables `rating_summary`, `rating_tests`, `rating_participants`).",
)
def rating_analysis(context: AssetExecutionContext, home: TraceKDHome) -> Materialized:
    yield from materialized(context, analyse_item_sets(home.store()))
