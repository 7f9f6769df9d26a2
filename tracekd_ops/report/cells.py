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


def terminal_table(rows: Rows, columns: Sequence[tuple[str, str]] | None = None, width: int | None = None) -> str:
    """Rows as a table that fits a terminal `width` columns wide, each value as `fmt` writes it
    ('–' where undefined): values keep their width, headers wrap at their spaces (rich lays it
    out); a table too wide for that is written a row at a time, one line per column, rather than
    cut at the edge. Its lines are Markdown table rows, so the output pastes into a note as it is."""
    if not rows:
        return "(no rows)"
    width = width or 100
    columns = columns or [(key, key) for key in rows[0]]
    cells = [[fmt(row.get(key), key) for key, _ in columns] for row in rows]
    widths = [min(max(max(len(c[k]) for c in cells), max((len(w) for w in label.split()), default=1)), 24) for k, (_, label) in enumerate(columns)]
    if sum(widths) + 3 * len(columns) + 1 <= width:
        return _draw([label for _, label in columns], cells, widths, width)
    blocks = [_draw(["", f"row {n}"], [[label, cell] for (_, label), cell in zip(columns, row)],
                    [max(len(label) for _, label in columns), 10], width)
              for n, row in enumerate(cells, start=1)]  # fmt: skip
    return "\n\n".join(blocks)


def _draw(headers: Sequence[str], cells: Sequence[Sequence[str]], widths: Sequence[int], width: int) -> str:
    import io

    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.MARKDOWN, show_edge=True, pad_edge=True)
    for header, least in zip(headers, widths):
        table.add_column(header, overflow="fold", min_width=least)
    for row in cells:
        table.add_row(*row)
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False, soft_wrap=False)
    console.print(table)
    drawn = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in drawn if line.strip())  # the box's blank top and bottom edges dropped
