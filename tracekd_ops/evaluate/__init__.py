"""Evaluation: students generate answers to test questions, each step and the answer is scored,
and a run's metrics and statistics are aggregated.

Owns generation (`generate.py`), step and text-overlap scoring (`scoring.py`), per-run metrics
(`metrics.py`) and the statistics (`stats.py`: 2x2 tables, chi-square, Fisher, phi, bootstrap CIs,
McNemar). Imports `core`, `datasets` (answer rules), `traces` (parsing) and `train` (loading a
saved student); never the registry, the store or Dagster.
"""
