"""The steps of the data flow, each composed from the wings: what one Dagster asset (or any other
orchestrator) runs. A step reads its inputs from the store, calls the wings, and writes its
outputs last, in one transaction; it returns an outcome whose `metadata()` the caller shows.

This is the only package that may import every wing; no wing imports it. Assets call one step
each and hold no SQL and no per-dataset or per-condition branch.
"""
