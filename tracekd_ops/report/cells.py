"""How one value is written in the report: numbers to three places, "–" where undefined, and
p-values below 0.001 as "< 0.001"; and the plain HTML table every section uses."""

from __future__ import annotations

import html
from typing import Any, Sequence

Rows = Sequence[dict[str, Any]]
P_COLUMNS = frozenset({"p", "chi2_p", "fisher_p", "mcnemar_p", "min_fisher_p", "p_holm"})
"""Columns holding p-values."""


def p_value(value: float | None) -> str:
    if value is None or value != value:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def fmt(value: Any, key: str = "") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if key in P_COLUMNS:
        return p_value(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def html_table(rows: Rows, columns: Sequence[tuple[str, str]]) -> str:
    """Rows as an HTML table, a header cell and a body cell per column, every value escaped."""
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(r.get(key), key))}</td>" for key, _ in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
