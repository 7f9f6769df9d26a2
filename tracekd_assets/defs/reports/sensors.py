"""The SQL models and the report follow the results they are built from: an automation condition
sensor (declarative automation) materializes them whenever an upstream asset was updated, whichever
job or run updated it."""

from dagster import AssetSelection, AutomationConditionSensorDefinition, DefaultSensorStatus

results_follow_upstream = AutomationConditionSensorDefinition(
    name="results_follow_upstream",
    target=AssetSelection.groups("sql_models") | AssetSelection.assets("report"),
    default_status=DefaultSensorStatus.RUNNING,
    description="Rebuilds each SQL model (and then the report) once any table it reads was updated, so what the UI, "
    "DuckDB queries and the report show is never older than the metrics.",
)
