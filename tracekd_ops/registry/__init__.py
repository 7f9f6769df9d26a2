"""The model registry: every trained student becomes an immutable, versioned revision.

Owns the backends (`local.py`: a directory, the default; `hub.py`: the Hugging Face Hub), their
interface (`base.py`), model cards (`card.py`) and the index of registrations in DuckDB
(`index.py`). Imports `core` and `store`; never datasets, traces, training or Dagster.
"""
