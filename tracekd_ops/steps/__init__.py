"""The steps of the data flow, each composed from the wings: what one Dagster asset (or any other
orchestrator) runs. A step reads its inputs from the store, calls the wings, and writes its
outputs last, in one transaction; it returns a `StepOutcome` (`outcome.py`), which the caller
shows. The caller resolves a partition's dataset and condition once and hands the step their
`DatasetSpec` and `Condition`, not names to look up again.

This is the only package that may import every wing; no wing imports it. Assets call one step
each and hold no SQL and no per-dataset or per-condition branch.
"""
