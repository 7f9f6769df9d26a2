"""Every wing's tables in one `Catalog`, and the results store that holds them: the one place that
knows all the tables (a wing declares its own, in its `tables.py`), so the Dagster layer opens the
store here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from tracekd_ops.core import tables as core
from tracekd_ops.core.tables import Catalog
from tracekd_ops.datasets import tables as datasets
from tracekd_ops.evaluate import tables as evaluate
from tracekd_ops.published import tables as published
from tracekd_ops.ratings import tables as ratings
from tracekd_ops.registry import tables as registry
from tracekd_ops.store.lake import LAKE_PREFIX, LakeStore
from tracekd_ops.store.store import Store
from tracekd_ops.teacher import tables as teacher
from tracekd_ops.traces import tables as traces


def shared_meanings(*parts: Mapping[str, str]) -> dict[str, str]:
    """The shared column meanings of core and the wings, refusing a column two of them define
    (it would mean one thing in one wing's tables and another elsewhere)."""
    merged: dict[str, str] = {}
    for part in parts:
        repeated = sorted(set(merged) & set(part))
        if repeated:
            raise ValueError(f"column meaning(s) defined twice: {', '.join(repeated)}")
        merged.update(part)
    return merged


CATALOG = Catalog(
    tables=(*datasets.TABLES, *traces.TABLES, *teacher.TABLES, *registry.TABLES, *evaluate.TABLES, *published.TABLES, *ratings.TABLES),
    meanings=shared_meanings(core.MEANINGS, datasets.MEANINGS, traces.MEANINGS, evaluate.MEANINGS, published.MEANINGS, ratings.MEANINGS),
)
"""Every stored table (a name declared twice fails here, at import)."""


def open_store(location: str | None, home: Path, data_path: str | None = None) -> Store:
    """The results store a setting names, with every table of `CATALOG`: unset, the DuckDB file in
    the home; `ducklake:postgres:…`, a DuckLake with its Parquet under `data_path` (default: `lake/`
    in the home, which on a cluster is the volume every pod mounts)."""
    if not location:
        return Store(home / "tracekd.duckdb", tables=CATALOG)
    if location.startswith(LAKE_PREFIX):
        return LakeStore(location[len(LAKE_PREFIX):], data_path or home / "lake", tables=CATALOG)
    if location.startswith("ducklake:"):
        raise ValueError(f"TRACEKD_STORE: only a Postgres catalog is supported for DuckLake ({LAKE_PREFIX}<libpq string>)")
    return Store(Path(location), tables=CATALOG)
