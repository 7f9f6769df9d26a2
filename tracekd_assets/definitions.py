"""The Dagster code location: every TraceKD asset, check, job, sensor, schedule and resource,
loaded from the `defs/` folder (the layout `dg` scaffolds and checks; `[tool.dg]` in
pyproject.toml names it)."""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions, load_from_defs_folder

defs: Definitions = load_from_defs_folder(path_within_project=Path(__file__).parent)

ALL_ASSETS = list(defs.assets or [])
"""Every asset definition (for `materialize` in tests and the demo)."""
