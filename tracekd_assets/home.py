"""Where TraceKD's results live when nobody says: one answer for every entry point (the CLI, the
Dagster code location, plain `dagster dev`), and never the current directory, so that a command run
from wherever the user happens to be does not start a new, empty study there. No Dagster import:
the CLI's light commands (`query`, `snapshot`) use it too."""

from __future__ import annotations

import os
from pathlib import Path

HOME_VARIABLE = "TRACEKD_HOME"
STORE_VARIABLE = "TRACEKD_STORE"
"""Where results are stored when not in the home's DuckDB file: `ducklake:postgres:<libpq string>`."""
STORE_DATA_VARIABLE = "TRACEKD_STORE_DATA_PATH"
"""DuckLake's Parquet folder; unset: lake/ in the home."""
HOME_OF_INSTANCE = "tracekd_home"
"""A file in a Dagster instance's folder naming the TraceKD home its runs write to."""
INSTANCE_OF_HOME = "dagster_home"
"""A file in a TraceKD home naming the Dagster instance its runs are recorded in."""

CHECKOUT = Path(__file__).resolve().parents[1]
HOME_HELP = ("default: $TRACEKD_HOME, else the home of the instance at $DAGSTER_HOME, else var/ of the TraceKD "
             "checkout it runs from, else $XDG_DATA_HOME/tracekd (~/.local/share/tracekd)")  # fmt: skip
"""How `default_home` decides, as the CLI's help says it."""


def default_home() -> str:
    """`$TRACEKD_HOME`; else the home the instance at `$DAGSTER_HOME` was made for (so `dagster dev`
    with only `DAGSTER_HOME` set writes where the runs it shows wrote); else `var/` of the checkout
    this code runs from (what the README's commands use); else the user's data folder (an installed
    package). Absolute, so every step process agrees."""
    if os.environ.get(HOME_VARIABLE):
        return str(Path(os.environ[HOME_VARIABLE]).resolve())
    marker = Path(os.environ.get("DAGSTER_HOME") or "/nonexistent") / HOME_OF_INSTANCE
    if marker.is_file():
        return marker.read_text().strip()
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "tracekd_ops").is_dir():
        return str(CHECKOUT / "var")
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return str((data / "tracekd").resolve())


def lake_store() -> bool:
    """Whether the results live in a DuckLake many writers share (which the pool limits follow)."""
    return os.environ.get(STORE_VARIABLE, "").startswith("ducklake:")

