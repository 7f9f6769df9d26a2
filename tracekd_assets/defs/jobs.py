"""Asset jobs: what one run materializes, per partition scheme."""

from dagster import AssetSelection, define_asset_job

from tracekd_assets.defs.evaluation.assets import REVISION_TAG

raw_job = define_asset_job(
    "raw_examples_job",
    selection=AssetSelection.assets("raw_examples", "teacher_responses", "base_model_baseline"),
    description="Load (or generate) one dataset's canonical records; ask the teacher about them when one is configured; "
    "evaluate the untuned pretrained base models.",
)
condition_job = define_asset_job(
    "condition_job",
    selection=AssetSelection.assets("traces", "student", "predictions", "metrics"),
    description="Traces -> student -> predictions -> metrics for one dataset x trace condition.",
)
evaluation_job = define_asset_job(
    "evaluation_job",
    selection=AssetSelection.assets("predictions", "metrics"),
    description="Evaluate students of one dataset x condition: the revision named by the run tag "
    f"`{REVISION_TAG}` if set, else the newest registered revision of every student.",
)
report_job = define_asset_job(
    "report_job",
    selection=AssetSelection.groups("sql_models", "ratings") | AssetSelection.assets("reference_results", "report"),
    description="Rebuild the rating items and statistics (simulated panel included), the SQL models and the report from "
    "whatever traces, ratings and metrics are stored.",
)
answer_rules_job = define_asset_job(
    "answer_rules_job",
    selection=AssetSelection.assets("answer_rules"),
    description="Observe one dataset's answer rule version (requested by the answer_rule_changed sensor when it changed).",
)
rating_analysis_job = define_asset_job(
    "rating_analysis_job",
    selection=AssetSelection.assets("rating_analysis"),
    description="Re-analyse the ratings (requested by the new_ratings sensor when people's ratings changed); the SQL models "
    "and the report follow on their own.",
)
published_job = define_asset_job(
    "published_students_job",
    selection=AssetSelection.assets("published_students"),
    description="Import one dataset's published outputs (the `published` resource's sources) as external students.",
)
