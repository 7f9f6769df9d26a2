"""Traces: what a student learns to write, under each trace condition.

Owns the trace text (render and parse, `render.py`), the conditions and their construction rules
(`conditions.py`, `build.py`), trace sets with their version and record (`trace_set.py`) and their
Great Expectations suites (`validation.py`). Imports `core` and `datasets` (labels, answer and
wrong-fact rules); never teacher, training, storage or Dagster.
"""
