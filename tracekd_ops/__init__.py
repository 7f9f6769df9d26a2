"""TraceKD domain library: data, traces, training, evaluation and statistics.

Plain Python with no Dagster import, so every rule here is testable on its own and the
Dagster layer (`tracekd_assets`) stays a thin wiring of these functions.
"""
