"""The Dagster code location: every TraceKD asset, check, job, sensor, schedule and resource,
loaded from the `defs/` folder (the layout `dg` scaffolds and checks; `[tool.dg]` in
pyproject.toml names it).

The tree is built from the module itself rather than by `load_from_defs_folder`, which looks for
pyproject.toml above the package: an installed wheel has none, and must load the same definitions."""

from __future__ import annotations

import warnings
from pathlib import Path

from dagster import BetaWarning, ComponentTree, Definitions, PreviewWarning

from tracekd_assets import defs as defs_module

with warnings.catch_warnings():  # as load_from_defs_folder does: the loader and two APIs TraceKD uses are beta/preview
    warnings.simplefilter("ignore", PreviewWarning)
    warnings.simplefilter("ignore", BetaWarning)
    defs: Definitions = ComponentTree(defs_module=defs_module, project_root=Path(__file__).resolve().parents[1],
                                      code_location_name="tracekd").build_defs()  # fmt: skip

ALL_ASSETS = list(defs.assets or [])
"""Every asset definition (for `materialize` in tests and the demo)."""
