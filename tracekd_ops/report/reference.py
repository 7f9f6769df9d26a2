"""The reference study's published numbers, kept as data with their source, for the report's
side-by-side: accuracies (`data/reference_results.csv`), the human study's mean Likert ratings
(`data/reference_ratings.csv`) and its step x answer 2x2 counts (`data/reference_contingency.csv`).
Edit a file to add numbers, one row per value (per table)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

REFERENCE_CSV = Path(__file__).parent / "data" / "reference_results.csv"
COLUMNS = ("dataset", "condition", "base_model", "metric", "value", "source")
REFERENCE_RATINGS_CSV = Path(__file__).parent / "data" / "reference_ratings.csv"
RATING_COLUMNS = ("condition", "scale", "mean", "source")
REFERENCE_CONTINGENCY_CSV = Path(__file__).parent / "data" / "reference_contingency.csv"
CELLS = ("n_step_ok_answer_ok", "n_step_ok_answer_wrong", "n_step_wrong_answer_ok", "n_step_wrong_answer_wrong")
CONTINGENCY_COLUMNS = ("dataset", "condition", "base_model", "step", *CELLS, "categories", "source")


def _rows(path: Path, columns: tuple[str, ...], numbers: tuple[str, ...], low: float, high: float, meaning: str) -> list[dict[str, Any]]:
    """The rows, validated: every column present and non-empty, each of `numbers` within [low, high]."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != columns:
            raise ValueError(f"{path}: header must be {','.join(columns)}; got {','.join(reader.fieldnames or [])}")
        rows = []
        for line, row in enumerate(reader, start=2):
            empty = [c for c in columns if not (row.get(c) or "").strip()]
            if empty:
                raise ValueError(f"{path}:{line}: empty field {empty[0]}")
            values = {}
            for number in numbers:
                try:
                    values[number] = float(row[number])
                except ValueError:
                    raise ValueError(f"{path}:{line}: field {number} is not a number: {row[number]!r}") from None
                if not low <= values[number] <= high:
                    raise ValueError(f"{path}:{line}: field {number} must be {meaning} in [{low:g}, {high:g}]; got {values[number]}")
            rows.append({**row, **values})
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def reference_results(path: Path = REFERENCE_CSV) -> list[dict[str, Any]]:
    return _rows(path, COLUMNS, ("value",), 0.0, 1.0, "a share")


def reference_ratings(path: Path = REFERENCE_RATINGS_CSV) -> list[dict[str, Any]]:
    return _rows(path, RATING_COLUMNS, ("mean",), 1.0, 5.0, "a 5-point Likert mean")


def reference_contingency(path: Path = REFERENCE_CONTINGENCY_CSV) -> list[dict[str, Any]]:
    """The study's published step x answer counts (whole numbers of questions)."""
    rows = _rows(path, CONTINGENCY_COLUMNS, CELLS, 0.0, 1e9, "a count")
    for line, row in enumerate(rows, start=2):
        if any(row[c] != int(row[c]) for c in CELLS):
            raise ValueError(f"{path}:{line}: the counts must be whole numbers")
    return [{**row, **{c: int(row[c]) for c in CELLS}} for row in rows]
