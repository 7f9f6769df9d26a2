"""The reference study's published numbers, kept as data with their source, for the report's
side-by-side (`data/reference_results.csv`; edit it to add numbers, one row per value)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

REFERENCE_CSV = Path(__file__).parent / "data" / "reference_results.csv"
COLUMNS = ("dataset", "condition", "base_model", "metric", "value", "source")


def reference_results(path: Path = REFERENCE_CSV) -> list[dict[str, Any]]:
    """The rows, validated: every column present and non-empty, values within [0, 1]."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: header must be {','.join(COLUMNS)}; got {','.join(reader.fieldnames or [])}")
        rows = []
        for line, row in enumerate(reader, start=2):
            empty = [c for c in COLUMNS if not (row.get(c) or "").strip()]
            if empty:
                raise ValueError(f"{path}:{line}: empty field {empty[0]}")
            try:
                value = float(row["value"])
            except ValueError:
                raise ValueError(f"{path}:{line}: field value is not a number: {row['value']!r}") from None
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{path}:{line}: field value must be a share in [0, 1]; got {value}")
            rows.append({**row, "value": value})
    return rows
